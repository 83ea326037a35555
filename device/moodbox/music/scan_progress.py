"""How far the library scan is, in a small file beside its cache, for the web page; and a request to scan now.

The scan runs as its own unit at night; the page is another process. The scan writes
`scan-progress.json` (replaced whole, at most every few seconds: a reader never sees half of it),
and the page asks for a scan by touching `scan-request`, which `moodbox-library.path` watches to
start the scan unit: no process needs more rights than to write in moodbox's state folder.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EVERY = 2.0  # seconds between writes while tracks are analysed
STALE = 300.0  # a file not rewritten for this long while "scanning" was left by a scan that was stopped


def progress_path(cache: Path) -> Path:
    return cache.with_name("scan-progress.json")


def request_path(cache: Path) -> Path:
    return cache.with_name("scan-request")


class ProgressFile:
    """Writes the scan's progress: `update` often (it writes every EVERY seconds), `finish` once."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path, self._clock = path, clock
        self._written = -1e9
        self._started = clock()

    def update(self, done: int, total: int) -> None:
        now = self._clock()
        if now - self._written < EVERY and done not in (0, total):
            return
        self._written = now
        eta = (now - self._started) / done * (total - done) if done else None
        self._write({"state": "scanning", "done": done, "total": total, "started": self._started, "eta_s": eta})

    def finish(self, tracks: int) -> None:
        self._write({"state": "done", "tracks": tracks, "started": self._started, "finished": self._clock()})

    def _write(self, progress: dict[str, Any]) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            temporary.write_text(json.dumps(progress))
            os.replace(temporary, self.path)
        except OSError:  # the page's view of the scan is not worth failing the scan for
            temporary.unlink(missing_ok=True)


def read_progress(path: Path, now: float | None = None) -> dict[str, Any]:
    """What the last or running scan said; {"state": "never"} before any, "stopped" for one left mid-way."""
    try:
        progress = json.loads(path.read_text())
        written = path.stat().st_mtime
    except (OSError, ValueError):
        return {"state": "never"}
    if not isinstance(progress, dict):
        return {"state": "never"}
    now = time.time() if now is None else now
    if progress.get("state") == "scanning" and now - written > STALE:
        progress["state"] = "stopped"
    return progress


def request_scan(cache: Path) -> None:
    """Ask for a scan now: `moodbox-library.path` starts the scan unit when this file changes."""
    request_path(cache).write_text(f"{time.time():.0f}\n")
