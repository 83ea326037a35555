"""The `moodbox` command.

Every failure a person can fix (a bad config value, a missing model, an
unreadable image) ends as one line on stderr and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from moodbox import config
from moodbox.emotion import EmotionClassifier, ModelError

EXIT_USAGE = 2


class UserError(Exception):
    """A problem the person at the terminal can fix; printed as one line."""


def _read_image(path: Path) -> np.ndarray | None:
    """Decode an image file, or None if it is missing or not an image (without OpenCV's stderr noise)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def _classify(args: argparse.Namespace, cfg: config.Config) -> int:
    classifier = EmotionClassifier(cfg.model.path, threads=cfg.model.threads)
    for name in args.images:
        image = _read_image(name)
        if image is None:
            raise UserError(f"cannot read image {name}: missing or not an image file; check the path")
        probs = classifier.predict(image)
        best = max(probs, key=probs.__getitem__)
        rounded = {label: round(p, 4) for label, p in probs.items()}
        print(json.dumps({"image": str(name), "emotion": best, "probabilities": rounded}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodbox", description="Music that follows the listener's mood.")
    parser.add_argument("--config", type=Path, default=None, help="config file (default: ./config.yaml)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    classify = commands.add_parser("classify", help="print emotion probabilities for face images")
    classify.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="a face image, used whole as the crop")
    classify.set_defaults(run=_classify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config.load(args.config)
        return int(args.run(args, cfg))
    except (config.ConfigError, ModelError, UserError) as e:
        print(f"moodbox: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
