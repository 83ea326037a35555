"""Frame sources: real files through OpenCV; a scripted failing camera for reconnect behaviour
(the Pi camera itself cannot exist here)."""

import time
import tracemalloc

import cv2
import numpy as np
import pytest
from make_clip import make_clip

from conftest import FACES
from moodbox.vision.camera import (
    CameraError,
    Frame,
    ImageFolderSource,
    Reconnecting,
    VideoFileSource,
    frames,
    open_source,
)

FACE = cv2.imread(str(FACES / "happy" / "fer2013_row35200.png"), cv2.IMREAD_GRAYSCALE)


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedCamera:
    """A camera that delivers `good` frames and then fails; opening it may fail too."""

    live = True
    fps = 30.0

    def __init__(self, clock: FakeClock, good: int):
        self.clock, self.good, self.closed = clock, good, False

    def read(self):
        if self.good <= 0:
            return None
        self.good -= 1
        self.clock.now += 1 / 30
        return Frame(np.zeros((4, 4, 3), np.uint8), self.clock.now)

    def close(self):
        self.closed = True


def opener(clock: FakeClock, plan: list):
    """Each open takes the next plan entry: an exception to raise or a frame count to deliver."""
    opened = []

    def open_camera():
        step = plan.pop(0) if plan else 0
        if isinstance(step, Exception):
            raise step
        opened.append(ScriptedCamera(clock, step))
        return opened[-1]

    return open_camera, opened


def test_a_camera_that_fails_to_open_is_retried_with_backoff():
    clock = FakeClock()
    open_camera, _ = opener(clock, [CameraError("busy"), CameraError("busy"), 3])
    cam = Reconnecting(open_camera, "test", give_up_after=30, clock=clock, sleep=clock.sleep)
    got = [cam.read() for _ in range(3)]
    assert all(isinstance(f, Frame) for f in got)
    assert clock.sleeps == [0.25, 0.5]


def test_a_camera_that_stops_delivering_is_reopened_and_recovers():
    clock = FakeClock()
    open_camera, opened = opener(clock, [2, RuntimeError("unplugged"), 5])
    cam = Reconnecting(open_camera, "test", give_up_after=30, clock=clock, sleep=clock.sleep)
    assert sum(cam.read() is not None for _ in range(6)) == 6
    assert opened[0].closed and cam.reconnects == 2


def test_a_dead_camera_gives_up_with_one_clear_error():
    clock = FakeClock()
    open_camera, _ = opener(clock, [1] + [CameraError("gone")] * 100)
    cam = Reconnecting(open_camera, "/dev/video0", give_up_after=10, clock=clock, sleep=clock.sleep)
    cam.read()
    with pytest.raises(CameraError, match=r"/dev/video0 delivered no frame for 10 s \(last error: gone\); check"):
        cam.read()
    assert max(clock.sleeps) <= 5.0  # never waits longer than the backoff cap
    assert clock.now == pytest.approx(10 + 1 / 30, abs=1e-6)


def test_video_file_frames_carry_media_time(tmp_path):
    clip = make_clip(tmp_path / "c.avi", [(FACE, 1)], fps=15)
    source = VideoFileSource(clip)
    times = [f.t for f in frames(source)]
    assert len(times) == 15 and source.fps == 15
    assert times == pytest.approx([i / 15 for i in range(15)])


def test_a_motion_jpeg_clip_is_decoded_by_libjpeg_straight_to_grey(tmp_path):
    """Each packet of our clips is a JPEG: decoded to grey alone, matching FFmpeg's colour decode made grey."""
    clip = make_clip(tmp_path / "c.avi", [(FACE, 1)], fps=15)
    source = VideoFileSource(clip)
    got = list(frames(source))
    assert source.jpeg and len(got) == 15
    assert all(f.image.shape == (480, 640) and f.image.dtype == np.uint8 for f in got)
    ffmpeg = cv2.VideoCapture(str(clip))
    for frame in got:
        ok, bgr = ffmpeg.read()
        assert ok
        difference = cv2.absdiff(frame.image, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        assert difference.max() <= 3 and difference.mean() < 1.5  # both round YCbCr differently; nothing more
    assert not ffmpeg.read()[0]


@pytest.mark.parametrize(("fourcc", "suffix"), [("mp4v", ".mp4"), ("FFV1", ".avi")])
def test_a_clip_of_another_codec_is_decoded_by_ffmpeg_as_before(tmp_path, fourcc, suffix):
    clip = tmp_path / f"c{suffix}"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*fourcc), 15, (640, 480))
    assert writer.isOpened(), fourcc
    scene = cv2.cvtColor(cv2.resize(FACE, (640, 480)), cv2.COLOR_GRAY2BGR)
    for _ in range(15):
        writer.write(scene)
    writer.release()
    source = VideoFileSource(clip)
    got = list(frames(source))
    assert not source.jpeg and source.fps == 15
    assert [f.t for f in got] == pytest.approx([i / 15 for i in range(15)])
    assert all(f.image.shape == (480, 640, 3) for f in got)
    assert cv2.absdiff(got[7].image, scene).mean() < 3


