"""The fitted mood head: a track's evidence -> (valence, arousal), placed relative to the library.

models/music_head.json holds a linear head per axis (ridge regression on standardised evidence:
musicnn's penultimate layer, its tag logits and the signal cues), fitted host-side on annotated music
by tools/fit_music_head.py with artist-split cross-validation (models/MUSIC_CARD.md). Here it is
numbers and numpy. `place` scores every track of a library and spreads the scores within that
library (robust z-score, tanh), so placement stays relative: a library of only quiet folk still has
a calm and a lively end.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from moodbox.base.litert import ModelError
from moodbox.base.shipped import shipped_model

__all__ = ["ModelError", "MoodHead", "head_input", "head_inputs", "head_sha256", "load_head", "place"]


def default_head_path() -> Path:
    """The shipped models/music_head.json, of the source tree or of the install."""
    return shipped_model("music_head.json")


HEAD_RESTORE = "restore models/music_head.json (rerun tools/install.sh, or `make music-head` in a checkout)"
INPUT_CLIP = 6.0  # standardised head inputs are clipped here (the fit clips them the same way)
TAG_LOGIT_FLOOR = 1e-4  # a tag's probability is clipped to [1e-4, 1 - 1e-4] before its logit


def head_input(evidence: Mapping[str, float], name: str) -> float:
    """One input of the mood head, by its name in music_head.json: an evidence key, or a transform of one.

    `logit:<key>` is log(p / (1 - p)) of a probability, `log2:<key>` and `log10:<key>` the logarithm of a
    positive measure (tempo is heard in ratios; brightness is a share spread over decades). A missing or
    non-finite measurement is NaN, which the head scores as the dev set's mean.
    """
    transform, _, key = name.partition(":") if name.split(":", 1)[0] in ("logit", "log2", "log10") else ("", "", name)
    value = float(evidence.get(key, math.nan))
    if not math.isfinite(value):
        return math.nan
    if transform == "logit":
        p = min(max(value, TAG_LOGIT_FLOOR), 1 - TAG_LOGIT_FLOOR)
        return math.log(p / (1 - p))
    if transform == "log2":
        return math.log2(max(value, 1e-6))
    if transform == "log10":
        return math.log10(max(value, 1e-6))
    return value


def head_inputs(evidence: Sequence[Mapping[str, float]], names: Sequence[str]) -> np.ndarray:
    """The (tracks, inputs) matrix the head reads, NaN where a measurement is missing (filled row by row:
    a large library never holds its inputs as Python floats)."""
    out = np.empty((len(evidence), len(names)), float)
    for row, e in zip(out, evidence, strict=True):
        row[:] = [head_input(e, name) for name in names]
    return out


class MoodHead:
    """The fitted linear head: standardised evidence -> a valence and an arousal score (models/music_head.json).

    Fitted host-side by tools/fit_music_head.py (ridge regression per axis on the dev set, artist-split
    cross-validation; models/MUSIC_CARD.md); here it is numbers and numpy. The file carries a sha256 of
    its own numbers, so a damaged copy is refused rather than placing every track wrongly.
    """

    AXES = ("valence", "arousal")

    def __init__(self, path: Path | None = None) -> None:
        path = Path(path or default_head_path())
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            self.version = str(meta["version"])
            self.inputs: tuple[str, ...] = tuple(str(n) for n in meta["inputs"])
            self.mean = np.asarray(meta["mean"], float)
            self.scale = np.asarray(meta["scale"], float)
            self.weights = np.array([meta[axis]["weights"] for axis in self.AXES], float)
            self.bias = np.array([float(meta[axis]["bias"]) for axis in self.AXES])
            self.centre = np.array([float(meta[axis]["centre"]) for axis in self.AXES])
            self.spread = np.array([float(meta[axis]["spread"]) for axis in self.AXES])
            sha = str(meta["sha256"])
        except FileNotFoundError:
            raise ModelError(f"music mood head not found: {path}; {HEAD_RESTORE}") from None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ModelError(f"music mood head {path} is unreadable ({e!r}); {HEAD_RESTORE}") from None
        n = len(self.inputs)
        shapes_ok = self.mean.shape == self.scale.shape == (n,) and self.weights.shape == (2, n)
        numbers = [self.mean, self.scale, self.weights, self.bias, self.centre, self.spread]
        if not shapes_ok or not all(np.all(np.isfinite(a)) for a in numbers) or np.any(self.scale <= 0):
            raise ModelError(f"music mood head {path} has inconsistent numbers; {HEAD_RESTORE}")
        if head_sha256(meta) != sha:
            raise ModelError(f"music mood head {path} does not match its sha256 (damaged); {HEAD_RESTORE}")

    def scores(self, evidence: Sequence[Mapping[str, float]]) -> np.ndarray:
        """Raw (tracks, 2) valence and arousal scores: absolute, before the library's normalisation."""
        x = (head_inputs(evidence, self.inputs) - self.mean) / self.scale
        # a missing measurement scores as the dev set's mean; a wild one counts as INPUT_CLIP dev-set spreads
        x = np.clip(np.where(np.isfinite(x), x, 0.0), -INPUT_CLIP, INPUT_CLIP)
        return np.asarray(x @ self.weights.T + self.bias, float)


