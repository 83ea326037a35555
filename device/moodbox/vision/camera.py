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
from pathlib import Path

import cv2
import numpy as np

from moodbox.base.native import native_stderr_silenced
from moodbox.vision.frame import CameraError, Frame, FrameSource
from moodbox.vision.image_folder import ImageFolderSource

# FFmpeg writes its own lines to stderr ("moov atom not found"); our errors say it in one line instead.
# Read when OpenCV first opens a video, so setting it here, before any capture, is in time.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

log = logging.getLogger(__name__)


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
            raise CameraError(_not_a_video(path))
        self.path = path
        self.damaged = 0  # JPEG packets skipped because they could not be decoded
        self.delivered = 0  # frames decoded and handed out
        self._ended = False
        self._first: np.ndarray | None = None  # the first frame, decoded at opening to tell a JPEG clip
        with native_stderr_silenced():  # OpenCV's AVI parser prints "Unexpected element" for a cut file
            opened = _jpeg_packets(path)
            self._cap, self._first = opened if opened else (cv2.VideoCapture(str(path)), None)
        _refuse_huge_frames(self._cap, path)
        if not self._cap.isOpened():
            raise CameraError(f"cannot decode video {path}; use a file OpenCV/ffmpeg can read (mp4, avi, mkv)")
        self.jpeg = opened is not None  # frames are grey, decoded only when retrieved
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
        self.claimed = max(int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)  # what the header says
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
                self._at_end()
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
        self.delivered += 1
        return Frame(grey, t)

    def _at_end(self) -> None:
        """Say how the clip ended if not as a whole clip does: no frame at all is an error, a clip that stops
        well before the frame count its header claims (cut short) one warning. Once."""
        if self._ended:
            return
        self._ended = True
        if self._index == 0:
            raise CameraError(f"video {self.path} holds no frame (empty or cut short); use another clip")
        if self.delivered == 0 and self.damaged:
            raise CameraError(f"none of the {self._index} frames of video {self.path} decodes; use another clip")
        missing = self.claimed - self._index
        if missing >= max(2, self.fps):  # a frame or two short is how some containers count; a second is not
            log.warning(
                "%s ended at %.1f s, %d frames short of the %d its header claims (cut short or damaged); "
                "the rest is not played",
                self.path,
                self._index / self.fps,
                missing,
                self.claimed,
            )

    def _skip_damaged(self, t: float) -> None:
        self.damaged += 1
        if self.damaged == 1:
            log.warning(
                "%s: the frame at %.2f s is damaged (a JPEG that cannot be decoded); skipping it and any other "
                "damaged frame of this clip",
                self.path,
                t,
            )


def _not_a_video(path: Path) -> str:
    """Why a camera.source that names a path is not a video file, in words: missing, unreadable, a FIFO..."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"video file not found: {path}; check camera.source or the path given"
    except OSError as e:
        return f"cannot read video {path} ({e.strerror}); check camera.source and the file's permissions"
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"), (stat.S_ISSOCK, "a socket"))
    kind = next((name for test, name in kinds if test(mode)), "not a regular file")
    camera = " (a V4L2 camera is given by its index: 0 for /dev/video0)" if str(path).startswith("/dev/video") else ""
    return (
        f"camera source {path} is {kind}, not a video file; give a video file, an image folder, a camera index "
        f"or picamera2{camera}"
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


FIRST_WARNING = 5.0  # seconds a camera that has not delivered yet may fail before a line says so


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
        self._delivered = False  # a first frame came: from then on a failure is an outage, said at once
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
                self._last_frame, self._backoff, self._delivered = self._clock(), 0.0, True
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
        # A camera that has not come up yet is said once it keeps failing for FIRST_WARNING s: one that comes up
        # sooner needs no line, and one that gives up sooner (`moodbox watch 9`) is said by its error alone.
        if not self._delivered and self._clock() - self._last_frame < FIRST_WARNING:
            return
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


def _require_picamera2() -> None:
    try:
        import picamera2  # noqa: F401  (python3-picamera2, from apt)
    except ImportError as e:
        raise CameraError(
            f"picamera2 cannot be imported ({e}); on Raspberry Pi OS: sudo apt install python3-picamera2 "
            "(and create the venv with --system-site-packages); elsewhere set camera.source to a camera index or a file"
        ) from None


def open_source(spec: str, fps: float = 10.0, give_up_after: float = 30.0) -> FrameSource:
    """`picamera2`, a device index, a video file or a folder of images."""
    if spec == "picamera2":
        _require_picamera2()  # a missing package is no loose cable: said at once, not after give_up_after
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
