"""The history file: one SQLite table of events, its schema, and the questions readers ask of it.

One row per event (`Event`), in typed columns a reader can index and a JSON `detail` for the rest:

| kind | mood | playlist, policy | file | outcome | confidence | detail |
| --- | --- | --- | --- | --- | --- | --- |
| `mood` | decided (or `away`) | | | `away`, `back` or "" | smoothed probability | `locked` |
| `switch` | followed | queued, `match`/`uplift` | | | | `why`, `transition` |
| `song` | queued for | queued from, policy | MPD's name | `started` `played` `skipped` `cut` `stopped` | | `elapsed` |
| `lock` | | | | `locked`, `unlocked` | | |
| `privacy` | | | | `on`, `off` | | |
| `error` | | | | | | `message`, `logger` |
| `service` | | | | `start`, `stop` | | |

A song is `played` when it reached its end, `skipped` when a listener moved on (the skip button,
`mpc next`, any client), `cut` when moodbox itself replaced it (a mood switch with `transition:
now`: no verdict on the song), `stopped` when playback stopped mid-song; its detail holds
`elapsed` and `duration` (seconds) and `by`. The partial index `events_song (file, mood, t)`
answers "skips and play-throughs of track X in mood M since T" (`song_outcomes`) without reading
the rest.

The file is recognised before it is touched (SQLite's application id says it is a moodbox
history; anything else is refused, untouched). One of ours that SQLite finds damaged (`PRAGMA
quick_check` at open) is moved aside and a new one started. The schema's version is `user_version`:
a file from a newer moodbox is refused, not rewritten. WAL journal with synchronous=FULL: readers
read while the writer writes, and a commit survives a power cut.
"""

from __future__ import annotations

import errno
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moodbox.base.sqlite_files import Foreign, recognise
from moodbox.base.text import printable

SCHEMA_VERSION = 1
APPLICATION_ID = 0x6D6F6F68  # "mooh": SQLite's header field saying this is a moodbox history (the scan cache: "mood")
SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY,  -- in the order recorded
        t REAL NOT NULL,         -- Unix time, seconds
        kind TEXT NOT NULL,      -- mood, switch, song, lock, privacy, error, service
        mood TEXT,
        playlist TEXT,
        policy TEXT,
        file TEXT,
        outcome TEXT,
        confidence REAL,
        detail TEXT              -- JSON object, NULL when empty
    )
    """,
    "CREATE INDEX IF NOT EXISTS events_t ON events(t)",
    "CREATE INDEX IF NOT EXISTS events_song ON events(file, mood, t) WHERE kind = 'song'",
)
COLUMNS = ("t", "kind", "mood", "playlist", "policy", "file", "outcome", "confidence", "detail")
DAY = 86400.0


class HistoryError(RuntimeError):
    """The history file cannot be used; the message is one line naming the file and the fix."""


@dataclass(frozen=True)
class Event:
    """One thing that happened, as recorded."""

    t: float
    kind: str
    mood: str | None = None
    playlist: str | None = None
    policy: str | None = None
    file: str | None = None
    outcome: str | None = None
    confidence: float | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def row(self) -> tuple[Any, ...]:
        detail = json.dumps(_plain(self.detail), ensure_ascii=False) if self.detail else None
        return (
            self.t,
            self.kind,
            _text(self.mood),
            _text(self.playlist),
            _text(self.policy),
            _text(self.file),
            _text(self.outcome),
            self.confidence,
            detail,
        )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Event:
        t, kind, mood, playlist, policy, file, outcome, confidence, detail = row
        return cls(t, kind, mood, playlist, policy, file, outcome, confidence, json.loads(detail) if detail else {})


def _text(value: str | None) -> str | None:
    """A name as SQLite can store it: one with bytes that are not UTF-8 is kept escaped (`base.text.printable`)."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return printable(value)
    return value


def _plain(detail: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _text(v) if isinstance(v, str) else v for k, v in detail.items()}


