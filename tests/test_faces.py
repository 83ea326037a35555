"""Face detection and tracking with real OpenCV on real faces composited into 640x480 frames."""

import cv2
import numpy as np
import pytest
from make_clip import background

from conftest import FACES
from moodbox.vision.faces import Box, DetectorError, FaceTracker, HaarDetector, YuNetDetector, crop_square

HAPPY = cv2.imread(str(FACES / "happy" / "fer2013_row35200.png"), cv2.IMREAD_GRAYSCALE)
SAD = cv2.imread(str(FACES / "sad" / "fer2013_row34233.png"), cv2.IMREAD_GRAYSCALE)


def room(*faces: tuple[np.ndarray, int, int, int]) -> np.ndarray:
    """A grey 640x480 frame with each (face, x, y, size) pasted in."""
    frame = background(np.random.default_rng(0))
    for face, x, y, size in faces:
        frame[y : y + size, x : x + size] = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    return frame


class CountingDetector(HaarDetector):
    """The real Haar detector, recording the size of every image it is asked to search."""

    def __init__(self):
        super().__init__()
        self.searched: list[tuple[int, int]] = []
        self.min_sizes: list[int] = []

    def detect(self, grey, min_size, max_size):
        self.searched.append(grey.shape)
        self.min_sizes.append(min_size)
        return super().detect(grey, min_size, max_size)


def near(box: Box, x: int, y: int, size: int, tolerance: float = 0.25) -> bool:
    cx, cy = box.centre
    return abs(cx - (x + size / 2)) < size * tolerance and abs(cy - (y + size / 2)) < size * tolerance


def test_finds_a_face_in_a_room():
    box = FaceTracker(HaarDetector()).find(room((HAPPY, 100, 150, 160)))
    assert box is not None and near(box, 100, 150, 160)


def test_an_empty_room_has_no_face():
    assert FaceTracker(HaarDetector()).find(room()) is None


def test_between_full_scans_only_a_small_region_is_searched():
    detector = CountingDetector()
    tracker = FaceTracker(detector, full_scan_every=5, locate_every=1)
    frame = room((HAPPY, 300, 120, 160))
    boxes = [tracker.find(frame) for _ in range(6)]
    assert all(b is not None and near(b, 300, 120, 160) for b in boxes)
    full, *tracked = detector.searched
    assert full == (240, 320)  # the downscaled full frame
    assert tracked == [(96, 96)] * 5  # 1.5 face widths, scaled so the face is 64 px wide


def test_a_followed_face_is_searched_every_locate_every_frames_and_read_where_it_was_between():
    detector = CountingDetector()
    tracker = FaceTracker(detector, locate_every=2)
    frames = [room((HAPPY, 300 + 2 * i, 120, 160)) for i in range(6)]
    boxes = [tracker.find(frame) for frame in frames]
    assert len(detector.searched) == 3  # frames 0, 2 and 4
    assert boxes[1] == boxes[0] and boxes[3] == boxes[2] and boxes[5] == boxes[4]
    assert all(b is not None and near(b, 300 + 2 * i, 120, 160) for i, b in enumerate(boxes))


def test_an_empty_room_is_scanned_every_absent_scan_every_frames_and_a_newcomer_is_found():
    detector = CountingDetector()
    tracker = FaceTracker(detector, locate_every=2, absent_scan_every=4)
    empty, listener = room(), room((HAPPY, 200, 100, 160))
    assert [tracker.find(empty) for _ in range(8)] == [None] * 8
    assert detector.searched == [(240, 320)] * 2  # frames 0 and 4: an empty room costs less than a face
    found = [tracker.find(listener) for _ in range(4)]  # arrives at frame 8, the next scan
    assert found[0] is not None and near(found[0], 200, 100, 160)
    assert len(detector.searched) == 4  # frames 8 and 10: then it is followed every other frame


def test_a_lost_face_triggers_a_full_scan_at_once():
    detector = CountingDetector()
    tracker = FaceTracker(detector, locate_every=1)
    tracker.find(room((HAPPY, 60, 60, 160)))
    moved = tracker.find(room((HAPPY, 420, 300, 160)))  # jumped across the room
    assert moved is not None and near(moved, 420, 300, 160)
    assert detector.searched[-1] == (240, 320)


@pytest.mark.parametrize("policy", ["largest", "centre"])
def test_the_periodic_full_scan_skips_faces_too_small_to_win(policy):
    detector = CountingDetector()
    tracker = FaceTracker(detector, policy=policy, full_scan_every=1, locate_every=1)
    frame = room((HAPPY, 240, 150, 160), (SAD, 20, 330, 100))  # the listener, and a smaller face further back
    boxes = [tracker.find(frame) for _ in range(3)]  # full scan, near search, periodic full scan
    assert all(b is not None and near(b, 240, 150, 160) for b in boxes)
    assert detector.searched[2] == (240, 320)
    assert detector.min_sizes[0] == 29  # 0.12 of the 240 px scan's height
    followed = boxes[1].w / 2  # in the half-size scan's pixels
    assert detector.min_sizes[2] == (round(0.8 * followed) if policy == "largest" else 29)


@pytest.mark.parametrize(("policy", "expected"), [("largest", (20, 20, 200)), ("centre", (250, 170, 150))])
def test_policy_chooses_between_two_people(policy, expected):
    frame = room((HAPPY, 20, 20, 200), (SAD, 250, 170, 150))
    box = FaceTracker(HaarDetector(), policy=policy).find(frame)
    assert box is not None and near(box, *expected)


def test_detect_all_lists_every_face_best_first():
    frame = room((HAPPY, 20, 20, 200), (SAD, 400, 250, 150))
    boxes = FaceTracker(HaarDetector()).detect_all(frame)
    assert len(boxes) == 2 and near(boxes[0], 20, 20, 200) and near(boxes[1], 400, 250, 150)


def test_crop_is_square_with_margin():
    image = np.arange(480 * 640, dtype=np.uint32).reshape(480, 640).astype(np.uint8)
    crop = crop_square(image, Box(100, 100, 80, 100), margin=0.1)
    assert crop.shape == (120, 120)


def test_crop_past_the_frame_edge_is_padded_not_shifted():
    image = np.full((100, 100), 7, np.uint8)
    crop = crop_square(image, Box(-10, 80, 40, 40), margin=0.0)
    assert crop.shape == (40, 40) and (crop == 7).all()


def test_yunet_model_missing_is_a_clear_error(tmp_path):
    with pytest.raises(DetectorError, match="YuNet model not found: .*yunet.onnx; download"):
        YuNetDetector(tmp_path / "yunet.onnx")


def test_yunet_model_not_onnx_is_a_clear_error(tmp_path):
    bad = tmp_path / "yunet.onnx"
    bad.write_bytes(b"garbage")
    with pytest.raises(DetectorError, match="cannot load YuNet model"):
        YuNetDetector(bad)
