"""Muting native stderr around one call must not eat what Python logs from another thread meanwhile."""

import subprocess
import sys

SCRIPT = """
import logging, sys, threading, time
from moodbox.base.native import native_stderr_silenced, python_stderr_apart
if sys.argv[1] == "apart":
    python_stderr_apart()
logging.basicConfig(level=logging.INFO, format="%(message)s")
done = threading.Event()
def player():  # what the MPD worker does while the frame loop decodes
    for i in range(400):
        logging.info("line %d", i)
        time.sleep(0.0005)
    done.set()
threading.Thread(target=player).start()
while not done.is_set():
    with native_stderr_silenced():  # what every Motion-JPEG frame's decode does
        time.sleep(0.001)
"""


def logged_lines(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return sum(line.startswith("line ") for line in result.stderr.splitlines())


def test_python_log_lines_survive_native_muting_once_stderr_is_apart():
    assert logged_lines("apart") == 400


def test_without_it_lines_logged_while_muted_are_lost():
    """The failure the separation exists for (also shows this test can fail)."""
    assert logged_lines("shared") < 400
