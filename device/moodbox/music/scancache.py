"""The library scan's memory: what each audio file's analysis found, so a rescan analyses only what changed.

One SQLite row per file, keyed by the folder scanned, the path inside it, the file's size and
mtime and the analysis version: a file that was edited, replaced or analysed by an older analysis
is analysed again, anything else is read back. A file that could not be decoded is remembered as
failed for that size and mtime, so a broken file costs one attempt, not one every night.

Every row is committed as soon as it is written (WAL journal), so Ctrl-C, a power cut or a timer's
timeout loses at most the track in progress and the next scan resumes. The cache is only a cache:
a file SQLite cannot read (a corrupt SD card) is moved aside and the library is scanned afresh.
"""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
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


class CacheError(RuntimeError):
    """The cache file cannot be opened or written; the message names the file and the fix."""


@dataclass(frozen=True)
class Entry:
    """What the cache holds for one file: evidence, or the reason it failed."""

    evidence: dict[str, float] | None
    error: str | None


class ScanCache:
    """The rows of one scanned folder (`root`) in the cache file at `path`."""

    MEMORY = Path(":memory:")  # a cache that lasts one run: for a scan that cannot write its cache file

    def __init__(self, path: Path, root: Path, write: bool = True) -> None:
        self.path, self.root, self.write = Path(path), str(root), write
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open()
        except sqlite3.OperationalError as e:  # locked, read-only, cannot open: a person must fix it
            raise self._error(e) from None
        except sqlite3.DatabaseError as e:  # not a database, or a malformed one: rebuild it
            aside = self.path.with_name(self.path.name + ".corrupt")
            log.warning("scan cache %s is unreadable (%s); moved to %s, scanning afresh", self.path, e, aside)
            self.path.replace(aside)
            self._db = self._open()
        except OSError as e:
            raise self._error(e) from None

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # autocommit: one commit per row
        if not self.write:
            return db
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")  # a write: a read-only file fails now
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _error(self, e: Exception) -> CacheError:
        return CacheError(
            f"cannot use the scan cache {self.path}: {getattr(e, 'strerror', None) or e}; run as the user that owns "
            "it (sudo -u moodbox ...) or point library.cache at a writable file"
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
        if self.path == self.MEMORY:
            yield
            return
        try:
            f = open(self.path.with_name(self.path.name + ".lock"), "w")  # noqa: SIM115 (closed by the with below)
        except OSError as e:
            raise self._error(e) from None
        with f:
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
        row = self._db.execute(
            "SELECT evidence, error FROM tracks WHERE root=? AND file=? AND size=? AND mtime_ns=? AND version=?",
            (self.root, file, size, mtime_ns, version),
        ).fetchone()
        if row is None:
            return None
        return Entry(json.loads(row[0]) if row[0] is not None else None, row[1])

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
        return {row[0] for row in self._db.execute("SELECT file FROM tracks WHERE root=?", (self.root,))}

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
        except sqlite3.DatabaseError as e:  # not a cache of ours, or damaged: the next scan rebuilds it
            raise CacheError(
                f"scan cache {self.path} is unreadable ({e}); run `moodbox library scan` to rebuild it"
            ) from None
        return {file: json.loads(evidence) for file, evidence in rows}
