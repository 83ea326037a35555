"""`moodbox check`: one line per part, every part reported, never a traceback (real MPD, real files)."""

import subprocess
import sys

import pytest

from conftest import FACES, ROOT, one_line_error

PARTS = ("model", "camera", "mpd", "gpio", "detector")


def check(config_text, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config_text)
    return subprocess.run(
        [sys.executable, "-m", "moodbox", "check", "--config", str(cfg)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def lines_per_part(result):
    lines = result.stdout.splitlines()
    assert [line.split()[1].rstrip(":") for line in lines] == list(PARTS), result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    return dict(zip(PARTS, lines, strict=True))


@pytest.fixture
def mpd_with_password():
    from mpd_sandbox import MpdSandbox

    with MpdSandbox(songs_per_mood=1, song_seconds=2, password="s3cret") as sandbox:
        yield sandbox


@pytest.mark.parametrize(
    ("password", "message"),
    [("", "wants a password"), ("wrong", "incorrect password")],
    ids=["none", "wrong"],
)
def test_mpd_wanting_a_password_is_one_fail_line_and_the_rest_still_run(tmp_path, mpd_with_password, password, message):
    folder = FACES / "happy"
    result = check(
        f"camera:\n  source: {folder}\nmpd:\n  host: 127.0.0.1\n  port: {mpd_with_password.port}\n"
        f"  password: '{password}'\n",
        tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr == ""
    parts = lines_per_part(result)
    assert parts["mpd"].startswith("FAIL mpd: ") and message in parts["mpd"] and "set mpd.password" in parts["mpd"]
    assert all(parts[name].startswith("OK") for name in ("model", "detector", "camera", "gpio"))


def test_the_right_password_passes(tmp_path, mpd_with_password):
    result = check(
        f"camera:\n  source: {FACES / 'happy'}\nmpd:\n  host: 127.0.0.1\n  port: {mpd_with_password.port}\n"
        "  password: s3cret\n",
        tmp_path,
    )
    assert result.returncode == 0, result.stdout
    assert lines_per_part(result)["mpd"].startswith("OK   mpd: ")


def test_a_missing_usb_camera_a_bogus_yunet_file_and_no_mpd_are_one_line_each(tmp_path):
    """OpenCV's own "[ WARN:0@0.2] ... can't open camera by index" lines and the DNN importer's used to get in."""
    bogus = tmp_path / "yunet.onnx"
    bogus.write_bytes(bytes(range(256)) * 40)
    result = check(
        f"camera:\n  source: 9\ndetector:\n  kind: yunet\n  model: {bogus}\nmpd:\n  host: 127.0.0.1\n  port: 1\n",
        tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr == ""
    parts = lines_per_part(result)
    assert parts["detector"].startswith("FAIL detector: cannot load YuNet model")
    assert parts["camera"].startswith("FAIL camera: camera /dev/video9 delivered no frame")
    assert parts["mpd"].startswith("FAIL mpd: MPD at 127.0.0.1:1 is unreachable")


def test_a_hung_mpd_is_one_line_that_says_restart_it(tmp_path, mpd_server):
    """A process that takes connections and answers nothing (SIGSTOP here; a deadlocked MPD looks the same)."""
    with mpd_server.frozen():
        result = check(
            f"camera:\n  source: {FACES / 'happy'}\nmpd:\n  host: 127.0.0.1\n  port: {mpd_server.port}\n  timeout: 1\n",
            tmp_path,
        )
    assert result.returncode == 1 and result.stderr == ""
    line = lines_per_part(result)["mpd"]
    assert line.startswith(f"FAIL mpd: MPD at 127.0.0.1:{mpd_server.port} does not answer (timed out)"), line
    assert "restart it (sudo systemctl restart mpd)" in line


def test_a_model_file_that_is_not_a_yunet_is_one_line_in_classify(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"detector:\n  kind: yunet\n  model: {ROOT / 'models' / 'emotion.tflite'}\n")
    face = next(FACES.glob("happy/*.png"))
    result = subprocess.run(
        [sys.executable, "-m", "moodbox", "classify", str(face), "--config", str(cfg)], capture_output=True, text=True
    )
    one_line_error(result, "cannot load YuNet model", "set detector.model to a YuNet ONNX file")


MOODS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_the_default_config_names_the_playlist_each_mood_plays(tmp_path, mpd_server):
    mpd_server.edit_playlists(rename={"happy": "moodbox-happy", "sad": "moodbox-sad"})
    result = check(
        f"camera:\n  source: {FACES / 'happy'}\nmpd:\n  host: 127.0.0.1\n  port: {mpd_server.port}\n", tmp_path
    )
    assert result.returncode == 0, result.stdout
    line = lines_per_part(result)["mpd"]
    assert line.startswith("OK   mpd: ")
    assert "happy: moodbox-happy, sad: moodbox-sad" in line and "angry: angry" in line and "neutral: neutral" in line


def test_moods_without_any_playlist_fail_with_the_fix(tmp_path, mpd_server):
    mpd_server.edit_playlists(remove=MOODS)  # a new user: no hand-made playlists, no scan yet
    result = check(
        f"camera:\n  source: {FACES / 'happy'}\nmpd:\n  host: 127.0.0.1\n  port: {mpd_server.port}\n"
        "playlists:\n  sad: blues\n",
        tmp_path,
    )
    assert result.returncode == 1
    line = lines_per_part(result)["mpd"]
    assert line.startswith("FAIL mpd: sad: playlist 'blues' does not exist in MPD"), line
    assert "no playlist in MPD for angry, disgust, fear, happy, surprise, neutral" in line
    assert "angry looks for angry, moodbox-angry" in line and "moodbox library playlists" in line
    assert len(line) < 400  # one readable line, not cut
