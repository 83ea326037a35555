"""`moodbox run` end to end: a clip of real faces, the real model, and a real MPD."""

import os
import socket
import subprocess
import sys
import threading
import time

import cv2
import pytest
from make_clip import make_clip
from test_camera import picamera2  # noqa: F401 (a fixture: the stand-in picamera2 module)

from conftest import FACES, ROOT, wait_for
from moodbox.history.store import HistoryStore

NEUTRAL = FACES / "neutral" / "fer2013_row34903.png"
HAPPY = FACES / "happy" / "fer2013_row35200.png"
SAD = FACES / "sad" / "fer2013_row34233.png"


def grey(path):
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def write_config(tmp_path, server, source, extra=""):
    cfg = tmp_path / "moodbox.yaml"
    cfg.write_text(
        f"camera:\n  source: {source}\n"
        f"mpd:\n  host: 127.0.0.1\n  port: {server.port}\n  transition: now\n"
        f"model:\n  path: {ROOT / 'models' / 'emotion.tflite'}\n"
        f"history:\n  path: {tmp_path / 'history.sqlite'}\n{extra}"
    )
    return cfg


def start(cfg, env=None):
    return subprocess.Popen(
        [sys.executable, "-m", "moodbox", "--config", str(cfg), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONFAULTHANDLER": "1", **(env or {})},  # SIGABRT prints every thread's stack
    )


def moodbox(cfg, *args):
    command = [sys.executable, "-m", "moodbox", "--config", str(cfg), *args]
    return subprocess.run(command, capture_output=True, text=True)


class Listener(threading.Thread):
    """Records which mood folder MPD plays from, as the music changes."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.moods, self.done = server, [], threading.Event()

    def run(self):
        client = None
        while not self.done.is_set():
            try:
                client = client or self.server.client()
                song = client.currentsong().get("file", "") if client.status()["state"] == "play" else ""
            except Exception:  # MPD down (restart test): keep listening
                client = None
                song = ""
            mood = song.split("/")[0]
            if mood and (not self.moods or self.moods[-1] != mood):
                self.moods.append(mood)
            time.sleep(0.1)


def test_a_clip_going_neutral_happy_sad_plays_those_playlists_in_order(tmp_path, mpd_server):
    clip = make_clip(tmp_path / "c.avi", [(grey(NEUTRAL), 10), (grey(HAPPY), 10), (grey(SAD), 10)])
    listener = Listener(mpd_server)
    listener.start()
    proc = start(write_config(tmp_path, mpd_server, clip))
    out, _ = proc.communicate(timeout=120)
    listener.done.set()
    listener.join()
    assert proc.returncode == 0, out
    assert listener.moods == ["neutral", "happy", "sad"], out
    assert "Traceback" not in out
    with HistoryStore(tmp_path / "history.sqlite", write=False) as history:  # and the run is in its history
        events = history.events()
    # The frame loop's decisions all; the player's switches and songs up to the end of the run (a switch the player
    # thread makes while the service closes is left to it, unrecorded).
    assert [e.mood for e in events if e.kind == "mood"][:3] == ["neutral", "happy", "sad"], (out, events)
    assert [e.mood for e in events if e.kind == "switch"][:2] == ["neutral", "happy"], (out, events)
    assert {"neutral", "happy"} <= {e.mood for e in events if e.kind == "song"}, (out, events)
    assert [e.outcome for e in events if e.kind == "service"] == ["start", "stop"], (out, events)


def test_mpd_killed_and_restarted_mid_run(tmp_path, mpd_server):
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 25)])
    proc = start(write_config(tmp_path, mpd_server, clip))
    try:
        assert wait_for(lambda: mpd_server.current_file().startswith("happy/"), timeout=20), "never played"
        mpd_server.kill()
        time.sleep(2)
        assert proc.poll() is None, "moodbox died with MPD"
        mpd_server.start()
        back = time.monotonic()

        def happy_again():
            c = mpd_server.client()
            try:
                return c.status()["state"] == "play" and c.currentsong().get("file", "").startswith("happy/")
            finally:
                c.disconnect()

        assert wait_for(happy_again, timeout=5), "moodbox did not resume control within 5 s"
        assert time.monotonic() - back < 5
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "unreachable" in out and "Traceback" not in out


def test_sigterm_stops_cleanly_and_systemd_hears_ready_watchdog_and_status(tmp_path, mpd_server):
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 30)])
    sock_path = tmp_path / "notify.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(sock_path))
    notify.settimeout(20)
    env = {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1000000"}
    proc = start(write_config(tmp_path, mpd_server, clip), env=env)
    messages = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            m.startswith("STATUS=mood happy") and "playlist happy" in m for m in messages
        ):
            messages.append(notify.recv(4096).decode())
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
        while True:
            try:
                notify.settimeout(0.5)
                messages.append(notify.recv(4096).decode())
            except OSError:
                break
        notify.close()
    assert proc.returncode == 0, out
    assert "stopping (SIGTERM)" in out
    ready = next(m for m in messages if "READY=1" in m)
    assert "STATUS=mood" in ready
    assert any(m.startswith("STATUS=mood happy") and "playlist happy" in m for m in messages), messages
    assert "WATCHDOG=1" in messages
    assert messages[-1] == "STOPPING=1"
    assert len(messages) < 40  # status lines are rate-limited, not one per frame


def test_unreachable_mpd_at_start_is_retried_and_logged(tmp_path, mpd_server):
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 4)])
    port = mpd_server.port
    mpd_server.kill()
    cfg = write_config(tmp_path, mpd_server, clip)
    out, _ = start(cfg).communicate(timeout=60)
    assert f"MPD at 127.0.0.1:{port} unreachable" in out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("mpd:\n  transition: later\n", "mpd.transition must be one of after_song, now"),
        ("policy: cheer\n", "policy must be one of match, uplift"),
        ("gpio:\n  led: 40\n", "gpio.led must be between 0 and 27"),
    ],
)
def test_bad_config_is_one_line(tmp_path, extra, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(extra)
    result = moodbox(cfg, "run")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr


def test_check_reports_each_part(tmp_path, mpd_server):
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 1)])
    cfg = write_config(tmp_path, mpd_server, clip, extra="playlists:\n  sad: blues\n")
    result = moodbox(cfg, "check")
    lines = result.stdout.splitlines()
    assert result.returncode == 1
    assert lines[0].startswith("OK   model:") and lines[1].startswith("OK   camera:")
    assert lines[2].startswith("FAIL mpd: sad: playlist 'blues' does not exist in MPD")
    assert lines[3].startswith("OK   gpio: no gpio section")
    good = write_config(tmp_path, mpd_server, clip)
    assert moodbox(good, "check").returncode == 0


@pytest.mark.usefixtures("picamera2")
def test_the_live_loop_on_a_pi_camera_reads_grey_frames_at_the_analysis_rate(tmp_path, mpd_server, monkeypatch):
    """In-process: picamera2 is a stand-in serving a happy face as YUV420 (the Pi camera cannot exist here);
    the rest is real: LatestFrame, Sampler at camera.analyse_fps, the model, the mood engine, MPD."""
    from test_camera import StandInPicamera2

    from moodbox import config
    from moodbox.appliance.service import Service

    class LiveStandIn(StandInPicamera2):
        def capture_request(self):
            request = super().capture_request()
            request.get_metadata = lambda: {"SensorTimestamp": time.monotonic_ns()}  # stamped as it is taken
            self.frames += 1
            return request

    monkeypatch.setattr(sys.modules["picamera2"], "Picamera2", LiveStandIn)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    service = Service(config.load(write_config(tmp_path, mpd_server, "picamera2")))
    runner = threading.Thread(target=service.run)
    began = time.monotonic()
    runner.start()
    try:
        assert wait_for(lambda: service.vision.engine.mood == "happy", timeout=30)
        assert wait_for(lambda: mpd_server.current_file().startswith("happy/"), timeout=10)
    finally:
        service.stop()
        runner.join(20)
    elapsed = time.monotonic() - began
    assert not runner.is_alive()
    frames = LiveStandIn.last.frames
    assert 0 < frames <= 8 * elapsed + 2  # at most analyse_fps frames a second were even read from the camera
