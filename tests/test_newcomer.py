"""A newcomer's trips (issue 21, item 17): the tools and `classify` end in one line naming the cause, never a
traceback, and `classify` reads every image it can."""

import json
import os
import signal
import subprocess
import sys

import cv2
import pytest

from conftest import FACES, ROOT, labelled_faces, wait_for

MAKE_CLIP = ROOT / "tools" / "make_clip.py"
HAPPY = FACES / "happy" / "fer2013_row35200.png"


def make_clip(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MAKE_CLIP), *map(str, args)], capture_output=True, text=True)


@pytest.mark.parametrize("segment", ["face.png:abc", f"{HAPPY}", "absent:-1", "absent:nan", "absent:inf", ":5"])
def test_make_clip_refuses_a_bad_duration_in_one_line(tmp_path, segment):
    result = make_clip(tmp_path / "c.avi", segment)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert "IMAGE:SECONDS" in line and repr(segment) in line
    assert not (tmp_path / "c.avi").exists()


def test_make_clip_names_a_missing_folder_and_a_missing_image(tmp_path):
    result = make_clip(tmp_path / "no" / "c.avi", "absent:1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert f"folder {tmp_path / 'no'} does not exist" in line
    result = make_clip(tmp_path / "c.avi", f"{tmp_path / 'gone.png'}:1")
    (line,) = result.stderr.splitlines()
    assert "gone.png: no such file" in line


def test_make_clip_ctrl_c_is_one_line_and_leaves_no_half_clip(tmp_path):
    out = tmp_path / "long.avi"
    proc = subprocess.Popen(
        [sys.executable, str(MAKE_CLIP), str(out), "absent:3600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert wait_for(lambda: out.exists() and out.stat().st_size > 100_000, timeout=60)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and b"Traceback" not in err, err
    (line,) = err.decode().splitlines()
    assert "interrupted" in line and not out.exists()


def test_demo_ctrl_c_stops_without_a_traceback():
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "demo.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # its own process group, as a terminal's: Ctrl-C reaches demo, moodbox and MPD
    )
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "ready:" in line:  # moodbox is running
                break
        os.killpg(proc.pid, signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    out = "".join(seen) + rest
    assert "Traceback" not in out, out
    assert proc.returncode == 130, out
    assert "demo stopped" in out


def classify(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "moodbox", "classify", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_classify_goes_on_past_a_bad_file_and_names_each_cause(tmp_path):
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), cv2.resize(cv2.imread(str(HAPPY)), (640, 480)))
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(photo.read_bytes()[: photo.stat().st_size // 2])
    damaged = bytearray(HAPPY.read_bytes())
    start = damaged.index(b"IDAT") + 8
    damaged[start : start + 16] = bytes(b ^ 0x5A for b in damaged[start : start + 16])
    (tmp_path / "damaged.png").write_bytes(bytes(damaged))
    (tmp_path / "empty.png").write_bytes(b"")
    names = [tmp_path / "gone.jpg", cut, tmp_path / "damaged.png", tmp_path / "empty.png", tmp_path, photo]
    result = classify(*names)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (read,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert read["image"] == str(photo) and read["faces"][0]["emotion"] == "happy"
    lines = result.stderr.splitlines()
    assert len(lines) == 5, lines  # no libpng or libjpeg line of their own
    gone, cut_line, damaged_line, empty_line, folder_line = lines
    assert "gone.jpg: no such file" in gone
    assert "cut.jpg: the image is cut short" in cut_line and "missing" not in cut_line
    assert "damaged.png: not an image OpenCV can decode, or damaged" in damaged_line
    assert "empty.png: the file is empty" in empty_line
    assert "it is a folder" in folder_line


def test_classify_says_why_a_face_sized_image_has_no_face():
    result = classify(*(p for _, p in labelled_faces()))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 21
    for line in lines:
        if not line["faces"]:
            assert "a 48x48 image is a face crop" in line["note"] and "--whole" in line["note"]
        else:
            assert "note" not in line
