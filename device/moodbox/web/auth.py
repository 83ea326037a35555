"""Who may use the page: one password, stored only as its scrypt hash, sessions with a CSRF token each.

* The password file holds one line, `scrypt$N$r$p$salt$hash` (hashlib.scrypt: memory-hard, so a
  stolen file is slow to guess from), written 0640 (root and the moodbox group) and atomically.
  `tools/install.sh` generates a password, shows it once and stores the hash; `moodbox web
  --set-password` changes it.
* Logins are rate-limited per address (and overall, against many addresses at once): a stranger
  on the LAN gets a handful of guesses a minute, not thousands.
* A session is a random token in an HttpOnly, SameSite=Strict cookie; each has its own CSRF token,
  which every command must carry in a header, so another site cannot make a logged-in browser act.
  Sessions live in memory: a restart of the web process logs everyone out, and nothing secret is
  written to disk.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from moodbox.base.errors import Explained

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # 16 MB and about 50 ms on a Pi 4 per guess
SESSION_DAYS = 30
MAX_SESSIONS = 32
FAILURES_PER_ADDRESS = 5  # wrong passwords from one address ...
FAILURES_OVERALL = 20  # ... and from all addresses together ...
FAILURE_WINDOW_S = 300.0  # ... within this many seconds; then logins wait


class PasswordError(Explained, RuntimeError):
    """The password file is missing, unreadable or not ours; one line with the fix."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.strip().split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def read_hash(path: Path) -> str:
    """The stored hash; PasswordError naming the fix if there is none to use."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise PasswordError(
            f"no web password yet ({path} is missing); set one: sudo moodbox web --set-password"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        why = getattr(e, "strerror", None) or "not text"
        raise PasswordError(
            f"cannot read the web password file {path} ({why}); sudo moodbox web --set-password"
        ) from None
    if not text.startswith("scrypt$") or text.count("$") != 5:
        raise PasswordError(f"{path} does not hold a moodbox password hash; sudo moodbox web --set-password")
    return text


def write_hash(path: Path, password: str) -> None:
    """Store the password's hash only, 0640, replacing the file whole (never a half-written one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o640)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(hash_password(password) + "\n")
            f.flush()
            os.fsync(f.fileno())
        _give_to_moodbox_group(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _give_to_moodbox_group(path: Path) -> None:
    """The web service runs as moodbox: it may read the hash through the group, no one else at all."""
    if os.geteuid() != 0:
        return
    import grp

    with contextlib.suppress(KeyError):  # no moodbox group (a checkout, a test): root's alone
        os.chown(path, 0, grp.getgrnam("moodbox").gr_gid)


@dataclass
class Session:
    csrf: str
    expires: float


class Sessions:
    """Logged-in browsers: token -> Session, at most MAX_SESSIONS (the oldest goes first)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def open(self) -> tuple[str, Session]:
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.pop(next(iter(self._sessions)))
        token = secrets.token_urlsafe(32)
        session = self._sessions[token] = Session(secrets.token_urlsafe(32), self._clock() + SESSION_DAYS * 86400)
        return token, session

    def get(self, token: str | None) -> Session | None:
        session = self._sessions.get(token or "")
        if session is None or session.expires < self._clock():
            self._sessions.pop(token or "", None)
            return None
        return session

    def close(self, token: str | None) -> None:
        self._sessions.pop(token or "", None)


class LoginLimiter:
    """Wrong passwords per address and overall within FAILURE_WINDOW_S; `wait` says how long a login must wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_address: dict[str, deque[float]] = {}
        self._overall: deque[float] = deque()

    def wait(self, address: str) -> float:
        """Seconds before `address` may try again; 0 if it may now."""
        now = self._clock()
        mine = self._recent(self._by_address.get(address, deque()), now)
        everyone = self._recent(self._overall, now)
        waits = [
            q[0] + FAILURE_WINDOW_S - now
            for q, most in ((mine, FAILURES_PER_ADDRESS), (everyone, FAILURES_OVERALL))
            if len(q) >= most
        ]
        return max(waits, default=0.0)

    def failed(self, address: str) -> None:
        now = self._clock()
        if len(self._by_address) > 1000:  # a flood of addresses: forget the oldest, keep the overall count
            self._by_address.pop(next(iter(self._by_address)))
        self._by_address.setdefault(address, deque()).append(now)
        self._overall.append(now)

    def _recent(self, times: deque[float], now: float) -> deque[float]:
        while times and times[0] < now - FAILURE_WINDOW_S:
            times.popleft()
        return times
