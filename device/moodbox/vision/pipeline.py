"""The data path in one place: frame → face → probabilities → mood decision.

`Vision.step` runs one frame through every stage and records how long each
took, so the service, `moodbox watch` and the benchmark share exactly the
same code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2

from moodbox.vision.camera import Frame
from moodbox.vision.emotion import EmotionClassifier
from moodbox.vision.faces import Box, DetectorError, FaceTracker, HaarDetector, YuNetDetector, crop_square
from moodbox.vision.mood import Decision, MoodEngine, MoodSettings
from moodbox.vision.settings import DetectorSettings, ModelSettings

STAGES = ("detect", "crop", "classify", "decide")


@dataclass
class Step:
    """What one frame produced."""

    box: Box | None
    probabilities: dict[str, float] | None
    decision: Decision | None
    seconds: dict[str, float] = field(default_factory=dict)  # per stage


def build_tracker(d: DetectorSettings) -> FaceTracker:
    detector: HaarDetector | YuNetDetector
    if d.kind == "yunet":
        if d.model is None:
            raise DetectorError("detector.kind is yunet but detector.model is not set; set it to the YuNet ONNX file")
        detector = YuNetDetector(d.model)
    else:
        detector = HaarDetector()
    return FaceTracker(
        detector,
        policy=d.policy,
        scan_width=d.scan_width,
        min_face=d.min_face,
        full_scan_every=d.full_scan_every,
        locate_every=d.locate_every,
        absent_scan_every=d.absent_scan_every,
    )


class Vision:
    """Camera frames in, mood decisions out."""

    def __init__(self, classifier: EmotionClassifier, tracker: FaceTracker, engine: MoodEngine, margin: float) -> None:
        self.classifier, self.tracker, self.engine, self.margin = classifier, tracker, engine, margin

    @classmethod
    def from_settings(cls, model: ModelSettings, detector: DetectorSettings, mood: MoodSettings) -> Vision:
        """The vision path as config.yaml's `model:`, `detector:` and `mood:` sections describe it."""
        classifier = EmotionClassifier(model.path, threads=model.threads)
        return cls(classifier, build_tracker(detector), MoodEngine(mood), detector.crop_margin)

    def step(self, frame: Frame) -> Step:
        clock = time.perf_counter
        t0 = clock()
        grey = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY) if frame.image.ndim == 3 else frame.image
        box = self.tracker.find(grey)
        t1 = clock()
        face = crop_square(grey, box, self.margin) if box else None
        t2 = clock()
        probs = self.classifier.predict(face) if face is not None else None
        t3 = clock()
        decision = self.engine.observe(frame.t, probs)
        t4 = clock()
        seconds = {"detect": t1 - t0, "crop": t2 - t1, "classify": t3 - t2, "decide": t4 - t3}
        return Step(box, probs, decision, seconds)


def reloaded_vision(
    vision: Vision, old: tuple[ModelSettings, DetectorSettings], new: tuple[ModelSettings, DetectorSettings]
) -> Vision:
    """`vision` with new settings, the mood engine kept; a changed model or detector is loaded here, so a bad one
    fails before anything is replaced."""
    (old_model, old_detector), (model, detector) = old, new
    classifier = vision.classifier
    if model != old_model:
        classifier = EmotionClassifier(model.path, threads=model.threads)
    tracker = vision.tracker if detector == old_detector else build_tracker(detector)
    return Vision(classifier, tracker, vision.engine, detector.crop_margin)