class HistoryStore:
    """The history file at `path`, opened for writing (the service's writer thread) or reading (any reader)."""

    def __init__(self, path: Path, write: bool = True) -> None:
        self.path, self.write = Path(path), write
        self.moved_aside: Path | None = None  # where a damaged file went, when one did
        try:
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            ours = self._recognised()
            if not write and not ours:
                raise HistoryError(f"history {self.path} holds no history yet; `moodbox run` records it")
            self._db = self._open()
        except sqlite3.OperationalError as e:  # locked, read-only, cannot open: a person must fix it
            raise self._error(e) from None
        except sqlite3.DatabaseError as e:  # one of ours, damaged: start a new one
            if not ours or not write:
                raise HistoryError(f"history {self.path} is unreadable ({e}); the service starts a new one") from None
            self._move_aside()
            self._db = self._open()
        except OSError as e:
            raise self._error(e) from None

    # ---- opening ------------------------------------------------------------------------------

    def _recognised(self) -> bool:
        """True for a history of ours, False for no file or an empty one; HistoryError for anything else."""
        try:
            ours = recognise(self.path, APPLICATION_ID)
        except Foreign as e:
            raise self._not_ours(e.what) from None
        if ours is False:
            raise self._not_ours("an SQLite database of another program")
        return bool(ours)

    def _not_ours(self, what: str) -> HistoryError:
        return HistoryError(
            f"history.path {self.path} is {what}, not a moodbox history; it was left untouched; point history.path "
            "at a file of its own (the default is /var/lib/moodbox/history.sqlite)"
        )

    def _move_aside(self) -> None:
        aside = self.path.with_name(self.path.name + ".corrupt")
        self.path.replace(aside)
        for suffix in ("-wal", "-shm"):  # the old journal belongs to the damaged file, not to the new one
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        self.moved_aside = aside

    def _open(self) -> sqlite3.Connection:
        if not self.write:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5, check_same_thread=False)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:  # the writer has not made its table yet
                db.close()
                raise HistoryError(f"history {self.path} holds no history yet; `moodbox run` records it")
            if version > SCHEMA_VERSION:
                db.close()
                raise self._newer(version)
            return db
        db = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
        try:
            (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()  # before any write to a damaged file
            if verdict != "ok":
                raise sqlite3.DatabaseError(" ".join(verdict.split()))  # SQLite's report spans lines
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise self._newer(version)
            # The id first, before WAL: written into the file's own header at once, so a reader (or the next
            # start) recognises the file while this writer holds it open. A write: a read-only file fails now.
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # each commit reaches the card: a power cut keeps it
            db.execute("BEGIN")  # the table and its version together: a reader sees both or neither
            for statement in SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.execute("COMMIT")
        except (sqlite3.DatabaseError, HistoryError):
            db.close()
            raise
        return db

    def _newer(self, version: int) -> HistoryError:
        return HistoryError(
            f"history {self.path} was written by a newer moodbox (schema {version}, this one knows {SCHEMA_VERSION}); "
            "upgrade moodbox or point history.path at another file"
        )

    def _error(self, e: Exception) -> HistoryError:
        """Why the history cannot be written, with the fix for that cause."""
        code = getattr(e, "errno", None)
        text = str(e).lower()
        where = self.path.parent
        reason = getattr(e, "strerror", None) or e
        if code == errno.ENOSPC or "disk is full" in text or "disk full" in text:
            return HistoryError(
                f"cannot write the history {self.path}: the disk holding {where} is full; free some space there "
                "(or point history.path at another disk)"
            )
        if code in (errno.EACCES, errno.EPERM, errno.EROFS) or "readonly" in text or "read-only" in text:
            return HistoryError(
                f"cannot write the history {self.path} ({reason}); the service writes it as user moodbox: "
                f"sudo chown -R moodbox: {where}, or point history.path at a writable file"
            )
        return HistoryError(
            f"cannot use the history {self.path} ({reason}); point history.path at a writable file on a healthy disk"
        )

    # ---- writing (the writer thread) ----------------------------------------------------------

    def add(self, events: Iterable[Event]) -> None:
        """Write events in one transaction, committed when this returns."""
        try:
            self._db.execute("BEGIN")
            self._db.executemany(
                f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                (e.row() for e in events),
            )
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise self._error(e) from None

    def prune(self, keep_days: float, now: float) -> int:
        """Drop events older than `keep_days`; the number dropped."""
        try:
            return self._db.execute("DELETE FROM events WHERE t < ?", (now - keep_days * DAY,)).rowcount
        except sqlite3.DatabaseError as e:
            raise self._error(e) from None

    # ---- reading ------------------------------------------------------------------------------

    def events(self, since: float = 0.0, kinds: Iterable[str] = (), limit: int = 10000) -> list[Event]:
        """Events from `since` on, oldest first, of the given kinds (all if none)."""
        kinds = tuple(kinds)
        where = "t >= ?" + (f" AND kind IN ({', '.join('?' * len(kinds))})" if kinds else "")
        rows = self._db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM events WHERE {where} ORDER BY id LIMIT ?", (since, *kinds, limit)
        ).fetchall()
        return [Event.from_row(row) for row in rows]

    def song_outcomes(self, file: str, mood: str | None = None, since: float = 0.0) -> dict[str, int]:
        """How often the song `file` (queued for `mood`, or any) ended each way since `since`: {"skipped": 2, ...}."""
        query = "SELECT outcome, count(*) FROM events WHERE kind = 'song' AND file = ? AND t >= ?"
        args: tuple[Any, ...] = (file, since)
        if mood is not None:
            query = "SELECT outcome, count(*) FROM events WHERE kind = 'song' AND file = ? AND mood = ? AND t >= ?"
            args = (file, mood, since)
        return dict(self._db.execute(query + " GROUP BY outcome", args).fetchall())

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
