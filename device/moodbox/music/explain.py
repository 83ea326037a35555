"""Why a track sits where it does: the fitted head's inputs that moved it most, per axis.

The head (moodbox.music.moodhead) is linear on standardised inputs, so each input's share of a
track's raw score is its standardised value times its weight. The 200 units of musicnn's inner
layer (`nn:*`) say nothing a person reads one by one: they are summed into one line.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from moodbox.music.moodhead import INPUT_CLIP, MoodHead, head_inputs

TOP = 4
INNER = "musicnn's inner layer"


def readable(name: str) -> str:
    """An input's name as a person reads it: `logit:tag:sad` -> `tag sad`, `log2:tempo_bpm` -> `tempo_bpm`."""
    key = name.split(":", 1)[1] if name.split(":", 1)[0] in ("logit", "log2", "log10") else name
    if key.startswith("nn:"):
        return INNER
    return key.replace("tag:", "tag ", 1)


def contributions(evidence: Mapping[str, float], head: MoodHead, top: int = TOP) -> dict[str, list[tuple[str, float]]]:
    """Axis -> the `top` inputs that moved this track's raw score most, largest first (the head's own units)."""
    x = (head_inputs([evidence], head.inputs)[0] - head.mean) / head.scale
    x = np.clip(np.where(np.isfinite(x), x, 0.0), -INPUT_CLIP, INPUT_CLIP)
    out: dict[str, list[tuple[str, float]]] = {}
    for axis, weights in zip(head.AXES, head.weights, strict=True):
        summed: dict[str, float] = {}
        for name, part in zip(head.inputs, x * weights, strict=True):
            summed[readable(name)] = summed.get(readable(name), 0.0) + float(part)
        out[axis] = sorted(summed.items(), key=lambda kv: -abs(kv[1]))[:top]
    return out
