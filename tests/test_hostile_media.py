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
