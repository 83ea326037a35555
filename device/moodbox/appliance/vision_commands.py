"""`moodbox classify` and `moodbox watch`: the vision path from the command line, on images, clips or a camera.

`classify` finds the faces in each image and prints their emotion probabilities (a file that cannot
be read is one line naming the cause, and the rest go on); `watch` runs a source through the same
`Vision` as the service and prints each mood decision, and each face found or lost, as a JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from moodbox.base.native import native_stderr_silenced
from moodbox.config import Config, expand_user
from moodbox.vision.camera import Pacer, frames, open_source
from moodbox.vision.emotion import EmotionClassifier
from moodbox.vision.faces import Box, crop_square
from moodbox.vision.pipeline import Vision, build_tracker

EXIT_USAGE = 2

JPEG_END = b"\xff\xd9"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
CROP_SIZED = 128  # px: an image this small is a face crop, not a photo with a face in it


def _read_image(path: Path) -> np.ndarray | str:
    """The decoded image, or why it cannot be read: one phrase naming the cause (OpenCV's and the decoders'
    own stderr lines are kept out)."""

    if path.is_dir():
        return "it is a folder; name the image files in it"
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        return "no such file; check the path"
    except OSError as e:
        return f"cannot read it ({e.strerror}); check its permissions"
    if not data.size:
        return "the file is empty; copy the image again"
    head, tail = data[:8].tobytes(), data[-12:].tobytes()
    if (head[:3] == b"\xff\xd8\xff" and JPEG_END not in tail) or (head == PNG_SIGNATURE and PNG_END not in tail):
        return "the image is cut short (a partial copy or download?); copy it again"
    try:
        with native_stderr_silenced():  # libpng and libjpeg print their own lines about damaged data
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error:  # e.g. a header claiming more than OPENCV_IO_MAX_IMAGE_PIXELS
        image = None
    return image if image is not None else "not an image OpenCV can decode, or damaged; use a JPEG or PNG"


def _rounded(probs: dict[str, float]) -> dict[str, float]:
    return {label: round(p, 4) for label, p in probs.items()}


def classify_command(args: argparse.Namespace, cfg: Config) -> int:
    """Every image in turn: one JSON line each; a file that cannot be read is one stderr line, and the rest go on."""

    classifier = EmotionClassifier(cfg.model.path, threads=cfg.model.threads)
    tracker = build_tracker(cfg.detector)
    unread = 0
    for name in args.images:
        image = _read_image(name)
        if isinstance(image, str):
            print(f"moodbox: cannot read image {name}: {image}", file=sys.stderr)
            unread += 1
            continue
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        boxes = [Box(0, 0, grey.shape[1], grey.shape[0])] if args.whole else tracker.detect_all(grey)
        faces = []
        for box in boxes:
            probs = classifier.predict(grey if args.whole else crop_square(grey, box, cfg.detector.crop_margin))
            best = max(probs, key=probs.__getitem__)
            faces.append({"box": [box.x, box.y, box.w, box.h], "emotion": best, "probabilities": _rounded(probs)})
        line: dict[str, object] = {"image": str(name), "faces": faces}
        if not faces:
            line["note"] = _why_no_face(grey.shape, cfg.detector.min_face)
        print(json.dumps(line))
        sys.stdout.flush()
    return EXIT_USAGE if unread else 0


def _why_no_face(shape: tuple[int, ...], min_face: float) -> str:
    height, width = shape[:2]
    if max(height, width) <= CROP_SIZED:
        return (
            f"no face found: a {width}x{height} image is a face crop, and the detector needs room around a face; "
            "use --whole to read the whole image as the face"
        )
    smallest = max(24, round(min_face * height))
    return (
        f"no face found; faces under detector.min_face ({min_face:g} of the image height, {smallest} px here) "
        "or turned away are not found"
    )


def watch_command(args: argparse.Namespace, cfg: Config) -> int:

    expand_user(args.source, "SOURCE")
    vision = Vision.from_settings(cfg.model, cfg.detector, cfg.mood)
    source = open_source(args.source, fps=cfg.camera.fps, give_up_after=cfg.camera.give_up_after)
    count, first_t, started = 0, None, time.perf_counter()
    pace = Pacer()
    faces = _FaceNews(cfg.detector.min_face)
    try:
        for frame in frames(source):
            if first_t is None:
                first_t = frame.t
            if args.realtime:
                pace(frame)
            step = vision.step(frame)
            count += 1
            faces.see(round(frame.t - first_t, 3), step.box, frame.image.shape[0])
            if step.decision:
                d = step.decision
                print(json.dumps({"t": round(d.t - first_t, 3), "mood": d.mood, "confidence": round(d.confidence, 4)}))
                sys.stdout.flush()
    finally:
        source.close()
    seconds = time.perf_counter() - started
    fps = round(count / seconds, 1) if seconds else 0.0
    print(json.dumps({"frames": count, "seconds": round(seconds, 3), "fps": fps, "faces_found": faces.found}))
    return 0


class _FaceNews:
    """`watch`'s lines for aiming the camera: a face found (its height as a share of the frame's, beside
    detector.min_face, the smallest looked for) and lost."""

    def __init__(self, min_face: float) -> None:
        self.min_face, self.found, self.present = min_face, 0, False

    def see(self, t: float, box: Box | None, frame_height: int) -> None:
        if (box is not None) == self.present:
            return
        self.present = box is not None
        if box is None:
            print(json.dumps({"t": t, "face": "lost"}))
            return
        self.found += 1
        size = round(box.h / frame_height, 3)
        print(json.dumps({"t": t, "face": "found", "size": size, "min_face": self.min_face, "px": box.h}))
