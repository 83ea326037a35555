"""Milliseconds per face for the emotion model on one thread.

Times `EmotionClassifier.predict` end to end (grey conversion, resize,
quantisation, inference, dequantisation) and the bare interpreter invoke, over
real face crops: FER2013 PrivateTest when the npz is present, else the test
fixtures. Prints median and p95; speed is measured here, never asserted in tests.

    python tools/bench.py --model models/emotion.tflite --faces 2000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "device"))
import ferdata  # noqa: E402
from moodbox.emotion import EmotionClassifier  # noqa: E402

FIXTURES = HERE.parent / "tests" / "fixtures" / "faces"


def face_crops(data: Path, count: int) -> list[np.ndarray]:
    if data.is_file():
        faces = list(ferdata.load(data)["PrivateTest"].images)
    else:
        faces = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(FIXTURES.glob("*/*.png"))]
    return [faces[i % len(faces)] for i in range(count)]


def summarise(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1e3
    return {"median_ms": round(float(np.median(ms)), 4), "p95_ms": round(float(np.percentile(ms, 95)), 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=HERE.parent / "models" / "emotion.tflite")
    p.add_argument("--data", type=Path, default=ferdata.DEFAULT_DATA)
    p.add_argument("--faces", type=int, default=2000, help="crops to time (at least 1000)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)

    crops = face_crops(args.data, max(args.faces, 1000))
    classifier = EmotionClassifier(args.model, threads=args.threads)
    for face in crops[:100]:  # warm caches and XNNPACK's packed weights
        classifier.predict(face)

    predict, invoke = [], []
    interpreter = classifier._interpreter
    for face in crops:
        t0 = time.perf_counter()
        classifier.predict(face)
        predict.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        interpreter.invoke()
        invoke.append(time.perf_counter() - t0)

    figures = {
        "model": str(args.model),
        "faces": len(crops),
        "threads": args.threads,
        "predict": summarise(predict),
        "invoke_only": summarise(invoke),
    }
    print(f"{len(crops)} faces, {args.threads} thread(s), {args.model}")
    print(
        f"  predict (preprocess + inference): median {figures['predict']['median_ms']:.3f} ms, "
        f"p95 {figures['predict']['p95_ms']:.3f} ms"
    )
    print(
        f"  interpreter invoke only:          median {figures['invoke_only']['median_ms']:.3f} ms, "
        f"p95 {figures['invoke_only']['p95_ms']:.3f} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