def test_image_folder_skips_unreadable_files(tmp_path):
    for name in ("a.png", "c.png"):
        cv2.imwrite(str(tmp_path / name), FACE)
    (tmp_path / "b.png").write_bytes(b"broken")
    (tmp_path / "notes.txt").write_text("ignored")
    got = list(frames(ImageFolderSource(tmp_path, fps=2)))
    assert [f.t for f in got] == [0.0, 1.0]
    assert got[0].image.shape == (48, 48, 3)


def test_reading_an_image_folder_does_not_grow_python_memory(tmp_path):
    """Issue 12: a listing of Path objects cached each one's string as it was read (~94 B a frame)."""
    cv2.imwrite(str(tmp_path / "face.png"), FACE)
    for i in range(2000):
        (tmp_path / f"frame_{i:06d}.png").hardlink_to(tmp_path / "face.png")
    source = ImageFolderSource(tmp_path)
    tracemalloc.start()
    try:
        for i in range(2001):
            assert source.read() is not None  # dropped at once: one frame held at each measurement
            if i == 200:
                after_warm_up = tracemalloc.get_traced_memory()[0]
        grown = tracemalloc.get_traced_memory()[0] - after_warm_up
    finally:
        tracemalloc.stop()
    assert grown < 1800 * 4, f"{grown} bytes more after 1800 frames"


def test_open_source_picks_the_kind(tmp_path, picamera2):
    cv2.imwrite(str(tmp_path / "a.png"), FACE)
    assert isinstance(open_source(str(tmp_path)), ImageFolderSource)
    assert isinstance(open_source("picamera2"), Reconnecting)
    assert isinstance(open_source("0"), Reconnecting)
    with pytest.raises(CameraError, match="video file not found"):
        open_source(str(tmp_path / "x.mp4"))


def test_picamera2_missing_is_said_at_once_not_retried_as_a_loose_cable(monkeypatch):
    """Issue 21, item 18: a missing package was retried for give_up_after (30 s) and then blamed on the cable."""
    import sys

    monkeypatch.setitem(sys.modules, "picamera2", None)  # as on a machine without python3-picamera2
    with pytest.raises(CameraError) as e:
        open_source("picamera2", give_up_after=30)
    assert "picamera2 cannot be imported" in str(e.value) and "sudo apt install python3-picamera2" in str(e.value)
    assert "cable" not in str(e.value)


# ---- the Pi camera's grey frames, against a stand-in for picamera2 (which needs the Pi's camera stack) ----


