"""One connection to MPD (python-mpd2) that survives restarts, dropped sockets and refusals.

Design notes, from how MPD and python-mpd2 behave in practice:

* There is one way in: `dial` connects to a host and port or to MPD's unix
  socket and sends `mpd.password`. The steering `MpdConnection` and the nightly
  playlist writer (`open_client`) both use it, and both word a refusal with
  `refusal`.
* MPD closes idle client sockets after its `connection_timeout` (60 s by
  default), and a restart drops every client. python-mpd2 then raises
  `ConnectionError("Connection lost while reading line")` on the first call and
  `BrokenPipeError` or "Not connected" on later ones, while still believing it
  is connected. Every command therefore goes through `run`, which on any
  connection error disconnects cleanly, reconnects once at once (the common
  idle-timeout case; also a connection whose command MPD 0.23.12 left
  unanswered on a busy machine while it answered new ones, after `mpd.timeout`),
  and otherwise backs off (0.5 s doubling to 2 s) without ever raising into the
  caller.
* An MPD that is down is said once (a warning), then summarised every
  `SUMMARY_EVERY` seconds ("still unreachable after 20 min (600 attempts)"),
  and its return is said once ("MPD at X is back after 42 s"): a month of a
  switched-off MPD is a few thousand lines, not millions.
* An MPD that takes connections but answers nothing within `mpd.timeout` has
  hung (Debian 12's MPD 0.23.12 can deadlock on a `next` that meets its decoder
  opening the queued song; a stopped process looks the same). Starting it does
  nothing then, so that line says to restart it. A timeout is told from a host
  that is away by one plain TCP connect: the kernel completes it for a process
  that listens, however stuck.
* An MPD that refuses moodbox is a person's to fix, so it is one clear line
  naming the fix, never a traceback: a wrong `mpd.password` (ACK 3), or a
  password or permission missing (ACK 4; checked at each connect with MPD's
  `commands`, which lists what this client may run). `run` never raises for
  it: the line goes to the log, `last_error` and `problem`, `connected` stays
  False (the service shows its error LED) and the connection is retried every
  `RETRY_REFUSED` seconds, in case MPD's configuration is fixed and MPD
  restarted. That is the one refusal policy: an error nobody foresaw, handed in
  through `refused`, is held and retried the same way. `connect()` raises a
  refusal as a `PlayerError`, for `moodbox check` and for a service that wants
  to stop.
* One moodbox per MPD: two would fight over the queue. A steering connection
  subscribes, on each connect, to its own client-to-client channel
  `moodbox:<host>:<pid>:<tag>` (MPD's `subscribe`; it needs no file and works
  across hosts). If another such channel exists when it connects, another
  moodbox steers this MPD: that is `AnotherInstance`, raised by `connect()` and
  otherwise kept as `problem` and retried like a refusal, so the instance that
  was there first keeps the music. A subscription dies with its connection, so
  a crashed instance frees MPD at once (one on a host that lost power, when
  MPD's connection_timeout drops it); our own stale subscription (a socket MPD
  has not noticed is gone yet) carries our own tag and is not a rival.
  `moodbox check` uses `claim=False`: looking is not steering.

An MpdConnection is not thread-safe: one thread owns it and makes every call.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import mpd
from mpd.base import FailureResponseCode

from moodbox.base.errors import Explained

log = logging.getLogger(__name__)

Transition = Literal["after_song", "now"]
AwayAction = Literal["keep", "pause", "stop"]
# A protocol error means the byte stream is out of step: a new connection is the cure, as for a lost one.
CONNECTION_ERRORS = (mpd.ConnectionError, mpd.ProtocolError, OSError, socket.timeout, EOFError)
# What steering needs; MPD's `commands` lists only what this client may run, so a gap is a permission missing.
NEEDED = frozenset(
    {
        "status",
        "currentsong",
        "listplaylists",
        "listplaylistinfo",
        "add",
        "delete",
        "play",
        "pause",
        "stop",
        "next",
        "repeat",
        "random",
    }
)
CHANNEL = "moodbox"  # prefix of each instance's client-to-client channel


class PlayerError(Explained, RuntimeError):
    """MPD is unusable in a way a person must fix (wrong password, missing permission, missing playlist)."""


class AnotherInstance(PlayerError):
    """Another moodbox already steers this MPD."""


class UndecodableReply(RuntimeError):
    """MPD's reply named a file whose name is not UTF-8, which python-mpd2 cannot read.

    python-mpd2 fails in the middle of such a reply and the rest of it is still on the socket, so the
    connection is dropped (the next command opens a new one) before this is raised.
    """


@dataclass(frozen=True)
class MpdSettings:
    """The `mpd:` section of config.yaml."""

    host: str = "localhost"  # host name, or the path of MPD's unix socket
    port: int = field(default=6600, metadata={"min": 1, "max": 65535})
    password: str = ""
    transition: Transition = "after_song"
    away: AwayAction = "keep"
    yield_for: float = field(default=600.0, metadata={"min": 0, "max": 86400})  # seconds to back off from a person
    timeout: float = field(default=5.0, metadata={"min": 0.5, "max": 60})

    @property
    def address(self) -> str:
        """Where MPD is, as log lines and fixes name it: host:port, or the socket's path."""
        return self.host if self.host.startswith("/") else f"{self.host}:{self.port}"


