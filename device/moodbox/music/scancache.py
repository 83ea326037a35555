"""The library scan's memory: what each audio file's analysis found, so a rescan analyses only what changed.

One SQLite row per file, keyed by the folder scanned, the path inside it, the file's size and
mtime and the analysis version: a file that was edited, replaced or analysed by an older analysis
is analysed again, anything else is read back. A file that could not be decoded is remembered as
failed for that size and mtime, so a broken file costs one attempt, not one every night.

Every row is committed as soon as it is written (WAL journal), so Ctrl-C, a power cut or a timer's
timeout loses at most the track in progress and the next scan resumes.

The cache is only a cache, but `library.cache` is a path a person types, so only a file that is
recognisably ours is ever changed: empty, or an SQLite database carrying our application id (or,
from before the id, holding only our `tracks` table). Anything else is refused, untouched. One of
ours that SQLite finds damaged (a bad page on an SD card: `PRAGMA quick_check` at open) is moved
aside and the library scanned afresh. A cache that cannot be written (owned by root after a `sudo`
scan, a full disk) is refused when it is opened, with the true cause, before any track is analysed.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from moodbox.base.sqlite_files import Foreign, recognise

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
APPLICATION_ID = 0x6D6F6F64  # "mood": SQLite's header field that says which program's database this is
OUR_TABLES = {"tracks", "places", "mood_points"}
MIN_FREE_BYTES = 4 << 20  # less free space than this beside the cache: the first rows would not fit
SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    root TEXT NOT NULL,        -- the folder scanned (absolute)
    file TEXT NOT NULL,        -- path inside root, '/'-separated: what MPD calls the song
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    version TEXT NOT NULL,     -- the analysis that produced the row
    evidence TEXT,             -- JSON object of the analysis' numbers; NULL when it failed
    error TEXT,                -- why the file could not be analysed; NULL when it was
    PRIMARY KEY (root, file)
) WITHOUT ROWID
"""


PLACES_SCHEMA = """
CREATE TABLE IF NOT EXISTS places (
    root TEXT NOT NULL,
    file TEXT NOT NULL,
    valence REAL NOT NULL,     -- where the last whole-library scan placed the track, relative to the library
    arousal REAL NOT NULL,
    PRIMARY KEY (root, file)
) WITHOUT ROWID
"""

