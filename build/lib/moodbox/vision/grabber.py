"""A live camera read on a thread of its own, so the service loop never waits on a dead camera.

A camera that stops delivering (a loose ribbon, a USB webcam unplugged, a
driver that hangs) blocks its read for as long as it takes to give up, which by
default is as long as systemd's watchdog waits. Reading it here instead lets the
loop wait for a frame a short while at most and carry on: pinging the watchdog,
answering buttons, showing the LED, while the camera is retried.

The camera is read when the loop asks for a frame, not at the camera's own
rate: frames the loop would drop are never copied or decoded (a USB webcam's
MJPEG, for one, costs a decode per frame). The frame is the one the camera hands
out next: the Pi camera's next frame; a USB camera's oldest of the few its
driver buffers, a fraction of a second old at most, which a mood decided over
seconds does not notice. This thread holds at most one frame, never a queue. When the camera
gives up (`Reconnecting` raises `CameraError` after `camera.give_up_after`),
the next `read` raises that error in the loop.
"""

from __future__ import annotations

import logging
import threading

from moodbox.vision.camera import Frame, FrameSource

log = logging.getLogger(__name__)


class LatestFrame:
    """Wraps a live `FrameSource`: `read` asks for the next frame and returns None if none came within `wait` s."""

    live = True

    def __init__(self, source: FrameSource, wait: float = 0.25) -> None:
        self._source, self._wait = source, wait
        self.fps = source.fps
        self._changed = threading.Condition()
        self._wanted = False
        self._frame: Frame | None = None
        self._error: Exception | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._grab, name="moodbox-camera", daemon=True)
        self._thread.start()

    def _grab(self) -> None:
        try:
            while self._next_wanted():
                frame = self._source.read()  # may take until give_up_after on a dead camera: that is why it is here
                self.fps = self._source.fps  # a reopened camera may run at another rate
                with self._changed:
                    self._frame = frame if frame is not None else self._frame
                    self._wanted = self._wanted and frame is None
                    self._changed.notify_all()
        except Exception as e:  # CameraError after give_up_after; handed to the loop, which ends the run
            with self._changed:
                self._error = e
                self._changed.notify_all()
        finally:
            self._source.close()

    def _next_wanted(self) -> bool:
        with self._changed:
            self._changed.wait_for(lambda: self._wanted or self._stopped)
            return not self._stopped

    def read(self) -> Frame | None:
        """A new frame, waiting at most `wait` seconds for one; raises once the camera gave up."""
        with self._changed:
            if self._frame is None and self._error is None:
                self._wanted = True
                self._changed.notify_all()
                self._changed.wait_for(lambda: self._frame is not None or self._error is not None, self._wait)
            frame, self._frame = self._frame, None
            if frame is None and self._error is not None:
                raise self._error
        return frame

    def close(self, timeout: float = 0.5) -> None:
        """Stop reading; the camera is released by the reading thread once its current read returns (a camera
        stuck in a read is left to its daemon thread after `timeout`, so SIGTERM is not held up)."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
        stop = getattr(self._source, "stop", None)
        if stop is not None:
            stop()  # cut a reconnect backoff short
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.info("the camera is stuck in a read; it is released when the read returns")
