"""Is this file one of ours? Asked before moodbox writes an SQLite file at a path a person typed.

`library.cache` and `history.path` are config values: a typo may name someone's photo database, a
link or a device. Each of our files carries its own application id in SQLite's header (bytes
68-71), so it can be recognised by reading 100 bytes, before SQLite opens (and would write) it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"


class Foreign(Exception):
    """Not a file moodbox may touch; `what` says what it is instead (for the caller's one line)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def recognise(path: Path, application_id: int) -> bool | None:
    """None: nothing there yet (no file, or an empty one); True: its header carries `application_id`; False: an
    SQLite file whose header does not say (another program's, or ours with the id still in its WAL).

    Raises Foreign for a link, a device or a folder, and for a file that is not SQLite at all.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise Foreign("not a regular file")
    if info.st_size == 0:
        return None
    with open(path, "rb") as f:
        header = f.read(100)
    if not header.startswith(SQLITE_MAGIC) or len(header) < 100:
        raise Foreign("not an SQLite database")
    return int.from_bytes(header[68:72], "big") == application_id
