"""Finding the listener's face in a camera frame, fast enough for every frame on a Pi.

A full Haar scan of a 640×480 frame costs tens of milliseconds, and even a
search near the face costs as much as reading its expression, so the tracker
does four things:

* it scans a downscaled copy (faces at a listening distance are large),
* between full scans it searches only a region around the last face (1.5 face
  widths), scaled so that face is about 64 px wide, for a face within a quarter
  of its size,
* it searches only every `locate_every` frames while it follows a face, and
  reads the face where it was last found in between: a seated listener moves a
  few pixels in a quarter of a second, and the mood is decided over seconds;
  with nobody in view it scans every `absent_scan_every` frames, so an empty
  room costs less than a listener, not more,
* it runs a full scan every `full_scan_every` searches, and at once when the
  face is lost, so a second person or a moved listener is picked up; while a
  face is followed under the `largest` policy that scan skips faces too small
  to win (a scan that finds none of that size is done again in full).

Which face wins when there are several is a policy (`largest` by default: the
person nearest the speakers). The crop is square around the face with a margin
that matches how FER2013 faces were framed (the Haar box is ~97% of a FER crop).
YuNet (`cv2.FaceDetectorYN`) can replace Haar when the user supplies its ONNX
model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np

from moodbox.base.errors import Explained
from moodbox.base.native import native_stderr_silenced

Policy = Literal["largest", "centre"]


class DetectorError(Explained, RuntimeError):
    """The face detector cannot be set up; the message names the fix."""


@dataclass(frozen=True)
class Box:
    """A face rectangle in full-frame pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def scaled(self, factor: float, dx: float = 0.0, dy: float = 0.0) -> Box:
        x, y = round(self.x * factor + dx), round(self.y * factor + dy)
        return Box(x, y, round(self.w * factor), round(self.h * factor))


class Detector(Protocol):
    """Finds faces in a grey image; `min_size`/`max_size` bound the face width in that image's pixels."""

    def detect(self, grey: np.ndarray, min_size: int, max_size: int) -> list[Box]: ...


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, shipped inside opencv-python-headless 4.x."""

    def __init__(self, scale_factor: float = 1.15, min_neighbors: int = 5) -> None:
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise DetectorError(f"cannot load the Haar cascade {path}; reinstall opencv-python-headless<5")
        self.scale_factor, self.min_neighbors = scale_factor, min_neighbors

    def detect(self, grey: np.ndarray, min_size: int, max_size: int) -> list[Box]:
        found = self._cascade.detectMultiScale(
            grey,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_size, min_size),
            maxSize=(max_size, max_size),
        )
        return [Box(int(x), int(y), int(w), int(h)) for x, y, w, h in found]


class YuNetDetector:
    """OpenCV's YuNet CNN face detector (cv2.FaceDetectorYN) from a user-supplied ONNX file."""

    def __init__(self, model: Path, score_threshold: float = 0.7) -> None:
        if not Path(model).is_file():
            raise DetectorError(
                f"YuNet model not found: {model}; download face_detection_yunet_2023mar.onnx from the OpenCV Zoo "
                "and set detector.model to its path, or set detector.kind: haar"
            )
        try:
            with native_stderr_silenced():  # OpenCV's DNN importer prints dozens of lines about a wrong file
                self._net = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score_threshold)
        except cv2.error as e:
            reason = " ".join(str(e.err).split())[:200]
            raise DetectorError(
                f"cannot load YuNet model {model} ({reason}); set detector.model to a YuNet ONNX file "
                "(face_detection_yunet_2023mar.onnx) or detector.kind: haar"
            ) from None

    def detect(self, grey: np.ndarray, min_size: int, max_size: int) -> list[Box]:
        bgr = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = self._net.detect(bgr)
        boxes = [] if faces is None else [Box(*(int(round(v)) for v in f[:4])) for f in faces]
        return [b for b in boxes if min_size <= b.w <= max_size]


