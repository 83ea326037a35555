"""What every frame source hands out, and how it fails: shared by `camera` and `image_folder`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from moodbox.base.errors import Explained


class CameraError(Explained, RuntimeError):
    """A source that cannot deliver frames; the message names the source and the fix."""


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR H×W×3, or grey H×W, uint8
    t: float  # seconds, monotonic within one source


class FrameSource(Protocol):
    """Yields frames until it ends (files) or fails (cameras: raises CameraError)."""

    fps: float
    live: bool

    def read(self) -> Frame | None:
        """The next frame, or None at the end of a file source or a dropped frame of a live one."""

    def close(self) -> None: ...
