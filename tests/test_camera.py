"""Frame sources: real files through OpenCV; a scripted failing camera for reconnect behaviour
(the Pi camera itself cannot exist here)."""

import tracemalloc

import cv2
import numpy as np
import pytest
from make_clip import make_clip

from conftest import FACES
from moodbox.camera import CameraError, Frame, ImageFolderSource, Reconnecting, VideoFileSource, frames, open_source

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


def test_open_source_picks_the_kind(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), FACE)
    assert isinstance(open_source(str(tmp_path)), ImageFolderSource)
    assert isinstance(open_source("picamera2"), Reconnecting)
    assert isinstance(open_source("0"), Reconnecting)
    with pytest.raises(CameraError, match="video file not found"):
        open_source(str(tmp_path / "x.mp4"))


def test_picamera2_missing_is_a_clear_error_after_the_grace_time():
    clock = FakeClock()
    cam = open_source("picamera2", give_up_after=2)
    assert isinstance(cam, Reconnecting)
    cam._clock, cam._sleep, cam._last_frame = clock, clock.sleep, 0.0
    with pytest.raises(CameraError, match=r"delivered no frame for 2 s \(last error: picamera2 is not installed"):
        cam.read()
