"""`moodbox watch` end to end on clips built from real faces: real OpenCV, real model, real mood engine."""

import json
import subprocess
import sys

import cv2
import pytest
from make_clip import make_clip

from conftest import FACES, ROOT, one_line_error

HAPPY = FACES / "happy" / "fer2013_row35200.png"
SAD = FACES / "sad" / "fer2013_row34233.png"
SURPRISE = FACES / "surprise" / "fer2013_row32780.png"


def grey(path):
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def watch(*args, config=None):
    cmd = [sys.executable, "-m", "moodbox"] + (["--config", str(config)] if config else []) + ["watch", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


def decisions(result):
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return [line for line in lines[:-1] if "mood" in line], lines[-1]


@pytest.fixture(scope="module")
def happy_then_sad(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "happy_sad.avi", [(grey(HAPPY), 10), (grey(SAD), 10)])


def test_each_expression_announced_within_three_seconds_and_nothing_else(happy_then_sad):
    moods, summary = decisions(watch(happy_then_sad))
    assert [d["mood"] for d in moods] == ["happy", "sad"], moods
    assert moods[0]["t"] <= 3.0
    assert 10.0 <= moods[1]["t"] <= 13.0
    assert all(0 < d["confidence"] <= 1 for d in moods)
    assert summary["frames"] == 300 and summary["seconds"] > 0 and summary["fps"] > 0


def test_leaving_and_coming_back(tmp_path):
    clip = make_clip(tmp_path / "away.avi", [(grey(SURPRISE), 4), (None, 10), (grey(SURPRISE), 4)])
    moods, _ = decisions(watch(clip))
    assert [d["mood"] for d in moods] == ["surprise", "away", "surprise"], moods
    assert 4 + 8 - 0.1 <= moods[1]["t"] <= 4 + 8.5  # away_after (8 s) past the last face frame


def test_an_image_folder_is_a_source(tmp_path):
    for i in range(30):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), cv2.resize(grey(HAPPY), (160, 160)))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("camera:\n  fps: 10\ndetector:\n  scan_width: 160\n  min_face: 0.5\n")
    moods, summary = decisions(watch(tmp_path, config=cfg))
    assert summary["frames"] == 30
    assert [d["mood"] for d in moods] == ["happy"]
    assert moods[0]["t"] == pytest.approx(1.2, abs=0.11)


def test_realtime_plays_at_the_clip_rate(tmp_path):
    clip = make_clip(tmp_path / "short.avi", [(grey(HAPPY), 2)])
    _, summary = decisions(watch(clip, "--realtime"))
    assert summary["seconds"] >= 1.8


def test_missing_video(tmp_path):
    one_line_error(watch(tmp_path / "nope.mp4"), "video file not found", "nope.mp4")


def test_unreadable_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    one_line_error(watch(bad), "cannot decode video", "bad.mp4")


def test_folder_without_images(tmp_path):
    one_line_error(watch(tmp_path), "no images")


def test_bad_config_value(tmp_path, happy_then_sad):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("mood:\n  dwell: -1\n")
    one_line_error(watch(happy_then_sad, config=cfg), "mood.dwell must be between")


def test_yunet_without_a_model_file(tmp_path, happy_then_sad):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("detector:\n  kind: yunet\n  model: missing.onnx\n")
    one_line_error(watch(happy_then_sad, config=cfg), "YuNet model not found", "missing.onnx")


def test_watch_says_when_a_face_is_found_and_lost_and_its_size_against_min_face(tmp_path):
    """Aiming the camera from a terminal (issue 21, item 19)."""
    clip = make_clip(tmp_path / "away.avi", [(grey(SURPRISE), 3), (None, 3), (grey(SURPRISE), 2)])
    result = watch(clip)
    assert result.returncode == 0, result.stderr
    news = [line for line in map(json.loads, result.stdout.splitlines()) if "face" in line]
    assert [n["face"] for n in news] == ["found", "lost", "found"], news
    assert news[0]["t"] == 0.0 and 2.5 <= news[1]["t"] <= 3.5 and 5.5 <= news[2]["t"] <= 6.5
    for found in news[0], news[2]:
        assert found["min_face"] == 0.12 and found["size"] > found["min_face"]
        assert found["size"] == pytest.approx(found["px"] / 480, abs=0.002)


def test_watch_counts_the_faces_found(tmp_path):
    """A face too small for detector.min_face is never looked for: the summary says none was found."""
    clip = make_clip(tmp_path / "small.avi", [(grey(SURPRISE), 2)])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("detector:\n  min_face: 0.9\n")
    moods, summary = decisions(watch(clip, config=cfg))
    assert summary["faces_found"] == 0 and moods == []
    _, summary = decisions(watch(clip))
    assert summary["faces_found"] == 1
