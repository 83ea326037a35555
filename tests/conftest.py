"""Shared test fixtures: the committed model, the real face fixtures, the dataset if present."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

MODEL = ROOT / "models" / "emotion.tflite"
FACES = ROOT / "tests" / "fixtures" / "faces"
DATASET = ROOT.parent / "shared" / "data" / "fer2013" / "fer2013.npz"


@pytest.fixture(scope="session")
def model_path() -> Path:
    return MODEL


@pytest.fixture(scope="session")
def classifier():
    from moodbox.vision.emotion import EmotionClassifier

    return EmotionClassifier(MODEL)


def labelled_faces() -> list[tuple[str, Path]]:
    """(label, path) for every fixture face, laid out faces/<label>/*.png."""
    return [(p.parent.name, p) for p in sorted(FACES.glob("*/*.png"))]


def read_grey(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert image is not None, path
    return image


@pytest.fixture(scope="session")
def dataset() -> Path:
    if not DATASET.is_file():
        pytest.skip(f"FER2013 not present at {DATASET}")
    return DATASET


@pytest.fixture
def mpd_server():
    """A real MPD on a free loopback port with a generated library and one playlist per mood."""
    from mpd_sandbox import MpdSandbox

    with MpdSandbox(songs_per_mood=3, song_seconds=4) as sandbox:
        yield sandbox


@pytest.fixture
def mpd_server_long_songs():
    """Like mpd_server, with 60 s songs: for tests that need the first song still playing a few calls later."""
    from mpd_sandbox import MpdSandbox

    with MpdSandbox(songs_per_mood=3, song_seconds=60) as sandbox:
        yield sandbox


@pytest.fixture
def mpd_server_8s_songs():
    """8 s songs: a skip at once is far from the song's end even on a busy machine, and the next song still ends
    soon (a played-to-its-end after a skip)."""
    from mpd_sandbox import MpdSandbox

    with MpdSandbox(songs_per_mood=3, song_seconds=8) as sandbox:
        yield sandbox


def wait_for(condition, timeout: float = 10.0, every: float = 0.05):
    """Poll `condition` until it returns something truthy; that value, or None on timeout."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    return None


def one_line_error(result, *fragments: str) -> None:
    """A CLI failure as promised: exit 2, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