def head_sha256(meta: Mapping[str, object]) -> str:
    """sha256 of the head's numbers and names (every key but the sha itself), in canonical json."""
    payload = {key: value for key, value in meta.items() if key != "sha256"}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@functools.lru_cache(maxsize=4)
def load_head(path: Path | None = None) -> MoodHead:
    """The head at `path` (default: the shipped one), read once per process."""
    return MoodHead(path)


PRIOR_WEIGHT = 4.0  # how many tracks' worth of belief the dev set's output distribution carries
Z_CLIP = 3.0  # one wild track moves at most this many library spreads
SPREAD = 0.8  # tanh(0.8 z): a track one library spread from the middle lands at about +-0.66
MIN_SPREAD = 0.25  # of the prior spread: the narrowest spread a library's scores are scaled by


def place(evidence: Sequence[Mapping[str, float]], head: MoodHead | None = None) -> list[tuple[float, float]]:
    """(valence, arousal) in [-1, 1] for each track's evidence, relative to the given set (the library).

    The fitted head turns each track's evidence into two absolute scores; each axis is then centred on
    the library's median and scaled by its robust spread (IQR / 1.349), both blended with the head's
    output distribution on the dev set by PRIOR_WEIGHT pseudo-tracks, clipped at +-Z_CLIP and mapped
    through tanh. So a library of only quiet folk still has a calm and a lively end, and one track
    alone is placed against the dev set. Deterministic and order-independent.
    """
    if not evidence:
        return []
    head = head or load_head()
    raw = head.scores(evidence)
    axes = [np.tanh(SPREAD * _robust_z(raw[:, i], head.centre[i], head.spread[i])) for i in range(2)]
    return [(float(v), float(a)) for v, a in zip(axes[0], axes[1], strict=True)]


def _robust_z(values: np.ndarray, prior_centre: float, prior_spread: float) -> np.ndarray:
    """Robust z-scores against the library blended with the prior; a non-finite value (damaged evidence) scores 0."""
    finite = np.isfinite(values)
    n = int(finite.sum())
    q25, median, q75 = np.percentile(values[finite], [25, 50, 75]) if n else (0.0, 0.0, 0.0)
    centre = (n * median + PRIOR_WEIGHT * prior_centre) / (n + PRIOR_WEIGHT)
    spread = (n * (q75 - q25) / 1.349 + PRIOR_WEIGHT * prior_spread) / (n + PRIOR_WEIGHT)
    # a library whose tracks nearly all sound the same (an album of one session) must not blow
    # its last decimals up to the ends of the axis: differences under a quarter of the prior's spread
    # are measurement resolution, not music
    spread = max(spread, MIN_SPREAD * prior_spread)
    z = np.clip((np.where(finite, values, centre) - centre) / spread, -Z_CLIP, Z_CLIP)
    return np.asarray(z, float)
