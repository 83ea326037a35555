"""Recording the history off the frame loop: `record()` puts an event on a bounded queue and returns.

One thread (`moodbox-history`) owns the file: it opens it (a slow card never delays the start),
prunes it (at start and once a day: `history.keep_days`), and writes what the queue holds in one
transaction at least every `COMMIT_EVERY` seconds, so a power cut or a kill -9 loses at most the
last half second, and readers see each row within a second (WAL: they read while it writes).

`record()` never blocks and never raises: a full queue (the card stalled) drops the event, counts
it and says so once. A history that cannot be used (unwritable, a foreign file, a full disk, a
file from a newer moodbox) is one error line naming the fix; the service carries on without
history, its watchdog fed. A damaged file of ours is moved aside with one warning and a new one
started.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from moodbox.history.settings import HistorySettings
from moodbox.history.store import DAY, Event, HistoryError, HistoryStore

log = logging.getLogger(__name__)


class HistoryWriter:
    """Records events into the history file at `settings.path` on a thread of its own."""

    COMMIT_EVERY = 0.5  # seconds: the most a commit waits for more events (a power cut loses at most this)
    QUEUE_SIZE = 10000  # events waiting to be written; hours of the service's events, minutes of a stalled card
    BATCH = 1000  # events per transaction at most

    def __init__(
        self,
        settings: HistorySettings,
        clock: Callable[[], float] = time.time,
        prune_every: float = DAY,
    ) -> None:
        self.settings, self._clock, self._prune_every = settings, clock, prune_every
        self._queue: queue.Queue[Event] = queue.Queue(maxsize=self.QUEUE_SIZE)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="moodbox-history", daemon=True)
        self.off = not settings.enabled  # nothing is recorded: disabled, or the file cannot be used
        self.problem = ""  # why the history is off, when it failed
        self.dropped = 0  # events dropped because the queue was full
        self.written = 0  # events committed
        self.opened = threading.Event()  # set once the file is open, or has failed

    # ---- any thread, never blocks -------------------------------------------------------------

    def start(self) -> None:
        if self.off:
            self.opened.set()
            return
        self._thread.start()

    def record(self, kind: str, t: float | None = None, **fields: Any) -> None:
        """Queue one event (see `store.Event` for the fields); returns at once, whatever the disk does."""
        if self.off:
            return
        try:
            self._queue.put_nowait(Event(self._clock() if t is None else t, kind, **fields))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                log.warning(
                    "history %s: the disk is not keeping up; events are dropped (and counted) until it does",
                    self.settings.path,
                )

    def close(self, timeout: float = 3.0) -> None:
        """Write what is queued and stop; a thread stuck on a hung disk is left behind (a daemon) after `timeout`."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self.dropped:
            log.warning("history %s: %d events were dropped while the disk lagged", self.settings.path, self.dropped)

    # ---- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            store = HistoryStore(self.settings.path)
        except HistoryError as e:
            self._fail(str(e))
            return
        finally:
            self.opened.set()
        if store.moved_aside is not None:
            log.warning(
                "history %s was damaged; moved to %s and a new history started", self.settings.path, store.moved_aside
            )
        try:
            self._write(store)
        except HistoryError as e:
            self._fail(str(e))
        except Exception as e:  # anything unforeseen: the service carries on without history
            self._fail(f"history {self.settings.path}: {e} ({type(e).__name__}); restart moodbox to try again")
        finally:
            store.close()

    def _write(self, store: HistoryStore) -> None:
        self._prune(store)
        next_prune = time.monotonic() + self._prune_every
        while True:
            batch = self._take()
            if batch:
                store.add(batch)
                self.written += len(batch)
            elif self._stop.is_set():
                return
            if time.monotonic() >= next_prune:
                self._prune(store)
                next_prune = time.monotonic() + self._prune_every

    def _take(self) -> list[Event]:
        """The events to commit together: the first to come (waiting up to a second), and those within COMMIT_EVERY."""
        try:
            batch = [self._queue.get(timeout=0 if self._stop.is_set() else 1.0)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.COMMIT_EVERY
        while len(batch) < self.BATCH:
            left = 0.0 if self._stop.is_set() else deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _prune(self, store: HistoryStore) -> None:
        dropped = store.prune(self.settings.keep_days, self._clock())
        if dropped:
            log.info("history: pruned %d events older than %d days", dropped, self.settings.keep_days)

    def _fail(self, message: str) -> None:
        self.off, self.problem = True, message
        log.error("%s; moodbox carries on without history", message)
        while True:  # what was queued will not be written: let it go
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
