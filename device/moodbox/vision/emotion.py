"""Face crop in, emotion probabilities out: the int8 TFLite model behind one call.

This is the one piece of inference code that the device and every tool share,
so the preprocessing here *is* the model's contract: grey, resized to the
model's input with area averaging (or bilinear when enlarging), raw 0..255
pixels fed through the input tensor's own quantisation. Nothing else
normalises the face, because the network was trained on exactly that.

The model is only trusted together with its metadata, emotion.json beside it:
the file's sha256 must match (a damaged copy can load and run, giving quiet
nonsense) and the labels, in the model's output order, come from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from moodbox.base.litert import ModelError, interpreter, read_verified
from moodbox.base.moods import MOODS

LABELS = MOODS  # the labels emotion.json must name, once each
RESTORE = "restore models/emotion.tflite and models/emotion.json together (rerun tools/install.sh)"


def _labels(meta_path: Path, labels: list[Any]) -> tuple[str, ...]:
    """The labels of emotion.json, which must be the moods, once each, in the model's output order."""
    if sorted(map(str, labels)) != sorted(LABELS) or len(labels) != len(LABELS):
        raise ModelError(f"labels in {meta_path} must be the moods {', '.join(LABELS)}, once each; {RESTORE}")
    return tuple(map(str, labels))


class EmotionClassifier:
    """Classifies one face crop at a time with the int8 emotion model.

    >>> clf = EmotionClassifier("models/emotion.tflite")
    >>> clf.predict(face)["happy"]

    `verify=False` skips emotion.json (hash and labels, which are then LABELS):
    only for host tools that evaluate a candidate .tflite before it has one.
    """

    def __init__(self, model_path: str | Path, threads: int = 1, verify: bool = True) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(
                f"model file not found: {path}; set model.path to an emotion.tflite with its emotion.json beside "
                "it, or rerun tools/install.sh to restore /opt/moodbox/models/"
            )
        content, meta = read_verified(path, RESTORE, verify)
        self.labels: tuple[str, ...] = _labels(path.with_suffix(".json"), meta["labels"]) if verify else LABELS
        self._interpreter = interpreter(content, threads, path, RESTORE)
        inp = self._interpreter.get_input_details()
        out = self._interpreter.get_output_details()
        if len(inp) != 1 or len(out) != 1:
            raise ModelError(f"model file {path} has {len(inp)} inputs and {len(out)} outputs, expected 1 and 1")
        self._input, self._output = inp[0], out[0]
        shape = tuple(int(n) for n in self._input["shape"])
        out_shape = tuple(int(n) for n in self._output["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 1 or out_shape != (1, len(self.labels)):
            raise ModelError(
                f"model file {path} has input {shape} and output {out_shape}; an emotion model takes "
                f"(1, H, W, 1) grey faces and returns (1, {len(self.labels)}) scores, one per label; {RESTORE}"
            )
        self.input_size = (shape[2], shape[1])  # (width, height) as OpenCV wants it
        self._quantised = _quantisation_table(self._input)

    def preprocess(self, face: np.ndarray) -> np.ndarray:
        """A face crop (grey H×W or BGR H×W×3, uint8, any size) as the model's input tensor."""
        face = np.asarray(face)
        if face.dtype != np.uint8 or face.ndim not in (2, 3) or face.size == 0:
            raise ValueError(
                f"face must be a non-empty uint8 grey (H×W) or BGR (H×W×3) image; got {face.dtype} {face.shape}"
            )
        if face.ndim == 3:
            conversions = {1: None, 3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}
            if face.shape[2] not in conversions:
                raise ValueError(f"face must have 1, 3 or 4 channels; got {face.shape[2]}")
            code = conversions[face.shape[2]]
            face = face[:, :, 0] if code is None else cv2.cvtColor(face, code)
        face = central_square(face)
        shrinking = face.shape[1] > self.input_size[0] or face.shape[0] > self.input_size[1]
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        grey = cv2.resize(face, self.input_size, interpolation=interpolation)
        tensor = grey.astype(np.float32) if self._quantised is None else self._quantised[grey]
        return tensor[None, :, :, None]

    def invoke(self) -> None:
        """Run the model on whatever input tensor was last set (for benchmarks of inference alone)."""
        self._interpreter.invoke()

    def predict(self, face: np.ndarray) -> dict[str, float]:
        """Probabilities for each label, summing to 1."""
        self._interpreter.set_tensor(self._input["index"], self.preprocess(face))
        self.invoke()
        raw = self._interpreter.get_tensor(self._output["index"])[0].astype(np.float32)
        scale, zero_point = self._output["quantization"]
        scores = (raw - zero_point) * scale if scale else raw
        scores = np.clip(scores, 0.0, None)
        total = float(scores.sum())
        probs = scores / total if total > 0 else np.full(len(self.labels), 1.0 / len(self.labels), np.float32)
        return {label: float(p) for label, p in zip(self.labels, probs, strict=True)}


def _quantisation_table(tensor: dict[str, Any]) -> np.ndarray | None:
    """Every 0..255 pixel's quantised value for an integer input tensor (None for a float one).

    The resized crop is still uint8, so quantising it is one table look-up per
    pixel instead of a divide, round and clip over floats.
    """
    dtype = tensor["dtype"]
    if dtype == np.float32:
        return None
    scale, zero_point = tensor["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(np.arange(256, dtype=np.float32) / scale + zero_point), info.min, info.max).astype(dtype)


def central_square(image: np.ndarray) -> np.ndarray:
    """The middle square of a non-square crop.

    The model only ever saw square faces. Squeezing a portrait-shaped crop
    would distort the face, so the extra rows or columns are trimmed evenly
    from both ends instead. Those are mostly hair, neck or background.
    """
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]