MOOD_POINTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS mood_points (
    root TEXT NOT NULL,
    playlist TEXT NOT NULL,    -- a moodbox-<mood> playlist whose point the listener's skips moved
    valence REAL NOT NULL,     -- where `moodbox library playlists` last moved it to
    arousal REAL NOT NULL,
    PRIMARY KEY (root, playlist)
) WITHOUT ROWID
"""


def load_evidence(text: str) -> dict[str, float]:
    """A track's stored evidence, its keys shared between tracks (sys.intern).

    Evidence has about 330 keys (50 tags, 200 units of the tagger's penultimate layer, the cues), the
    same for every track: without sharing them a library of 5,000 tracks held 150 MB of key strings
    and dicts in the scan, with them about half, within the library unit's MemoryMax for large libraries.
    """
    return dict(json.loads(text, object_pairs_hook=lambda pairs: {sys.intern(k): v for k, v in pairs}))


class CacheError(RuntimeError):
    """The cache file cannot be opened or written; the message names the file and the fix."""


@dataclass(frozen=True)
class Entry:
    """What the cache holds for one file: evidence, or the reason it failed."""

    evidence: dict[str, float] | None
    error: str | None


class ScanCache:
    """The rows of one scanned folder (`root`) in the cache file at `path`."""

    def __init__(self, path: Path, root: Path, write: bool = True) -> None:
        self.path, self.root, self.write = Path(path), str(root), write
        try:
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._check_space()
            ours = self._recognised()
            self._db = self._open()
        except sqlite3.OperationalError as e:  # locked, read-only, cannot open: a person must fix it
            raise self._error(e) from None
        except sqlite3.DatabaseError as e:  # one of ours, damaged: rebuild it
            if not ours or not write:
                raise CacheError(
                    f"scan cache {self.path} is unreadable ({e}); run `moodbox library scan` to rebuild it"
                ) from None
            self._move_aside(e)
            self._db = self._open()
        except OSError as e:
            raise self._error(e) from None

    def _recognised(self) -> bool:
        """True for a cache of ours (its header says so), False for an empty or new file; CacheError for others."""
        try:
            ours = recognise(self.path, APPLICATION_ID)
        except Foreign as e:
            raise self._not_ours(e.what) from None
        if ours is not False:
            return bool(ours)
        # The id may still be in the WAL (set, not yet checkpointed), or the cache from before the id: ask SQLite.
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            (app_id,) = db.execute("PRAGMA application_id").fetchone()
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError:
            app_id, tables = 0, set()
        finally:
            db.close()
        if app_id != APPLICATION_ID and not ("tracks" in tables and tables <= OUR_TABLES):
            raise self._not_ours("an SQLite database of another program")
        return True

    def _not_ours(self, what: str) -> CacheError:
        return CacheError(
            f"library.cache {self.path} is {what}, not a moodbox scan cache; it was left untouched; point "
            "library.cache at a file of its own (the default is /var/lib/moodbox/library.sqlite)"
        )

    def _check_space(self) -> None:
        free = os.statvfs(self.path.parent)
        if free.f_bavail * free.f_frsize < MIN_FREE_BYTES:
            raise self._error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))

    def _move_aside(self, e: sqlite3.DatabaseError) -> None:
        aside = self.path.with_name(self.path.name + ".corrupt")
        log.warning("scan cache %s is damaged (%s); moved to %s, scanning afresh", self.path, e, aside)
        self.path.replace(aside)
        for suffix in ("-wal", "-shm"):  # the old journal belongs to the damaged file, not to the new one
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # autocommit: one commit per row
        if not self.write:
            return db
        try:
            (verdict,) = db.execute("PRAGMA quick_check(1)").fetchone()  # before any write to a damaged file
            if verdict != "ok":
                raise sqlite3.DatabaseError(" ".join(verdict.split()))  # SQLite's report spans lines
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(SCHEMA)
            db.execute(PLACES_SCHEMA)
            db.execute(MOOD_POINTS_SCHEMA)
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")  # a write: a read-only file fails now
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _error(self, e: Exception) -> CacheError:
        """Why the cache cannot be written, with the fix for that cause (ownership and a full disk differ)."""
        code = getattr(e, "errno", None)
        text = str(e).lower()
        where = self.path.parent
        blocker = next((p for p in (where, *where.parents) if p.exists() and not p.is_dir()), None)
        if code in (errno.ENOTDIR, errno.EEXIST) and blocker is not None:
            return CacheError(
                f"cannot use the scan cache {self.path}: {blocker} is a file, not a folder; point library.cache "
                "into a folder"
            )
        if "unable to open" in text and where.is_dir() and not os.access(where, os.W_OK | os.X_OK):
            code = errno.EACCES  # SQLite's words for a folder moodbox may not write a new file in
        if code == errno.ENOSPC or "disk is full" in text or "disk full" in text:
            return CacheError(
                f"cannot use the scan cache {self.path}: the disk holding {where} is full; free some space there "
                "(or point library.cache at another disk) and run the scan again"
            )
        if code in (errno.EACCES, errno.EPERM, errno.EROFS) or "readonly" in text or "read-only" in text:
            return CacheError(
                f"cannot use the scan cache {self.path}: moodbox may not write it ({getattr(e, 'strerror', None) or e})"
                f"; a scan run with sudo leaves it owned by root: sudo chown -R moodbox: {where}, or point "
                "library.cache at a writable file"
            )
        return CacheError(
            f"cannot use the scan cache {self.path}: {getattr(e, 'strerror', None) or e}; point library.cache at a "
            "writable file on a healthy disk"
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ScanCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def scanning(self) -> Iterator[None]:
        """One scan at a time per cache (the nightly timer and one by hand would analyse the same files twice)."""
        lock = self.path.with_name(self.path.name + ".lock")
        try:  # never truncated, never through a link: the name is beside a path a person typed
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise self._error(e) from None
        with os.fdopen(fd, "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CacheError(
                    f"another library scan is using {self.path}; wait for it to finish "
                    "(systemctl status moodbox-library)"
                ) from None
            yield

    def lookup(self, file: str, size: int, mtime_ns: int, version: str) -> Entry | None:
        """The stored result for this exact file state and analysis version, or None if it must be analysed."""
        try:
            row = self._db.execute(
                "SELECT evidence, error FROM tracks WHERE root=? AND file=? AND size=? AND mtime_ns=? AND version=?",
                (self.root, file, size, mtime_ns, version),
            ).fetchone()
        except sqlite3.DatabaseError as e:
            raise self._unreadable(e) from None
        if row is None:
            return None
        if row[0] is None:
            return Entry(None, row[1])
        evidence = _loads(row[0])
        return None if evidence is None else Entry(evidence, row[1])  # a damaged row is analysed again

    def store(
        self,
        file: str,
        size: int,
        mtime_ns: int,
        version: str,
        evidence: dict[str, float] | None = None,
        error: str | None = None,
    ) -> None:
        """Remember one file's evidence (or why it failed), committed at once."""
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO tracks VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.root, file, size, mtime_ns, version, None if evidence is None else json.dumps(evidence), error),
            )
        except sqlite3.DatabaseError as e:
            raise self._error(e) from None

    def files(self) -> set[str]:
        try:
            return {row[0] for row in self._db.execute("SELECT file FROM tracks WHERE root=?", (self.root,))}
        except sqlite3.DatabaseError as e:
            raise self._unreadable(e) from None

    def forget(self, files: Iterable[str]) -> None:
        """Drop rows of files that left the library."""
        try:
            self._db.executemany("DELETE FROM tracks WHERE root=? AND file=?", ((self.root, f) for f in files))
        except sqlite3.DatabaseError as e:
            raise self._error(e) from None

    def scored(self, version: str) -> dict[str, dict[str, float]]:
        """File -> evidence, for every file the current analysis could read."""
        try:
            rows = self._db.execute(
                "SELECT file, evidence FROM tracks WHERE root=? AND version=? AND evidence IS NOT NULL ORDER BY file",
                (self.root, version),
            ).fetchall()
        except sqlite3.DatabaseError as e:  # damaged: the next scan finds it out at open and rebuilds it
            raise self._unreadable(e) from None
        return {file: found for file, text in rows if (found := _loads(text)) is not None}

    def store_places(self, places: Iterable[tuple[str, float, float]]) -> None:
        """Where a whole-library scan placed each track, replacing the last scan's (read by the web page)."""
        self._replace_points("places", places)

    def places(self) -> dict[str, tuple[float, float]]:
        """File -> (valence, arousal) as the last whole-library scan placed it; {} before the first."""
        return self._read_points("places", "file")

    def store_mood_points(self, points: Mapping[str, tuple[float, float]]) -> None:
        """The mood points the listener's skips moved (playlist -> point), replacing the last (read by the page)."""
        self._replace_points("mood_points", ((name, v, a) for name, (v, a) in points.items()))

    def mood_points(self) -> dict[str, tuple[float, float]]:
        """Playlist -> point, for the moods the listener's skips moved at the last `library playlists`; {} for none."""
        return self._read_points("mood_points", "playlist")

    def _replace_points(self, table: str, rows: Iterable[tuple[str, float, float]]) -> None:
        """This root's (name, valence, arousal) rows of `table` replaced by `rows`."""
        try:
            with self._db:  # one transaction: a reader sees the old rows or the new, never half
                self._db.execute("BEGIN")
                self._db.execute(f"DELETE FROM {table} WHERE root=?", (self.root,))
                self._db.executemany(
                    f"INSERT INTO {table} VALUES (?, ?, ?, ?)", ((self.root, n, v, a) for n, v, a in rows)
                )
        except sqlite3.DatabaseError as e:
            raise self._error(e) from None

    def _read_points(self, table: str, key: str) -> dict[str, tuple[float, float]]:
        """`key` -> (valence, arousal) of this root's rows of `table`; {} when the table is not there yet (a cache
        from before it, or one opened read-only before any write)."""
        try:
            rows = self._db.execute(
                f"SELECT {key}, valence, arousal FROM {table} WHERE root=?", (self.root,)
            ).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return {}
            raise self._unreadable(e) from None
        except sqlite3.DatabaseError as e:
            raise self._unreadable(e) from None
        return {name: (valence, arousal) for name, valence, arousal in rows}

    def evidence(self, files: Iterable[str]) -> dict[str, dict[str, float]]:
        """File -> evidence, whatever analysis wrote it, for these files."""
        wanted = set(files)
        try:
            rows = self._db.execute(
                "SELECT file, evidence FROM tracks WHERE root=? AND evidence IS NOT NULL", (self.root,)
            ).fetchall()
        except sqlite3.DatabaseError as e:
            raise self._unreadable(e) from None
        return {file: found for file, text in rows if file in wanted and (found := _loads(text)) is not None}

    def _unreadable(self, e: sqlite3.DatabaseError) -> CacheError:
        if "no such table" in str(e):  # an empty file: nothing scanned into it yet
            return CacheError(f"scan cache {self.path} holds no scan yet; run `moodbox library scan` first")
        if isinstance(e, sqlite3.OperationalError):  # cannot write or read the file now: full, read-only, locked
            return self._error(e)
        return CacheError(f"scan cache {self.path} is unreadable ({e}); run `moodbox library scan` to rebuild it")


def read_scored(path: Path, root: Path, version: str) -> dict[str, dict[str, float]]:
    """File -> evidence a scan of `root` left in the cache at `path`, opened read-only; CacheError with the fix
    when there is no cache to read."""
    if not path.is_file():
        raise CacheError(f"no scan cache at {path}; run `moodbox library scan` first")
    with ScanCache(path, root, write=False) as cache:
        return cache.scored(version)


def _loads(text: str) -> dict[str, float] | None:
    """A row's evidence; None for a row a damaged page garbled (it is analysed again, not a traceback)."""
    try:
        found = load_evidence(text)
    except (ValueError, TypeError):
        return None
    return found if isinstance(found, dict) else None
