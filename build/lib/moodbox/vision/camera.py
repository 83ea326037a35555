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

A frame is BGR, or already grey where the source hands out luma alone (the Pi
camera's YUV420 stream; a Motion-JPEG clip, decoded by libjpeg straight to
grey): the vision pipeline needs only grey, so nothing is spent on colour that
is thrown away.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from moodbox.base.native import native_stderr_silenced

# FFmpeg writes its own lines to stderr ("moov atom not found"); our errors say it in one line instead.
# Read when OpenCV first opens a video, so setting it here, before any capture, is in time.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class CameraError(RuntimeError):
    """A source that cannot deliver frames; the message names the source and the fix."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR H×W×3, or grey H×W, uint8
    t: float  # seconds, monotonic within one source


class FrameSource(Protocol):
    """Yields frames until it ends (files) or fails (cameras: raises CameraError)."""

    fps: float
    live: bool

    def read(self) -> Frame | None:
        """The next frame, or None at the end of a file source or a dropped frame of a live one."""

    def close(self) -> None: ...


class VideoFileSource:
    """A video file; frame times come from the file (`index / fps`), not the wall clock.

    A Motion-JPEG clip (every packet one JPEG: our clips, and what USB webcams
    record) is read packet by packet without FFmpeg decoding it: `grab` only
    reads the next packet, `retrieve` decodes the one held straight to grey
    (libjpeg then decodes the luma alone). A frame the rate skips is never
    decoded, and no colour is made only to be thrown away. A packet too damaged
    to decode is skipped, with one warning per clip. Any other codec goes
    through FFmpeg as BGR frames.
    """

    live = False

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise CameraError(f"video file not found: {path}; check camera.source or the path given")
        self.path = path
        self.damaged = 0  # JPEG packets skipped because they could not be decoded
        self._first: np.ndarray | None = None  # the first frame, decoded at opening to tell a JPEG clip
        with native_stderr_silenced():  # OpenCV's AVI parser prints "Unexpected element" for a cut file
            opened = _jpeg_packets(path)
            self._cap, self._first = opened if opened else (cv2.VideoCapture(str(path)), None)
        _refuse_huge_frames(self._cap, path)
        if not self._cap.isOpened():
            raise CameraError(f"cannot decode video {path}; use a file OpenCV/ffmpeg can read (mp4, avi, mkv)")
        self.jpeg = opened is not None  # frames are grey, decoded only when retrieved
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
        self._index = 0

    def read(self) -> Frame | None:
        while (t := self.grab()) is not None:
            if (frame := self.retrieve(t)) is not None:
                return frame
        return None

    def close(self) -> None:
        self._cap.release()
        self._first = None

    def grab(self) -> float | None:
        """Move on one frame without decoding it (Motion-JPEG) or converting it: its time, None at the end."""
        if self._index > 0 or self._first is None:  # else the packet read at opening is the one held
            self._first = None
            if not self._cap.grab():
                return None
        t = self._index / self.fps
        self._index += 1
        return t

    def retrieve(self, t: float) -> Frame | None:
        """The frame just grabbed, at time `t` (what `grab` returned); None if it cannot be decoded."""
        if not self.jpeg:
            ok, image = self._cap.retrieve()
            return Frame(image, t) if ok else None
        grey: np.ndarray | None = self._first
        if grey is not None:
            self._first = None
        else:
            ok, packet = self._cap.retrieve()
            grey = decode_grey(packet) if ok else None
        if grey is None:
            self._skip_damaged(t)
            return None
        return Frame(grey, t)

    def _skip_damaged(self, t: float) -> None:
        self.damaged += 1
        if self.damaged == 1:
            log.warning(
                "%s: the frame at %.2f s is damaged (a JPEG that cannot be decoded); skipping it and any other "
                "damaged frame of this clip",
                self.path,
                t,
            )


JPEG_START = b"\xff\xd8\xff"  # start-of-image marker, then the first segment's marker
DECODE_GREY = cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION  # as FFmpeg: a video frame's EXIF tag is not applied


def decode_grey(packet: np.ndarray) -> np.ndarray | None:
    """A JPEG packet as a grey image (libjpeg decodes only its luma), or None if it is damaged beyond decoding.

    libjpeg prints "Corrupt JPEG data: ..." itself for a damaged one, and still
    returns what it could decode (as FFmpeg's decoder conceals damage); muted
    for the length of the decode. Python's own lines from other threads are not
    lost meanwhile: the CLI writes them to their own copy of the descriptor
    (`native.python_stderr_apart`).
    """
    if packet.size == 0:
        return None
    with native_stderr_silenced():
        try:
            return cv2.imdecode(packet.reshape(-1), DECODE_GREY)
        except cv2.error:
            return None


MAX_FRAME_PIXELS = 50_000_000  # as OPENCV_IO_MAX_IMAGE_PIXELS: a camera's frame is 12 MP at most


def _refuse_huge_frames(cap: cv2.VideoCapture, path: Path) -> None:
    """A clip whose header claims frames larger than any camera's is refused before a frame is decoded.

    FFmpeg decodes a frame to BGR at its full size: 16000x16000 frames (a 15 MB file) took 2.7 GB.
    """
    if not cap.isOpened():
        return
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if width * height > MAX_FRAME_PIXELS:
        cap.release()
        raise CameraError(
            f"video {path} has {width}x{height} frames, larger than any camera's ({MAX_FRAME_PIXELS // 1_000_000} MP "
            "at most); use a clip of camera-sized frames"
        )


def _jpeg_packets(path: Path) -> tuple[cv2.VideoCapture, np.ndarray] | None:
    """The video opened for its raw packets and its first frame decoded, if that packet is a whole JPEG frame.

    OpenCV's raw mode (CAP_PROP_FORMAT -1) hands out each packet as read from
    the container. Any other codec (H.264, MPEG-4, ...), a JPEG that is only a
    field of an interlaced frame, or an OpenCV without FFmpeg: None, and the file
    is opened the usual way.
    """
    try:
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_FORMAT, -1])
    except cv2.error:
        return None
    _refuse_huge_frames(cap, path)  # before the first packet is read, let alone decoded
    if cap.isOpened():
        ok, packet = cap.read()
        if ok and packet is not None and packet.reshape(-1)[:3].tobytes() == JPEG_START:
            grey = decode_grey(packet)
            size = (int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)))
            if grey is not None and grey.shape == size:
                return cap, grey
    cap.release()
    return None


class ImageFolderSource:
    """Every image in a folder, in name order, as frames `1/fps` apart.

    A file that cannot be a frame (empty, a folder or a FIFO named x.png, a
    broken link, unreadable, over-sized or not an image) is skipped with one
    warning. Files that vanish are dropped; a folder that vanishes, or loses
    every image left to show, is a lost source: one CameraError, as for a
    camera that stops.
    """

    live = False
    MAX_BYTES = 50_000_000  # a 640x480 frame is ~0.5 MB; never read a stray huge file into memory

    def __init__(self, folder: Path, fps: float = 10.0) -> None:
        self.folder = folder
        # Plain name strings, joined to a plain string per frame. A stored Path caches its full
        # string the first time it is opened (and pathlib interns the name when one is built), so
        # a listing of Paths grew by ~90 bytes with every frame read: issue 12's 94 B per frame.
        self._names = self._listing()
        if not self._names:
            raise CameraError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}; check the path")
        self.fps = fps
        self._index = 0

    def _listing(self) -> list[str]:
        try:
            return sorted(p.name for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        except OSError as e:
            raise CameraError(
                f"image folder {self.folder} is gone or unreadable ({e.strerror}); check camera.source "
                "or the path given"
            ) from None

    def read(self) -> Frame | None:
        while self._index < len(self._names):
            path = os.path.join(self.folder, self._names[self._index])
            t = self._index / self.fps
            self._index += 1
            image = self._load(path)
            if isinstance(image, np.ndarray):
                return Frame(image, t)
            if image is _VANISHED:
                self._forget_vanished()
            else:
                log.warning("skipping %s: %s", path, image)
        return None

    def _forget_vanished(self) -> None:
        """A file is gone: drop every vanished one, or fail like a lost camera if nothing is left."""
        present = set(self._listing())
        left = [name for name in self._names[self._index :] if name in present]
        gone = len(self._names) - self._index - len(left) + 1
        if not left:
            raise CameraError(
                f"the images in folder {self.folder} vanished while being read; put them back or check camera.source"
            )
        log.warning("%d image(s) vanished from %s; going on with the %d left", gone, self.folder, len(left))
        self._names = self._names[: self._index] + left

    def _load(self, path: str) -> np.ndarray | str:
        """The decoded image, or why it cannot be a frame (_VANISHED when the file is gone)."""
        try:
            # O_NONBLOCK: a FIFO named x.png must not block the frame loop waiting for a writer.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            return "a broken link" if os.path.islink(path) else _VANISHED
        except OSError as e:
            return f"cannot open it ({e.strerror})"
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return "not a regular file"
            if info.st_size == 0:
                return "an empty file"
            if info.st_size > self.MAX_BYTES:
                return f"larger than {self.MAX_BYTES // 1_000_000} MB"
            data = np.frombuffer(os.read(fd, info.st_size), np.uint8)
        except OSError as e:
            return f"cannot read it ({e.strerror})"
        finally:
            os.close(fd)
        if data[:8].tobytes() == PNG_SIGNATURE and data[-12:].tobytes() != PNG_END:
            return "a PNG cut short (still being copied?)"  # checked here: libpng would print its own line
        try:
            with native_stderr_silenced():  # libpng and libjpeg print their own lines about damaged data
                image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        except cv2.error:  # e.g. a header claiming more than OPENCV_IO_MAX_IMAGE_PIXELS
            return "too large or damaged to decode"
        return "not a readable image" if image is None else image

    def close(self) -> None:
        self._index = len(self._names)


_VANISHED = "vanished"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\0\0\0\0IEND\xaeB`\x82"  # the empty IEND chunk every complete PNG ends with


class UsbCamera:
    """A V4L2/USB camera by index, through OpenCV."""

    live = True

    def __init__(self, index: int, size: tuple[int, int] = (640, 480)) -> None:
        if not Path(f"/dev/video{index}").exists():  # asked before OpenCV, which says it in lines of its own
            raise CameraError(f"cannot open camera {index} (/dev/video{index} does not exist); check it is plugged in")
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
    """The Raspberry Pi camera through picamera2 (python3-picamera2 from apt), delivering grey frames.

    The ISP writes a YUV420 "lores" stream beside the main one; its first plane
    (Y, one byte per pixel) is the grey image itself, so a frame costs one copy
    and no colour conversion on the CPU.
    """

    live = True

    def __init__(self, size: tuple[int, int] = (640, 480), fps: float = 30.0) -> None:
        self._width, self._height = size
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise CameraError(
                "picamera2 is not installed; on Raspberry Pi OS: sudo apt install python3-picamera2 "
                "(and create the venv with --system-site-packages)"
            ) from None
        try:
            self._camera = Picamera2()
            config = self._camera.create_video_configuration(
                main={"size": size}, lores={"size": size, "format": "YUV420"}, controls={"FrameRate": fps}
            )
            self._camera.configure(config)
            self._camera.start()
        except (RuntimeError, IndexError, OSError) as e:
            raise CameraError(f"cannot start the Pi camera ({e}); check the ribbon cable and `rpicam-hello`") from None
        self.fps = fps

    def read(self) -> Frame | None:
        request = self._camera.capture_request()
        try:
            yuv = request.make_array("lores")  # a copy: (height * 3/2) rows, Y plane first, maybe padded to a stride
            stamp = request.get_metadata().get("SensorTimestamp")
        finally:
            request.release()
        grey = np.ascontiguousarray(yuv[: self._height, : self._width])
        return Frame(grey, stamp / 1e9 if stamp else time.monotonic())

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
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._open, self.name = open_camera, name
        self._stopped = threading.Event()
        self.give_up_after, self._clock, self._sleep = give_up_after, clock, sleep or self._stopped.wait
        self._source: FrameSource | None = None
        self._last_frame = clock()
        self._backoff = 0.0
        self._last_error = ""
        self._warned = ""  # the failure last logged, until the camera delivers again
        self.fps = 30.0
        self.reconnects = 0

    def read(self) -> Frame | None:
        """The next frame, retrying the camera as long as give_up_after allows; None once `stop` was called."""
        while not self._stopped.is_set():
            frame = self._try_read()
            if frame is not None:
                if self._warned:
                    log.info("camera %s delivers again after %.0f s", self.name, self._clock() - self._last_frame)
                    self._warned = ""
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
        return None

    def stop(self) -> None:
        """Make a `read` on another thread return None soon, cutting its backoff short."""
        self._stopped.set()

    def _try_read(self) -> Frame | None:
        try:
            if self._source is None:
                self._source = self._open()
                self.fps = self._source.fps
                self.reconnects += 1
            frame = self._source.read()
        except (CameraError, RuntimeError, OSError, cv2.error) as e:
            self._warn(str(e))
            self._last_error, frame = str(e), None
        else:
            if frame is None:
                self._warn("no frame")
        if frame is None:
            self.close()
        return frame

    def _warn(self, why: str) -> None:
        if why != self._warned:  # once per outage and cause, not once per retry
            log.warning("camera %s failed (%s); retrying", self.name, why)
            self._warned = why

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