class FaceTracker:
    """Finds the chosen face frame after frame, mostly by searching near where it was."""

    # The near search: a square of 1.5 face widths, for a face 0.8 to 1.25 times the last one's width.
    # The cascade's cost is the windows it tries; twice the face and 0.7 to 1.4 cost twice as much
    # (3.5 against 1.6 ms here) and found nothing more on the test clips. A face that moved further
    # between searches is a miss, and a miss is a full scan in the same frame.
    NEAR_REGION = 1.5
    NEAR_SIZES = (0.8, 1.25)

    def __init__(
        self,
        detector: Detector,
        policy: Policy = "largest",
        scan_width: int = 320,
        min_face: float = 0.12,
        full_scan_every: int = 20,
        locate_every: int = 2,
        absent_scan_every: int = 4,
        track_face_px: int = 64,
    ) -> None:
        self.detector, self.policy = detector, policy
        self.scan_width, self.min_face = scan_width, min_face
        self.full_scan_every, self.track_face_px = full_scan_every, track_face_px
        self.locate_every, self.absent_scan_every = locate_every, absent_scan_every
        self._last: Box | None = None
        self._since_full_scan = 0
        self._unsearched = 0  # frames still to go before the next search

    def find(self, grey: np.ndarray) -> Box | None:
        """The chosen face in a full-resolution grey frame, or None; between searches, the last answer."""
        if self._unsearched > 0:
            self._unsearched -= 1
            return self._last
        box, last = None, self._last
        if last is not None and self._since_full_scan < self.full_scan_every:
            box = self._search_near(grey, last)
            self._since_full_scan += 1
        elif last is not None and self.policy == "largest":
            # The periodic full scan while a face is followed: only a face at least about as large can win,
            # and the small scales are most of a scan's cost (7 against 16 ms for a face a third of the frame).
            box = self._full_scan(grey, min_width=last.w * self.NEAR_SIZES[0])
            self._since_full_scan = 0
        if box is None:
            box = self._full_scan(grey)
            self._since_full_scan = 0
        self._last = box
        self._unsearched = (self.locate_every if box is not None else self.absent_scan_every) - 1
        return box

    def detect_all(self, grey: np.ndarray, min_width: float = 0.0) -> list[Box]:
        """Every face in a full-resolution grey frame (at least `min_width` px wide), the policy's choice first."""
        height, width = grey.shape
        factor = min(1.0, self.scan_width / width)
        small = cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else grey
        small = cv2.equalizeHist(small)
        min_size = max(24, round(self.min_face * small.shape[0]), round(min_width * factor))
        boxes = [b.scaled(1 / factor) for b in self.detector.detect(small, min_size, small.shape[0])]
        return sorted(boxes, key=lambda b: self._rank(b, width, height))

    def _full_scan(self, grey: np.ndarray, min_width: float = 0.0) -> Box | None:
        boxes = self.detect_all(grey, min_width)
        return boxes[0] if boxes else None

    def _search_near(self, grey: np.ndarray, last: Box) -> Box | None:
        height, width = grey.shape
        cx, cy = last.centre
        half = last.w * self.NEAR_REGION / 2  # a square region, centred on the face
        x0, y0 = max(0, round(cx - half)), max(0, round(cy - half))
        x1, y1 = min(width, round(cx + half)), min(height, round(cy + half))
        factor = min(1.0, self.track_face_px / last.w)
        region = grey[y0:y1, x0:x1]
        if factor < 1:
            region = cv2.resize(region, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        region = cv2.equalizeHist(region)
        expected = last.w * factor
        min_size, max_size = max(20, round(expected * self.NEAR_SIZES[0])), round(expected * self.NEAR_SIZES[1])
        boxes = [b.scaled(1 / factor, x0, y0) for b in self.detector.detect(region, min_size, max_size)]
        if not boxes:
            return None
        return min(boxes, key=lambda b: (b.centre[0] - cx) ** 2 + (b.centre[1] - cy) ** 2)

    def _rank(self, box: Box, width: int, height: int) -> float:
        """Lower is preferred."""
        if self.policy == "centre":
            return (box.centre[0] - width / 2) ** 2 + (box.centre[1] - height / 2) ** 2
        return -box.w * box.h


def crop_square(image: np.ndarray, box: Box, margin: float = 0.02) -> np.ndarray:
    """A square crop around the face, `margin` of its size added on each side; edges replicate past the frame."""
    side = round(max(box.w, box.h) * (1 + 2 * margin))
    cx, cy = box.centre
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    height, width = image.shape[:2]
    pad = max(0, -x0, -y0, x0 + side - width, y0 + side - height)
    if pad:
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    return image[y0 : y0 + side, x0 : x0 + side]
