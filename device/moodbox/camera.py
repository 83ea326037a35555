"""Frame sources behind one interface, each frame stamped with a monotonic time in seconds.

* `picamera2`: the Raspberry Pi camera (imported only when used), stamped with
  the sensor's own timestamp;
* a device index (`0`): a V4L2/USB camera through OpenCV;
* a video file: stamped with its media time, so a clip decides the same at any
  processing speed;
* a folder of images: one frame per image at `fps`.

Live cameras are wrapped in `Reconnecting`: a camera that fails or stops
delivering is reopened with backoff, and after `give_up_after` seconds without
a frame it raises one clear `CameraError`. Frames live only in memory.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

# FFmpeg writes its own lines to stderr ("moov atom not found"); our errors say it in one line instead.
# Read when OpenCV first opens a video, so setting it here, before any capture, is in time.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class CameraError(RuntimeError):
    """A source that cannot deliver frames; the message names the source and the fix."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR, H×W×3 uint8
    t: float  # seconds, monotonic within one source


class FrameSource(Protocol):
    """Yields frames until it ends (files) or fails (cameras: raises CameraError)."""

    fps: float
    live: bool

    def read(self) -> Frame | None:
        """The next frame, or None at the end of a file source or a dropped frame of a live one."""

    def close(self) -> None: ...


class VideoFileSource:
    """A video file decoded by OpenCV; frame times come from the file, not the wall clock."""

    live = False

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise CameraError(f"video file not found: {path}; check camera.source or the path given")
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise CameraError(f"cannot decode video {path}; use a file OpenCV/ffmpeg can read (mp4, avi, mkv)")
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
        self._index = 0

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok:
            return None
        t = self._index / self.fps
        self._index += 1
        return Frame(image, t)

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource:
    """Every image in a folder, in name order, as frames `1/fps` apart."""

    live = False

    def __init__(self, folder: Path, fps: float = 10.0) -> None:
        self.folder = folder
        # Plain name strings, joined to a plain string per frame. A stored Path caches its full
        # string the first time it is opened (and pathlib interns the name when one is built), so
        # a listing of Paths grew by ~90 bytes with every frame read: issue 12's 94 B per frame.
        self._names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._names:
            raise CameraError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}; check the path")
        self.fps = fps
        self._index = 0

    def read(self) -> Frame | None:
        while self._index < len(self._names):
            path = os.path.join(self.folder, self._names[self._index])
            t = self._index / self.fps
            self._index += 1
            image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
            if image is not None:
                return Frame(image, t)
            log.warning("skipping %s: not a readable image", path)
        return None

    def close(self) -> None:
        self._index = len(self._names)


class UsbCamera:
    """A V4L2/USB camera by index, through OpenCV."""

    live = True

    def __init__(self, index: int, size: tuple[int, int] = (640, 480)) -> None:
        self._cap = cv2.VideoCapture(index, cv2.CAP_V4L2)
        if not self._cap.isOpened():
            raise CameraError(f"cannot open camera {index} (/dev/video{index}); check it is plugged in and not in use")
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, size[0])
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size[1])
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 30.0

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        return Frame(image, time.monotonic()) if ok else None

    def close(self) -> None:
        self._cap.release()


class PiCamera:
    """The Raspberry Pi camera through picamera2 (python3-picamera2 from apt)."""

    live = True

    def __init__(self, size: tuple[int, int] = (640, 480), fps: float = 30.0) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise CameraError(
                "picamera2 is not installed; on Raspberry Pi OS: sudo apt install python3-picamera2 "
                "(and create the venv with --system-site-packages)"
            ) from None
        try:
            self._camera = Picamera2()
            # "RGB888" is laid out B, G, R in memory: what OpenCV calls BGR.
            config = self._camera.create_video_configuration(
                main={"size": size, "format": "RGB888"}, controls={"FrameRate": fps}
            )
            self._camera.configure(config)
            self._camera.start()
        except (RuntimeError, IndexError, OSError) as e:
            raise CameraError(f"cannot start the Pi camera ({e}); check the ribbon cable and `rpicam-hello`") from None
        self.fps = fps

    def read(self) -> Frame | None:
        request = self._camera.capture_request()
        try:
            image = request.make_array("main")
            stamp = request.get_metadata().get("SensorTimestamp")
        finally:
            request.release()
        return Frame(image, stamp / 1e9 if stamp else time.monotonic())

    def close(self) -> None:
        self._camera.stop()
        self._camera.close()


class Reconnecting:
    """Keeps a live camera delivering: reopens it with backoff, gives up with one clear error."""

    live = True

    def __init__(
        self,
        open_camera: Callable[[], FrameSource],
        name: str,
        give_up_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._open, self.name = open_camera, name
        self.give_up_after, self._clock, self._sleep = give_up_after, clock, sleep
        self._source: FrameSource | None = None
        self._last_frame = clock()
        self._backoff = 0.0
        self._last_error = ""
        self.fps = 30.0
        self.reconnects = 0

    def read(self) -> Frame | None:
        while True:
            frame = self._try_read()
            if frame is not None:
                self._last_frame, self._backoff = self._clock(), 0.0
                return frame
            silent = self._clock() - self._last_frame
            if silent >= self.give_up_after:
                self.close()
                why = f" (last error: {self._last_error})" if self._last_error else ""
                raise CameraError(
                    f"camera {self.name} delivered no frame for {silent:.0f} s{why}; check its cable and that no "
                    "other program uses it, then restart moodbox"
                )
            self._backoff = min(max(self._backoff * 2, 0.25), 5.0)
            self._sleep(min(self._backoff, max(self.give_up_after - silent, 0.0)))

    def _try_read(self) -> Frame | None:
        try:
            if self._source is None:
                self._source = self._open()
                self.fps = self._source.fps
                self.reconnects += 1
            frame = self._source.read()
        except (CameraError, RuntimeError, OSError, cv2.error) as e:
            log.warning("camera %s failed (%s); retrying", self.name, e)
            self._last_error, frame = str(e), None
        if frame is None:
            self.close()
        return frame

    def close(self) -> None:
        if self._source is not None:
            try:
                self._source.close()
            except (RuntimeError, OSError, cv2.error):
                log.debug("camera %s did not close cleanly", self.name)
            self._source = None


def open_source(spec: str, fps: float = 10.0, give_up_after: float = 30.0) -> FrameSource:
    """`picamera2`, a device index, a video file or a folder of images."""
    if spec == "picamera2":
        return Reconnecting(PiCamera, "picamera2", give_up_after)
    if spec.isdigit():
        index = int(spec)
        return Reconnecting(lambda: UsbCamera(index), f"/dev/video{index}", give_up_after)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, fps)
    return VideoFileSource(path)


class Pacer:
    """Holds frames of a file back to their own timestamps, so a clip plays in real time."""

    def __init__(self, wait: Callable[[float], object] = time.sleep) -> None:
        self._wait = wait
        self._first_t: float | None = None
        self._started = 0.0

    def __call__(self, frame: Frame) -> None:
        if self._first_t is None:
            self._first_t, self._started = frame.t, time.monotonic()
            return
        delay = (frame.t - self._first_t) - (time.monotonic() - self._started)
        if delay > 0:
            self._wait(delay)


def frames(source: FrameSource) -> Iterator[Frame]:
    """Iterate a file source to its end (a live source runs until it raises)."""
    while (frame := source.read()) is not None:
        yield frame
