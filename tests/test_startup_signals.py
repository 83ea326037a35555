"""Signals that come while `moodbox run` is starting (issue 21, item 10): importing OpenCV, numpy and LiteRT and
loading the model take most of a second, and a SIGHUP then (`systemctl reload`, `kill -HUP`) used to end the
process with exit 129. It is caught from the command's first line and becomes a reload once the service runs.

The signal is sent at a fixed point, not after a guessed delay: the child sends it to itself the moment a module is
first imported."""

import shutil
import socket
import subprocess
import sys

import pytest

from conftest import FACES, ROOT

CHILD = """
import importlib.abc, os, signal, sys

class HangUpOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == sys.argv[1]:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGHUP)
        return None

sys.meta_path.insert(0, HangUpOnImport())
from moodbox.cli import main
sys.exit(main(sys.argv[2:]))
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("module", ["cv2", "ai_edge_litert", "moodbox.appliance.service"])
def test_sighup_while_starting_is_a_reload_not_an_exit(tmp_path, module):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, face in enumerate(sorted(FACES.glob("happy/*.png"))):
        shutil.copy(face, frames / f"{i}.png")
    cfg = tmp_path / "moodbox.yaml"
    cfg.write_text(
        f"camera:\n  source: {frames}\n  fps: 10\n"
        f"mpd:\n  host: 127.0.0.1\n  port: {closed_port()}\n"
        f"model:\n  path: {ROOT / 'models' / 'emotion.tflite'}\n"
    )
    command = [sys.executable, "-c", CHILD, module, "--config", str(cfg), "run"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stderr)
    assert f"reloaded {cfg}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_other_commands_still_end_on_a_hang_up(tmp_path):
    """Only the service reloads: `moodbox watch` at a terminal that hangs up ends as before."""
    command = [sys.executable, "-c", CHILD, "moodbox.vision.pipeline", "watch", str(FACES / "happy")]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == -1, result
