"""The `moodbox` command: real model, real images, one-line errors."""

import json
import subprocess
import sys

import numpy as np

from conftest import ROOT, labelled_faces, one_line_error


def moodbox(*args: str, cwd=ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "moodbox", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=timeout)


def test_classify_whole_images_prints_one_json_line_per_image():
    faces = labelled_faces()[:3]
    result = moodbox("classify", "--whole", *(str(p) for _, p in faces))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["image"] for line in lines] == [str(p) for _, p in faces]
    for line in lines:
        (face,) = line["faces"]
        assert face["box"] == [0, 0, 48, 48]
        assert face["emotion"] == max(face["probabilities"], key=face["probabilities"].get)


def test_classify_finds_the_face_in_a_room(tmp_path):
    """A real face placed in a 640x480 frame is found, boxed where it is, and read as labelled."""
    import cv2
    from make_clip import background, compose

    face = cv2.imread(str(ROOT / "tests/fixtures/faces/happy/fer2013_row35200.png"), cv2.IMREAD_GRAYSCALE)
    rng = np.random.default_rng(0)
    frame = tmp_path / "room.png"
    cv2.imwrite(str(frame), compose(face, background(rng), rng, face_px=160))
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), compose(None, background(rng), rng, face_px=160))
    result = moodbox("classify", str(frame), str(empty))
    assert result.returncode == 0, result.stderr
    found, nobody = (json.loads(line) for line in result.stdout.splitlines())
    (face_out,) = found["faces"]
    x, y, w, h = face_out["box"]
    assert abs(x + w / 2 - 320) < 30 and abs(y + h / 2 - 220) < 30 and 120 < w < 220
    assert face_out["emotion"] == "happy"
    assert nobody["faces"] == []


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
    one_line_error(moodbox("--config", str(cfg), "classify", str(face)), "bad.json is missing", "restore models/")


def test_damaged_model_is_one_line(tmp_path):
    import shutil

    model = tmp_path / "emotion.tflite"
    shutil.copy(ROOT / "models" / "emotion.json", tmp_path)
    data = bytearray((ROOT / "models" / "emotion.tflite").read_bytes())
    data[len(data) // 2] ^= 0x40
    model.write_bytes(bytes(data))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  path: emotion.tflite\n")
    _, face = labelled_faces()[0]
    one_line_error(moodbox("classify", str(face), "--config", str(cfg)), "does not match the sha256", "restore")


def test_bad_config_value(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  threads: lots\n")
    one_line_error(moodbox("--config", str(cfg), "classify", "x.png"), "model.threads must be an integer")


def test_config_may_follow_the_command(tmp_path):
    """`moodbox classify --config FILE`, as people type it, and the old order still works."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model:\n  threads: lots\n")
    for command in (["classify", "x.png"], ["watch", "x"], ["run"], ["check"]):
        after = moodbox(*command, "--config", str(cfg))
        one_line_error(after, "model.threads must be an integer")
    one_line_error(moodbox("--config", str(cfg), "check"), "model.threads must be an integer")
    good = tmp_path / "good.yaml"
    good.write_text("")
    one_line_error(moodbox("--config", str(good), "classify", "--config", str(cfg), "x.png"), "model.threads")


def test_an_empty_config_in_another_folder_finds_the_shipped_model(tmp_path):
    (tmp_path / "config.yaml").write_text("")
    _, face = labelled_faces()[0]
    result = moodbox("classify", "--whole", str(face), "--config", "config.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["faces"][0]["emotion"]


def test_a_fifo_as_config_is_refused_at_once(tmp_path):
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    one_line_error(moodbox("--config", str(fifo), "check", timeout=30), "is not a regular file")
    one_line_error(moodbox("--config", "/dev/zero", "check", timeout=30), "is not a regular file")


def test_binary_and_utf16_configs_are_one_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    for content in ("model:\n  threads: 2\n".encode("utf-16"), bytes(range(256))):
        cfg.write_bytes(content)
        one_line_error(moodbox("check", "--config", str(cfg)), "not UTF-8 text")


def test_a_source_under_an_unknown_home_is_one_line(tmp_path):
    one_line_error(moodbox("watch", "~nosuchuser/clips"), "no user with a home for '~nosuchuser/clips'")
    (tmp_path / "c.yaml").write_text("")
    result = moodbox("run", "--source", "~nosuchuser/clip.avi", "--config", str(tmp_path / "c.yaml"))
    one_line_error(result, "--source: no user with a home for '~nosuchuser/clip.avi'")


def test_a_missing_usb_camera_brings_no_opencv_lines(tmp_path):
    """OpenCV's "[ WARN:0@0.2] global cap_v4l.cpp ... can't open camera by index" came twice per retry."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("camera:\n  give_up_after: 1\n")
    result = moodbox("watch", "9", "--config", str(cfg))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("moodbox: camera /dev/video9 delivered no frame")
    assert "VIDEOIO" not in result.stderr and "[ WARN" not in result.stderr


def test_version():
    result = moodbox("--version")
    assert result.returncode == 0 and result.stdout.startswith("moodbox ") and result.stdout.strip()[-1].isdigit()


def test_config_after_the_library_command_too(tmp_path):
    """The README: options go before or after the command, `library scan --config F` included."""
    gone = str(tmp_path / "gone.yaml")
    for args in (("library", "scan", "--config", gone), ("library", "playlists", "--config", gone)):
        one_line_error(moodbox(*args), "cannot read config", "gone.yaml")
    one_line_error(moodbox("library", "--config", gone, "scan"), "cannot read config", "gone.yaml")
