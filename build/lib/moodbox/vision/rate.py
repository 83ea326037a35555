"""How many frames a second are analysed: moods are decided over seconds, the camera runs at 30 fps.

Finding a face and reading its expression costs a few milliseconds a frame; a
Pi core doing that for every frame of a 30 fps camera all day is a warm Pi for
nothing, because the mood engine smooths and dwells over seconds. So frames are
analysed on a steady grid of `1 / analyse_fps` seconds: the newest frame at
each grid point is taken and the ones in between are dropped, never queued.

`AnalysisRate` is pure: time comes in with each call, the media time of a file (so a
clip decides the same at any playback speed) or the monotonic clock for a live
camera, so it is tested without a camera or a clock. `Sampler` applies it to a frame
source.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from moodbox.vision.camera import Frame, FrameSource, Pacer

EPSILON = 1e-6  # frame times such as i / 15 are not exact in floating point


class AnalysisRate:
    """Says which frames to analyse so that at most `fps` are, evenly spaced in time."""

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"analysis rate must be above 0 frames a second, got {fps!r}")
        self.interval = 1.0 / fps
        self._next: float | None = None  # the next grid point

    def due(self, t: float) -> bool:
        """Whether the frame at time `t` is analysed; a True moves the grid on."""
        if self._next is not None and t < self._next - EPSILON:
            return False
        if self._next is None or t - self._next >= self.interval:
            self._next = t + self.interval  # first frame, or a gap (a paused source): start the grid afresh
        else:
            self._next += self.interval  # stay on the grid: a 10 fps camera gives 8 a second, not 5
        return True

    def wait(self, t: float) -> float:
        """Seconds from `t` until the next frame is due (0 when one is due now)."""
        return 0.0 if self._next is None else max(self._next - t - EPSILON, 0.0)

    def reset(self) -> None:
        """A new source: its times start afresh."""
        self._next = None


@runtime_checkable
class Grabbing(Protocol):
    """A file source that can move past a frame without decoding it (VideoFileSource: a Motion-JPEG clip's
    skipped packets are only read) and decode the frame it holds once that frame is due."""

    def grab(self) -> float | None: ...

    def retrieve(self, t: float) -> Frame | None: ...


class Sampler:
    """The frames of a source that get analysed, at `rate`; files in real time at their own media times.

    * a live source (a `LatestFrame`): wait until the next grid point on the
      clock, then ask for the camera's next frame; None when none came in time.
    * a file: frames between grid points of its media time are skipped (grabbed
      without decoding where the source can), the one taken is decoded and held
      back to its time by `Pacer`; a frame too damaged to decode is passed over;
      None and `ended` at its end.
    """

    def __init__(
        self,
        source: FrameSource,
        rate: AnalysisRate,
        wait: Callable[[float], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source, self.rate, self._wait, self._clock = source, rate, wait, clock
        self._pace = Pacer(wait=wait)
        # Asked once: a runtime Protocol check costs 0.1 ms, and there are 15 to 30 frames a second.
        self._grabber: Grabbing | None = source if isinstance(source, Grabbing) else None
        self.ended = False
        rate.reset()

    def next(self) -> Frame | None:
        if self.source.live:
            return self._newest()
        frame = self._next_due()
        if frame is None:
            self.ended = True
        else:
            self._pace(frame)
        return frame

    def _newest(self) -> Frame | None:
        delay = self.rate.wait(self._clock())
        if delay > 0:
            self._wait(delay)
        frame = self.source.read()
        if frame is not None:
            self.rate.due(self._clock())
        return frame

    def _next_due(self) -> Frame | None:
        source, grabber = self.source, self._grabber
        while True:
            if grabber is not None:
                t = grabber.grab()
                if t is None:
                    return None
                if self.rate.due(t) and (frame := grabber.retrieve(t)) is not None:
                    return frame
            else:
                frame = source.read()
                if frame is None or self.rate.due(frame.t):
                    return frame
