"""A live camera read on a thread of its own, so the service loop never waits on a dead camera.

A camera that stops delivering (a loose ribbon, a USB webcam unplugged, a
driver that hangs) blocks its read for as long as it takes to give up, which by
default is as long as systemd's watchdog waits. Reading it here instead lets the
loop take whatever frame is newest with a short timeout and carry on: pinging
the watchdog, answering buttons, showing the LED, while the camera is retried.

Only the newest frame is kept: a frame the loop did not take in time is
replaced, never queued, so what is analysed is always what the camera sees now.
When the camera gives up (`Reconnecting` raises `CameraError` after
`camera.give_up_after`), the next `read` raises that error in the loop.
"""

from __future__ import annotations

import logging
import threading

from moodbox.camera import Frame, FrameSource

log = logging.getLogger(__name__)


class LatestFrame:
    """Wraps a live `FrameSource`: `read` returns the newest frame, or None after `wait` seconds without one."""

    live = True

    def __init__(self, source: FrameSource, wait: float = 0.25) -> None:
        self._source, self._wait = source, wait
        self.fps = source.fps
        self._changed = threading.Condition()
        self._frame: Frame | None = None
        self._error: Exception | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._grab, name="moodbox-camera", daemon=True)
        self._thread.start()

    def _grab(self) -> None:
        try:
            while not self._stopped.is_set():
                frame = self._source.read()
                if frame is not None:
                    self.fps = self._source.fps  # a reopened camera may run at another rate
                    with self._changed:
                        self._frame = frame
                        self._changed.notify_all()
        except Exception as e:  # CameraError after give_up_after; handed to the loop, which ends the run
            with self._changed:
                self._error = e
                self._changed.notify_all()
        finally:
            self._source.close()

    def read(self) -> Frame | None:
        """The newest frame not yet taken, waiting at most `wait` seconds for one; raises once the camera gave up."""
        with self._changed:
            if self._frame is None and self._error is None:
                self._changed.wait(self._wait)
            frame, self._frame = self._frame, None
            if frame is None and self._error is not None:
                raise self._error
        return frame

    def close(self, timeout: float = 1.0) -> None:
        """Stop reading; the camera is released by the reading thread once its current read returns."""
        self._stopped.set()
        stop = getattr(self._source, "stop", None)
        if stop is not None:
            stop()  # cut a reconnect backoff short
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.info("the camera is stuck in a read; it is released when the read returns")