def dial(client: mpd.MPDClient, settings: MpdSettings) -> None:
    """Connect `client` to MPD's host and port or unix socket and send the password: the one way in.

    Raises python-mpd2's errors as they come (CONNECTION_ERRORS, mpd.CommandError for a refusal).
    """
    client.timeout = settings.timeout
    if settings.host.startswith("/"):
        client.connect(settings.host)
    else:
        client.connect(settings.host, settings.port)
    if settings.password:
        client.password(settings.password)


def listens(settings: MpdSettings, timeout: float = 1.0) -> bool:
    """True if something takes a plain connection at MPD's address (a timed-out MPD there has hung, not gone)."""
    try:
        if settings.host.startswith("/"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
                unix.settimeout(timeout)
                unix.connect(settings.host)
        else:
            socket.create_connection((settings.host, settings.port), timeout=timeout).close()
    except OSError:
        return False
    return True


def refusal(error: mpd.CommandError, address: str) -> PlayerError:
    """MPD's refusal of a command as one line naming the fix."""
    if error.errno == FailureResponseCode.PASSWORD:
        return PlayerError(
            f"MPD refused the password in mpd.password ({error.msg}) at {address}; "
            "set mpd.password to the password in MPD's mpd.conf"
        )
    if error.errno == FailureResponseCode.PERMISSION:
        return PlayerError(
            f"MPD at {address} does not let moodbox run {error.command} ({error.msg}); set mpd.password "
            "in the config to MPD's password, or grant read,add,control in MPD's mpd.conf"
        )
    return PlayerError(f"MPD at {address} refused {error.command} ({error.msg})")


RESTART = "it takes connections but has hung: restart it (sudo systemctl restart mpd)"
START = "start it (sudo systemctl start mpd) or fix mpd.host/mpd.port"


def away(address: str, why: str, hung: bool) -> PlayerError:
    """An MPD we cannot use, as one line naming the fix: start one that is away, restart one that has hung."""
    if hung:
        return PlayerError(f"MPD at {address} does not answer ({why}); {RESTART}")
    return PlayerError(f"MPD at {address} is unreachable ({why}); {START}")


def unreachable(settings: MpdSettings, error: BaseException) -> PlayerError:
    """`away` for a connection error: a timeout where MPD's port still takes connections is a hung MPD."""
    hung = isinstance(error, TimeoutError) and listens(settings)
    return away(settings.address, str(error) or type(error).__name__, hung)


def open_client(settings: MpdSettings) -> mpd.MPDClient:
    """A connected client for one job (writing the playlists); PlayerError with the fix if MPD refuses or is away."""
    client = mpd.MPDClient()
    try:
        dial(client, settings)
    except mpd.CommandError as e:
        close_quietly(client)
        raise refusal(e, settings.address) from None
    except CONNECTION_ERRORS as e:
        close_quietly(client)
        raise unreachable(settings, e) from None
    return client


def close_quietly(client: mpd.MPDClient) -> None:
    """Disconnect; a connection already gone is what we wanted anyway."""
    try:
        client.disconnect()
    except (*CONNECTION_ERRORS, mpd.MPDError):
        pass


class MpdConnection:
    """A python-mpd2 client that reconnects by itself and says, once, what keeps MPD from us."""

    RETRY_REFUSED = 30.0  # seconds between tries while MPD refuses us: a person must fix it, no need to hammer
    SUMMARY_EVERY = 600.0  # seconds between "still unreachable" lines while MPD stays away

    def __init__(self, settings: MpdSettings, clock: Callable[[], float] = time.monotonic, claim: bool = True) -> None:
        self.settings, self._clock = settings, clock
        self.claim = claim  # steer MPD alone: refuse to work beside another moodbox (False for `moodbox check`)
        self._client = mpd.MPDClient()
        self._channel = f"{CHANNEL}:{_channel_safe(socket.gethostname())}:{os.getpid()}:{secrets.token_hex(2)}"
        self._connected = False
        self._ever_connected = False
        self.reconnected = False  # set on a reconnection (MPD may have restarted); the user of it clears it
        self._retry_at = 0.0
        self._backoff = 0.0
        self._trouble: _Trouble | None = None  # what keeps MPD from us, since when, how often tried
        self._quiet = False  # inside connect(): failures go to its caller, not the log
        self.last_error = ""  # why MPD is not usable now: the connection error, or the refusal's line; "" if it is
        self.problem: PlayerError | None = None  # set while MPD refuses us (a person must fix it), else None

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def address(self) -> str:
        return self.settings.address

    @property
    def hung(self) -> bool:
        """MPD takes connections but answered nothing within mpd.timeout, the last time we tried."""
        return self._trouble is not None and self._trouble.kind == "hung"

    def unusable(self) -> PlayerError:
        """Why MPD cannot be used now, as one line naming the fix (after a failed connect or command)."""
        if self.problem is not None:
            return self.problem
        return away(self.address, self.last_error or "no answer", self.hung)

    def connect(self) -> bool:
        """Connect now: True on success, False if MPD cannot be reached (retried with backoff later).

        Raises PlayerError (AnotherInstance when another moodbox steers this MPD) when MPD refuses
        us in a way a person must fix; that is also kept in `problem` and retried slowly. Nothing is
        logged here: the caller has the answer (the background retries log what persists).
        """
        self._quiet = True
        try:
            if self._open():
                return True
        finally:
            self._quiet = False
        if self.problem is not None:
            raise self.problem
        return False

    def _open(self) -> bool:
        """Connect, authenticate, check permissions, claim MPD; False (said in the log) if any of it fails."""
        self._drop()
        try:
            dial(self._client, self.settings)
            allowed = set(self._client.commands())
            self._check_permissions(allowed)
            if self.claim and {"channels", "subscribe"} <= allowed:
                self._claim()
        except mpd.CommandError as e:
            self.refused(refusal(e, self.address))
            return False
        except PlayerError as e:
            self.refused(e)
            return False
        except CONNECTION_ERRORS as e:
            self._unreachable(e)
            return False
        self._back()
        return True

    def _check_permissions(self, allowed: set[str]) -> None:
        missing = sorted(NEEDED - allowed)
        if not missing:
            return
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        if self.settings.password:
            raise PlayerError(
                f"MPD at {self.address} does not let the password in mpd.password run {shown}; give it "
                'read,add,control in MPD\'s mpd.conf (password "...@read,add,control")'
            )
        raise PlayerError(
            f"MPD at {self.address} wants a password (it does not let moodbox run {shown} without one); "
            "set mpd.password in the config to MPD's password, or grant read,add,control in its default_permissions"
        )

    def _claim(self) -> None:
        """Subscribe to our channel unless another moodbox has one: then raise AnotherInstance."""
        rivals = self._rivals()
        if not rivals:
            self._client.subscribe(self._channel)
            # Two instances connecting in the same instant both found none: the lowest channel name steers.
            rivals = [r for r in self._rivals() if r < self._channel]
            if not rivals:
                return
        _, host, pid, _ = (rivals[0].split(":") + ["?"] * 4)[:4]
        raise AnotherInstance(
            f"another moodbox (pid {pid} on {host}) already steers MPD at {self.address}; stop it first "
            "(sudo systemctl stop moodbox) or point mpd.host at another MPD"
        )

    def _rivals(self) -> list[str]:
        return sorted(c for c in self._client.channels() if c.startswith(CHANNEL + ":") and c != self._channel)

    def _drop(self) -> None:
        try:
            self._client.disconnect()
        except (*CONNECTION_ERRORS, mpd.MPDError):
            pass
        self._connected = False

    def _unreachable(self, error: BaseException) -> None:
        self._drop()
        self._backoff = min(max(self._backoff * 2, 0.5), 2.0)
        why = str(error) or type(error).__name__
        if isinstance(error, TimeoutError) and (self.hung or listens(self.settings)):  # a full backlog: still hung
            self._troubled("hung", why, f"MPD at {self.address} does not answer ({why})", self._backoff, None)
        else:
            self._troubled("unreachable", why, f"MPD at {self.address} unreachable ({why})", self._backoff, None)

    def refused(self, problem: PlayerError) -> None:
        """Hold off as for a refusal: said once, kept in `problem`, retried every RETRY_REFUSED seconds."""
        self._drop()
        self._troubled(str(problem), str(problem), str(problem), self.RETRY_REFUSED, problem)

    def _troubled(self, kind: str, why: str, what: str, retry_in: float, problem: PlayerError | None) -> None:
        """Note a failed connection: `why` in short, `what` as a line for the log; `kind` tells a new trouble
        from the same one again."""
        now = self._clock()
        self.last_error, self.problem, self._retry_at = why, problem, now + retry_in
        trouble = self._trouble
        if trouble is None or trouble.kind != kind:
            since = trouble.since if trouble is not None else now
            level = logging.WARNING if problem is None else logging.ERROR  # a person must act on a refusal
            trouble = self._trouble = _Trouble(kind, since, retry_in, level)
        else:
            trouble.attempts += 1
        trouble.what, trouble.why = what, why
        if not self._quiet:
            self._say(trouble)

    def _say(self, trouble: _Trouble) -> None:
        """Say a trouble once, then summarise it every SUMMARY_EVERY seconds while it lasts.

        connect() says nothing (its caller hears it); the next background call says it instead.
        """
        if isinstance(self.problem, AnotherInstance):
            return  # kept in `problem`: the run that meets it ends with it in one line; a log line said it twice
        now = self._clock()
        if not trouble.said:
            trouble.said, trouble.next_summary = True, now + self.SUMMARY_EVERY
            if trouble.kind == "hung":
                log.log(trouble.level, "%s; %s; retrying", trouble.what, RESTART)
            elif trouble.kind == "unreachable":
                log.log(
                    trouble.level,
                    "%s; retrying every %.0f s and reporting every %.0f min until it is back; "
                    "start MPD (sudo systemctl start mpd) or fix mpd.host/mpd.port",
                    trouble.what,
                    max(trouble.retry_in, 2.0),
                    self.SUMMARY_EVERY / 60,
                )
            else:
                log.log(trouble.level, "%s (retrying every %.0f s)", trouble.what, trouble.retry_in)
        elif now >= trouble.next_summary:
            trouble.next_summary = now + self.SUMMARY_EVERY
            log.log(
                trouble.level,
                "MPD at %s %s after %s (%d attempts): %s",
                self.address,
                {"unreachable": "still unreachable", "hung": "still not answering"}.get(
                    trouble.kind, "still refusing moodbox"
                ),
                _duration(now - trouble.since),
                trouble.attempts,
                trouble.why,
            )

    def _back(self) -> None:
        trouble = self._trouble
        if trouble is not None and trouble.said:
            again = "is back" if trouble.kind in ("unreachable", "hung") else "lets moodbox steer again"
            log.info("MPD at %s %s after %s", self.address, again, _duration(self._clock() - trouble.since))
        # A reconnection (not the first connection) may find a restarted MPD: poll() looks at it afresh.
        self.reconnected = self._ever_connected
        self._connected, self._ever_connected, self._backoff = True, True, 0.0
        self._trouble, self.last_error, self.problem = None, "", None

    def run(self, command: Callable[[mpd.MPDClient], Any]) -> Any:
        """Run `command(client)`; None if MPD cannot be reached or refuses us.

        A command whose connection fails is run again once, on a new connection, and MPD may have carried out
        the first try: a command must be safe to run twice (moodbox.playback.queue_edits says how each is).
        Raises other CommandErrors, and UndecodableReply for a reply naming a file that is not UTF-8.
        """
        if not self._connected:
            if self._clock() < self._retry_at:
                if self._trouble is not None:
                    self._say(self._trouble)
                return None
            if not self._open():
                return None
        try:
            try:
                return command(self._client)
            except CONNECTION_ERRORS:
                # A socket MPD closed while we were quiet fails on first use: one new connection, one retry.
                if not self._open():
                    return None
                try:
                    return command(self._client)
                except CONNECTION_ERRORS as e:
                    self._unreachable(e)
                    return None
        except mpd.CommandError as e:
            if e.errno not in (FailureResponseCode.PASSWORD, FailureResponseCode.PERMISSION):
                raise
            self.refused(refusal(e, self.address))
            return None
        except UnicodeDecodeError:
            self._drop()
            raise UndecodableReply(f"MPD at {self.address} sent a file or playlist name that is not UTF-8") from None

    def do(self, command: Callable[[mpd.MPDClient], Any]) -> bool:
        """Run a command whose reply carries nothing (python-mpd2 returns None); True if MPD took it."""
        return self.run(lambda c: command(c) or True) is not None

    def status(self) -> dict[str, str] | None:
        return self.run(lambda c: c.status())

    def close(self) -> None:
        self._drop()


class _Trouble:
    """What keeps MPD from us (`kind`, in words `what` and `why`), since when, how often tried, what was said."""

    def __init__(self, kind: str, since: float, retry_in: float, level: int) -> None:
        self.kind, self.since, self.retry_in, self.level, self.attempts = kind, since, retry_in, level, 1
        self.what = self.why = ""
        self.said, self.next_summary = False, 0.0


def _channel_safe(name: str) -> str:
    """MPD channel names take letters, digits and _-. only (':' separates our fields)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name) or "host"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
