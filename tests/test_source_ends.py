"""Sources that end or fail in ways that used to be silent or misnamed (issue 21, item 11): a clip with no frame or
cut short, a folder of thousands of unusable images, a FIFO or a device as camera.source, and a password-protected
MPD while the playlists are written."""

import os
import subprocess
import sys

import cv2
import pytest
from make_clip import make_clip

from conftest import FACES, ROOT, one_line_error

HAPPY = FACES / "happy" / "fer2013_row35200.png"


def watch(source, config=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "moodbox"] + (["--config", str(config)] if config else []) + ["watch", str(source)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_a_clip_with_no_frame_is_one_line(tmp_path):
    empty = tmp_path / "empty.avi"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 15, (640, 480))
    writer.release()
    one_line_error(watch(empty), "holds no frame", str(empty))


def test_a_clip_cut_short_says_so_once(tmp_path):
    clip = make_clip(tmp_path / "c.avi", [(cv2.imread(str(HAPPY), cv2.IMREAD_GRAYSCALE), 4)])
    cut = tmp_path / "cut.avi"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size * 6 // 10])
    result = watch(cut)
    assert result.returncode == 0, result.stderr
    short = [line for line in result.stderr.splitlines() if "short of the 60 its header claims" in line]
    assert len(short) == 1 and "cut short or damaged" in short[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_whole_clip_says_nothing_of_its_end(tmp_path):
    clip = make_clip(tmp_path / "c.avi", [(cv2.imread(str(HAPPY), cv2.IMREAD_GRAYSCALE), 2)])
    result = watch(clip)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_thousands_of_empty_images_are_summarised(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(2000):
        (folder / f"{i:05d}.png").write_bytes(b"")
    result = watch(folder)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert len(lines) == 12, lines  # ten named, one count, one error
    assert "skipped 1990 more unusable files" in lines[-2]
    assert "none of the 2000 image files in folder" in lines[-1] and lines[-1].startswith("moodbox: ")

    for i in range(3):
        os.link(HAPPY, folder / f"face{i}.png")
    result = watch(folder)
    assert result.returncode == 0, result.stderr
    assert '"frames": 3' in result.stdout.splitlines()[-1]
    assert len(result.stderr.splitlines()) == 11


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_a_device_as_camera_is_named_as_such(tmp_path, kind):
    if kind == "fifo":
        source, says = tmp_path / "cam.avi", "is a FIFO (named pipe), not a video file"
        os.mkfifo(source)
    else:
        source, says = "/dev/zero", "is a character device, not a video file"
    result = watch(source)
    one_line_error(result, says, str(source))
    assert "not found" not in result.stderr


def test_library_playlists_on_a_password_protected_mpd_names_the_password(tmp_path):
    from mpd_sandbox import MpdSandbox

    with MpdSandbox(songs_per_mood=1, song_seconds=3, password="secret", default_permissions="read") as server:
        cfg = tmp_path / "c.yaml"
        base = (
            f"library:\n  music_dir: {server.root / 'music'}\n  cache: {tmp_path / 'cache.sqlite'}\n"
            f"mpd:\n  host: 127.0.0.1\n  port: {server.port}\n"
        )
        cfg.write_text(base + "  password: secret\n")
        command = [sys.executable, "-m", "moodbox", "--config", str(cfg), "library"]
        scanned = subprocess.run([*command, "scan"], capture_output=True, text=True, cwd=ROOT)
        assert scanned.returncode == 0, scanned.stderr
        cfg.write_text(base)  # no password: MPD lets moodbox read, not write playlists
        result = subprocess.run([*command, "playlists"], capture_output=True, text=True, cwd=ROOT)
    one_line_error(result, "mpd.password")
    assert "playlist_directory" not in result.stderr