class StandInRequest:
    def __init__(self, camera):
        self.camera = camera

    def make_array(self, name):
        """What picamera2 returns for a YUV420 stream: (height * 3/2) rows of `stride` bytes, Y plane first."""
        assert name == "lores", name
        h, w = self.camera.scene.shape
        yuv = np.full((h * 3 // 2, self.camera.stride), 128, np.uint8)
        yuv[:h, :w] = self.camera.scene
        yuv[:h, w:] = 0  # row padding up to the stride
        return yuv

    def get_metadata(self):
        self.camera.frames += 1
        return {"SensorTimestamp": 5_000_000_000 + self.camera.frames * 33_333_333}

    def release(self):
        self.camera.released += 1


class StandInPicamera2:
    """picamera2.Picamera2 as moodbox uses it; serves one grey scene as YUV420."""

    scene = None
    stride = 704  # libcamera pads rows (640 pixels -> 704 bytes here)

    def __init__(self):
        self.frames = self.released = 0
        self.started = self.closed = False
        StandInPicamera2.last = self

    def create_video_configuration(self, main=None, lores=None, controls=None):
        return {"main": main, "lores": lores, "controls": controls}

    def configure(self, config):
        self.config = config

    def start(self):
        self.started = True

    def capture_request(self):
        return StandInRequest(self)

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True


@pytest.fixture
def picamera2(monkeypatch):
    import sys
    import types

    from make_clip import background, compose

    rng = np.random.default_rng(1)
    StandInPicamera2.scene = cv2.cvtColor(compose(FACE, background(rng), rng, face_px=160), cv2.COLOR_BGR2GRAY)
    module = types.ModuleType("picamera2")
    module.Picamera2 = StandInPicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return StandInPicamera2


def test_the_pi_camera_delivers_the_y_plane_of_its_yuv420_lores_stream_as_the_grey_frame(picamera2):
    from moodbox.vision.camera import PiCamera

    camera = PiCamera((640, 480), fps=30)
    stand_in = picamera2.last
    assert stand_in.config["lores"] == {"size": (640, 480), "format": "YUV420"}
    assert stand_in.config["controls"] == {"FrameRate": 30}
    first, second = camera.read(), camera.read()
    assert first.image.ndim == 2 and first.image.shape == (480, 640) and first.image.flags.c_contiguous
    assert np.array_equal(first.image, picamera2.scene)
    assert second.t - first.t == pytest.approx(1 / 30, abs=1e-6)  # the sensor's own timestamps
    assert stand_in.released == 2
    camera.close()
    assert stand_in.closed


def test_a_grey_pi_camera_frame_reads_the_face_as_its_bgr_twin_does(picamera2, model_path):
    from moodbox.vision.camera import PiCamera
    from moodbox.vision.mood import MoodSettings
    from moodbox.vision.pipeline import Vision
    from moodbox.vision.settings import DetectorSettings, ModelSettings

    grey_frame = PiCamera((640, 480)).read()
    bgr_frame = Frame(cv2.cvtColor(grey_frame.image, cv2.COLOR_GRAY2BGR), grey_frame.t)
    settings = (ModelSettings(path=model_path), DetectorSettings(), MoodSettings())
    vision = Vision.from_settings(*settings)
    grey_step = vision.step(grey_frame)
    vision.tracker = Vision.from_settings(*settings).tracker  # fresh tracking state
    bgr_step = vision.step(bgr_frame)
    assert grey_step.box is not None and grey_step.box == bgr_step.box
    assert max(grey_step.probabilities, key=grey_step.probabilities.get) == "happy"
    assert grey_step.probabilities == pytest.approx(bgr_step.probabilities)


# ---- a live camera read on its own thread (moodbox.vision.grabber) ----


class PacedCamera:
    """A camera delivering a frame every `period` seconds of real time, `good` frames, then nothing."""

    live = True
    fps = 200.0

    def __init__(self, good=10**9, period=0.005):
        self.good, self.period, self.delivered = good, period, 0

    def read(self):
        time.sleep(self.period)
        if self.delivered >= self.good:
            return None
        self.delivered += 1
        return Frame(np.zeros((4, 4), np.uint8), time.monotonic())

    def close(self):
        pass


def test_the_camera_thread_reads_a_fresh_frame_only_when_the_loop_asks():
    from moodbox.vision.grabber import LatestFrame

    camera = PacedCamera()
    grabber = LatestFrame(camera)
    try:
        taken, asked = [], []
        for _ in range(5):
            time.sleep(0.05)  # the loop analysing the last frame: the camera is left alone
            asked.append(time.monotonic())
            taken.append(grabber.read())
    finally:
        grabber.close()
    assert all(f is not None for f in taken)
    assert all(f.t >= t for f, t in zip(taken, asked, strict=True))  # a frame taken after the ask, not an old one
    assert camera.delivered == len(taken)  # nothing read, copied or decoded for nothing


def test_a_silent_camera_does_not_hold_the_reader_and_gives_up_with_its_error():
    from moodbox.vision.grabber import LatestFrame

    opened = []

    def open_camera():
        opened.append(PacedCamera(good=1 if not opened else 0))
        return opened[-1]

    grabber = LatestFrame(Reconnecting(open_camera, "/dev/video9", give_up_after=1.0), wait=0.05)
    try:
        reads = []
        deadline = time.monotonic() + 20
        with pytest.raises(CameraError, match=r"/dev/video9 delivered no frame for 1 s"):
            while time.monotonic() < deadline:
                reads.append(grabber.read())
    finally:
        grabber.close()
    assert reads[0] is not None and None in reads  # the reader got its answer while the camera was retried
    assert len(opened) >= 2


def test_closing_cuts_a_reconnect_backoff_short():
    from moodbox.vision.grabber import LatestFrame

    cam = Reconnecting(lambda: PacedCamera(good=0), "test", give_up_after=3600)
    grabber = LatestFrame(cam, wait=0.01)
    time.sleep(0.5)  # the camera is in its backoff now
    grabber.close(timeout=5)
    assert not grabber._thread.is_alive()


def test_a_camera_outage_is_logged_once_and_its_end_too(caplog):
    clock = FakeClock()
    open_camera, _ = opener(clock, [1, CameraError("busy"), CameraError("busy"), CameraError("busy"), 2])
    cam = Reconnecting(open_camera, "/dev/video0", give_up_after=30, clock=clock, sleep=clock.sleep)
    with caplog.at_level("INFO", logger="moodbox.vision.camera"):
        assert all(cam.read() is not None for _ in range(3))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["camera /dev/video0 failed (no frame); retrying", "camera /dev/video0 failed (busy); retrying"]
    assert any("camera /dev/video0 delivers again after" in r.getMessage() for r in caplog.records)


def test_a_missing_usb_camera_is_named_without_asking_opencv():
    from moodbox.vision.camera import UsbCamera

    with pytest.raises(CameraError, match=r"/dev/video77 does not exist"):
        UsbCamera(77)
