"""Choosing how to blend the original-label head with the FER+ head.

Original FER2013 labels and FER+ majorities agree on only 63% of faces, so one
output cannot be best on both. Blending the two heads' logits,
w * original + (1 - w) * ferplus, walks the trade-off; we pick the w whose
weaker margin over its target is largest on PublicTest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TARGET_ORIGINAL = 0.68
TARGET_FERPLUS = 0.80
WEIGHTS = np.round(np.linspace(0.0, 1.0, 21), 2)


def accuracies(logits: np.ndarray, split) -> tuple[float, float]:
    """(accuracy on original labels, accuracy on FER+ majority labels)."""
    pred = logits.argmax(axis=1)
    valid = split.ferplus_major >= 0
    return float((pred == split.labels).mean()), float((pred[valid] == split.ferplus_major[valid]).mean())


@dataclass(frozen=True)
class Mix:
    weight: float
    original: float
    ferplus: float

    @property
    def score(self) -> float:
        return min(self.original - TARGET_ORIGINAL, self.ferplus - TARGET_FERPLUS)

    def summary(self) -> dict[str, float]:
        return {"mix_w": self.weight, "val_original": round(self.original, 4), "val_ferplus": round(self.ferplus, 4)}


def best_mix(original: np.ndarray, ferplus: np.ndarray, split) -> Mix:
    mixes = [Mix(float(w), *accuracies(w * original + (1 - w) * ferplus, split)) for w in WEIGHTS]
    return max(mixes, key=lambda m: m.score)
