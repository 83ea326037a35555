"""Build a 640×480 test clip from real face photos: one expression per segment.

Each face is enlarged to about a third of the frame height and placed on a
softly lit background; every frame moves it by a pixel or two and adds sensor
noise, so the pipeline sees a camera-like stream rather than one frozen image.

    python tools/make_clip.py clip.avi tests/fixtures/faces/happy/fer2013_row35200.png:10 \\
        tests/fixtures/faces/sad/fer2013_row34233.png:10
    python tools/make_clip.py clip.avi absent:5 ...   # "absent": an empty room for 5 s
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import cv2
import numpy as np

SIZE = (640, 480)
ABSENT = "absent"


def background(rng: np.random.Generator) -> np.ndarray:
    """A grey wall lit from one side, like a living room."""
    x = np.linspace(0, 1, SIZE[0])[None, :]
    y = np.linspace(0, 1, SIZE[1])[:, None]
    wall = 90 + 60 * x + 20 * y
    return np.clip(wall + rng.normal(0, 2, wall.shape), 0, 255).astype(np.uint8)


def compose(face: np.ndarray | None, wall: np.ndarray, rng: np.random.Generator, face_px: int) -> np.ndarray:
    frame = wall.astype(np.float32)
    if face is not None:
        big = cv2.resize(face, (face_px, face_px), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        dx, dy = rng.integers(-2, 3, size=2)
        x0, y0 = (SIZE[0] - face_px) // 2 + dx, (SIZE[1] - face_px) // 2 - 20 + dy
        frame[y0 : y0 + face_px, x0 : x0 + face_px] = big
    frame += rng.normal(0, 3, frame.shape)
    return cv2.cvtColor(np.clip(frame, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def make_clip(out: Path, segments: list[tuple[np.ndarray | None, float]], fps: float = 15.0, seed: int = 0) -> Path:
    """Write an MJPEG .avi; each segment is (grey face or None for nobody, seconds)."""
    rng = np.random.default_rng(seed)
    wall = background(rng)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {out}")
    for face, seconds in segments:
        for _ in range(round(seconds * fps)):
            writer.write(compose(face, wall, rng, face_px=160))
    writer.release()
    return out


def _segment(spec: str) -> tuple[np.ndarray | None, float]:
    """`IMAGE:SECONDS` (or `absent:SECONDS`) as (grey face or None, seconds); SystemExit with one line if not."""
    name, _, seconds = spec.rpartition(":")
    try:
        duration = float(seconds)
    except ValueError:
        duration = math.nan
    if not name or not math.isfinite(duration) or not 0 < duration <= 3600:
        raise SystemExit(
            f"make_clip.py: segment {spec!r}: give IMAGE:SECONDS with SECONDS a number from 0 to 3600, "
            "as in face.png:10 or absent:5"
        )
    if name == ABSENT:
        return None, duration
    face = cv2.imread(name, cv2.IMREAD_GRAYSCALE) if Path(name).is_file() else None
    if face is None:
        why = "it is not an image OpenCV can read" if Path(name).is_file() else "no such file"
        raise SystemExit(f"make_clip.py: cannot read {name}: {why}; check the path (or write absent:SECONDS)")
    return face, duration


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("segments", nargs="+", metavar="IMAGE:SECONDS")
    p.add_argument("--fps", type=float, default=15.0)
    args = p.parse_args(argv)
    if not math.isfinite(args.fps) or not 1 <= args.fps <= 120:
        raise SystemExit(f"make_clip.py: --fps {args.fps:g}: give a frame rate from 1 to 120")
    segments = [_segment(spec) for spec in args.segments]
    if not args.out.parent.is_dir():
        raise SystemExit(f"make_clip.py: cannot write {args.out}: folder {args.out.parent} does not exist; create it")
    try:
        make_clip(args.out, segments, args.fps)
    except KeyboardInterrupt:
        args.out.unlink(missing_ok=True)
        print(f"make_clip.py: interrupted; the unfinished {args.out} was removed", file=sys.stderr)
        return 130
    except RuntimeError as e:  # the writer would not open: a folder named like the clip, no permission
        raise SystemExit(
            f"make_clip.py: {e}; check the folder's permissions and that no folder has that name"
        ) from None
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
