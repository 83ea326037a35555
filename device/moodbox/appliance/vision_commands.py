"""`moodbox classify` and `moodbox watch`: the vision path from the command line, on images, clips or a camera.

`classify` finds the faces in each image and prints their emotion probabilities; `watch` runs a
source through the same `Vision` as the service and prints each mood decision as a JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from moodbox.base.errors import Explained
from moodbox.config import Config, expand_user
from moodbox.vision.camera import Pacer, frames, open_source
from moodbox.vision.emotion import EmotionClassifier
from moodbox.vision.faces import Box, crop_square
from moodbox.vision.pipeline import Vision, build_tracker


class UnreadableImage(Explained):
    """An image file that is missing or not an image."""


def _read_image(path: Path) -> np.ndarray | None:
    """Decode an image file, or None if it is missing or not an image (without OpenCV's stderr noise)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def _rounded(probs: dict[str, float]) -> dict[str, float]:
    return {label: round(p, 4) for label, p in probs.items()}


def classify_command(args: argparse.Namespace, cfg: Config) -> int:
    classifier = EmotionClassifier(cfg.model.path, threads=cfg.model.threads)
    tracker = build_tracker(cfg.detector)
    for name in args.images:
        image = _read_image(name)
        if image is None:
            raise UnreadableImage(f"cannot read image {name}: missing or not an image file; check the path")
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        boxes = [Box(0, 0, grey.shape[1], grey.shape[0])] if args.whole else tracker.detect_all(grey)
        faces = []
        for box in boxes:
            probs = classifier.predict(grey if args.whole else crop_square(grey, box, cfg.detector.crop_margin))
            best = max(probs, key=probs.__getitem__)
            faces.append({"box": [box.x, box.y, box.w, box.h], "emotion": best, "probabilities": _rounded(probs)})
        print(json.dumps({"image": str(name), "faces": faces}))
    return 0


def watch_command(args: argparse.Namespace, cfg: Config) -> int:
    expand_user(args.source, "SOURCE")
    vision = Vision.from_settings(cfg.model, cfg.detector, cfg.mood)
    source = open_source(args.source, fps=cfg.camera.fps, give_up_after=cfg.camera.give_up_after)
    count, first_t, started = 0, None, time.perf_counter()
    pace = Pacer()
    try:
        for frame in frames(source):
            if first_t is None:
                first_t = frame.t
            if args.realtime:
                pace(frame)
            step = vision.step(frame)
            count += 1
            if step.decision:
                d = step.decision
                print(json.dumps({"t": round(d.t - first_t, 3), "mood": d.mood, "confidence": round(d.confidence, 4)}))
                sys.stdout.flush()
    finally:
        source.close()
    seconds = time.perf_counter() - started
    fps = round(count / seconds, 1) if seconds else 0.0
    print(json.dumps({"frames": count, "seconds": round(seconds, 3), "fps": fps}))
    return 0
