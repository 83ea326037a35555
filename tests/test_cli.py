"""The `moodbox` command: real model, real images, one-line errors."""

import json
import subprocess
import sys

from conftest import ROOT, labelled_faces


def moodbox(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moodbox", *args], capture_output=True, text=True, cwd=cwd)


def test_classify_prints_one_json_line_per_image():
    faces = labelled_faces()[:3]
    result = moodbox("classify", *(str(p) for _, p in faces))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(p) for _, p in faces]
    for line in lines:
        assert line["emotion"] == max(line["probabilities"], key=line["probabilities"].get)


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_missing_image(tmp_path):
    one_line_error(moodbox("classify", str(tmp_path / "no.jpg")), "cannot read image", "no.jpg")


def test_missing_model(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  path: gone.tflite\n")
    _, face = labelled_faces()[0]
    one_line_error(moodbox("--config", str(cfg), "classify", str(face)), "model file not found", "gone.tflite")


def test_corrupt_model(tmp_path):
    (tmp_path / "bad.tflite").write_bytes(b"\0" * 64)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  path: bad.tflite\n")
    _, face = labelled_faces()[0]
    one_line_error(moodbox("--config", str(cfg), "classify", str(face)), "not a usable TFLite model")


def test_bad_config_value(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  threads: lots\n")
    one_line_error(moodbox("--config", str(cfg), "classify", "x.png"), "model.threads must be an integer")
