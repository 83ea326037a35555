"""The vision path's sections of config.yaml: the emotion model, the camera and the face detector.

The mood engine's own section is `MoodSettings`, beside the engine in moodbox.vision.mood. Each
field's metadata bounds what the config loader (moodbox.config) accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from moodbox.base.shipped import shipped_model


def _range(low: float, high: float) -> dict[str, Any]:
    return {"min": low, "max": high}


def default_model_path() -> Path:
    """The shipped emotion.tflite wherever it was installed; the install location if it is nowhere."""
    return shipped_model("emotion.tflite")


@dataclass(frozen=True)
class ModelSettings:
    """The `model:` section: the emotion model."""

    path: Path = field(default_factory=default_model_path)
    threads: int = field(default=1, metadata=_range(1, 8))


@dataclass(frozen=True)
class CameraSettings:
    """The `camera:` section: where frames come from."""

    source: str = "picamera2"  # picamera2, a V4L2 device index, a video file or a folder of images
    fps: float = field(default=10.0, metadata=_range(0.1, 120))  # frame rate of an image folder
    give_up_after: float = field(default=30.0, metadata=_range(1, 3600))  # seconds without a frame
    analyse_fps: float = field(default=7.5, metadata=_range(0.5, 60))  # frames analysed a second by `run`


@dataclass(frozen=True)
class DetectorSettings:
    """The `detector:` section: how faces are found and cropped."""

    kind: Literal["haar", "yunet"] = "haar"
    model: Path | None = None  # YuNet ONNX file, needed for kind: yunet
    policy: Literal["largest", "centre"] = "largest"
    scan_width: int = field(default=320, metadata=_range(120, 1920))
    min_face: float = field(default=0.12, metadata=_range(0.02, 1.0))
    full_scan_every: int = field(default=20, metadata=_range(1, 1000))
    locate_every: int = field(default=2, metadata=_range(1, 100))
    absent_scan_every: int = field(default=4, metadata=_range(1, 100))
    crop_margin: float = field(default=0.02, metadata=_range(0.0, 1.0))
