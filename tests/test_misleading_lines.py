"""Lines that misled (issue 21, item 18): each says what is true now, once. (The installer's own line is in
test_install.py, the picamera2 one in test_camera.py, the queued playlist in test_player.py.)"""

import importlib.util
import subprocess
import sys

import cv2
import pytest
from make_clip import make_clip

from conftest import FACES, ROOT, wait_for
from moodbox.playback.worker import PlayerState

NEUTRAL = FACES / "neutral" / "fer2013_row34903.png"


def test_a_connected_player_with_no_playlist_yet_is_not_playlist_dash():
    said = PlayerState(address="127.0.0.1:6600", tried=True, connected=True).describe()
    assert "playlist -" not in said and said == "MPD connected, no mood playlist played yet"
    assert PlayerState(address="x", tried=True, connected=True, playlist="sad").describe() == "playlist sad"


def test_a_refused_second_instance_is_said_once(tmp_path, mpd_server):
    clip = make_clip(tmp_path / "c.avi", [(cv2.imread(str(NEUTRAL), cv2.IMREAD_GRAYSCALE), 60)])
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"camera:\n  source: {clip}\nmpd:\n  host: 127.0.0.1\n  port: {mpd_server.port}\n"
        f"model:\n  path: {ROOT / 'models' / 'emotion.tflite'}\n"
    )
    command = [sys.executable, "-m", "moodbox", "--config", str(cfg), "run"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        assert wait_for(lambda: mpd_server.current_file().startswith("neutral/"), timeout=30)
        second = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)
    finally:
        first.terminate()
        first.wait(20)
    assert second.returncode == 2
    out = second.stdout + second.stderr
    said = [line for line in out.splitlines() if "another moodbox" in line]
    assert len(said) == 1 and said[0].startswith("moodbox: ") and "retrying" not in said[0], out
    assert "ready:" not in out


@pytest.mark.skipif(importlib.util.find_spec("lgpio") is not None, reason="a machine with GPIO")
def test_check_off_a_pi_is_one_gpio_line_without_gpiozeros_warnings(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("gpio:\n  led: 22\n  skip_button: 17\n")
    result = subprocess.run(
        [sys.executable, "-m", "moodbox", "--config", str(cfg), "check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert "PinFactoryFallback" not in result.stderr and "warnings.warn" not in result.stderr, result.stderr
    (gpio,) = [line for line in result.stdout.splitlines() if " gpio:" in line]
    assert gpio.startswith("FAIL gpio:") and "lgpio" in gpio and "remove the gpio section" in gpio
