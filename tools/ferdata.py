"""FER2013 + FER+ votes: loading, splits and the two label sets the tools share.

Our label order is FER2013's own (angry, disgust, fear, happy, sad, surprise,
neutral), so original labels need no remapping; FER+ vote columns do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SPLITS = {"Training": 0, "PublicTest": 1, "PrivateTest": 2}
DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fer2013" / "fer2013.npz"

# FER+ columns: neutral, happiness, surprise, sadness, anger, disgust, fear,
# contempt, unknown, NF.  FERPLUS_COLUMNS[k] is the column of LABELS[k].
FERPLUS_COLUMNS = (4, 5, 6, 1, 3, 2, 0)
FERPLUS_NOT_A_FACE = 9


@dataclass(frozen=True)
class Split:
    """One split: images plus both label sets."""

    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) int, original FER2013 label
    votes: np.ndarray  # (N, 7) float, FER+ votes over LABELS (contempt/unknown/NF dropped)
    ferplus_major: np.ndarray  # (N,) int, FER+ majority in LABELS order, -1 when contempt/unknown/NF
    not_a_face: np.ndarray  # (N,) bool, FER+ majority is "not a face"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load(path: Path | str = DEFAULT_DATA) -> dict[str, Split]:
    """All three splits of the npz, keyed by FER2013 usage name."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"error: dataset not found at {path}; pass --data PATH to fer2013.npz")
    d = np.load(path)
    raw = d["ferplus"].astype(np.float32)
    major_raw = raw.argmax(axis=1)
    to_ours = {col: k for k, col in enumerate(FERPLUS_COLUMNS)}
    major = np.array([to_ours.get(int(c), -1) for c in major_raw])
    votes = raw[:, FERPLUS_COLUMNS]
    out = {}
    for name, code in SPLITS.items():
        rows = d["usage"] == code
        out[name] = Split(
            images=d["images"][rows],
            labels=d["labels"][rows].astype(np.int64),
            votes=votes[rows],
            ferplus_major=major[rows],
            not_a_face=major_raw[rows] == FERPLUS_NOT_A_FACE,
        )
    return out
