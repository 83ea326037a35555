"""Media that asks for more than a camera gives (issue 21): refused from its header, before a frame is decoded."""

import cv2
import numpy as np
import pytest

from moodbox.vision.camera import CameraError, VideoFileSource


def test_a_clip_of_giant_frames_is_refused_before_decoding(tmp_path):
    """A 15 MB Motion-JPEG of 16000x16000 frames as camera source reached 2.7 GB."""
    path = tmp_path / "giant.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (8000, 7000))  # 56 MP
    writer.write(np.zeros((7000, 8000, 3), np.uint8))
    writer.release()
    with pytest.raises(CameraError, match="8000x7000 frames, larger than any camera's"):
        VideoFileSource(path)


def test_a_wav_header_claiming_no_channels_is_said_damaged(tmp_path):
    """ffprobe stops half-way through its JSON on it: that was reported as moodbox's own JSON parse error."""
    import shutil
    import struct

    from moodbox.music.audio import AudioError, decode

    if shutil.which("ffprobe") is None:
        pytest.skip("ffmpeg is not installed")
    fmt = struct.pack("<HHIIHH", 1, 0, 16000, 0, 0, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 1000) + bytes(1000)
    path = tmp_path / "none.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    with pytest.raises(AudioError, match="damaged or not audio") as refused:
        decode(path, duration=30.0)
    assert "Expecting" not in str(refused.value)


@pytest.mark.parametrize("key", ["mpd:\n  host", "mpd:\n  password", "camera:\n  source", "playlists:\n  happy"])
def test_a_control_character_in_a_config_string_is_refused(tmp_path, key):
    """A NUL in mpd.host or camera.source was accepted and printed raw."""
    from moodbox import config

    path = tmp_path / "c.yaml"
    path.write_text(f'{key}: "x\\0y"\n')
    with pytest.raises(config.ConfigError, match="without control characters"):
        config.load(path)
