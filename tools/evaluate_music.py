"""How well `moodbox library scan` places a labelled folder of music: valence and arousal against labels.

The folder is scanned by the real command, `moodbox library scan FOLDER --json`, with a config whose
library cache lies in a temporary folder (or --cache), so every figure is what a listener's library
gets: decoding, the tagger, the cues, the fitted head and the within-library placement. The labels
come from FOLDER/labels.csv (`file,quadrant,valence,arousal,artist,genres`; valence and arousal are
+1/-1 signs, as in the 4Q dev set, ../shared/data/music-4q-dev/README.md). Printed:

- Spearman correlation of each axis with its label, and AUC per axis (the chance that a random
  positive track is placed above a random negative one);
- 4-quadrant accuracy (the signs of the placement against the label's quadrant), per quadrant;
- within-half valence AUC: Q1 vs Q2 among the energetic tracks, Q4 vs Q3 among the calm ones
  (calm content music placed as sad is the failure this exists to catch);
- the correlation of placed valence with placed arousal over the library;
- the same per genre (AllMusic's, a track counting in each of its genres; genres with >= 15 tracks);
- seconds per analysed track: wall clock and the scan process's CPU time.

A quadrant confusion PNG goes to reports/ (--out). Evaluating the shipped head on the dev set it was
fitted on measures the training fit, not a held-out figure: the honest dev-set figure is the
artist-split cross-validated one that tools/fit_music_head.py prints (models/MUSIC_CARD.md).

    python tools/evaluate_music.py ../shared/data/music-4q-dev          # make evaluate-music
    python tools/evaluate_music.py FOLDER --cache reports/music-eval/cache.sqlite   # reuse analyses
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
MIN_GENRE = 15  # genres with fewer tracks are not printed: their figures are noise


@dataclass(frozen=True)
class Labelled:
    """One labelled clip of the folder."""

    file: str
    quadrant: str
    valence: int
    arousal: int
    artist: str
    genres: tuple[str, ...]


def read_labels(folder: Path) -> dict[str, Labelled]:
    return read_labels_file(folder / "labels.csv")


def read_labels_file(path: Path) -> dict[str, Labelled]:
    with path.open(newline="", encoding="utf-8") as f:
        return {
            row["file"]: Labelled(
                row["file"],
                row["quadrant"],
                int(row["valence"]),
                int(row["arousal"]),
                row["artist"],
                tuple(g.strip() for g in row["genres"].split(";") if g.strip()),
            )
            for row in csv.DictReader(f)
        }


@dataclass(frozen=True)
class Scan:
    """What `moodbox library scan --json` printed: one entry per track, and its summary line."""

    tracks: dict[str, dict[str, object]]
    summary: dict[str, object]
    wall_s: float
    cpu_s: float


def scan_folder(folder: Path, cache: Path | None = None) -> Scan:
    """`moodbox library scan FOLDER --json` in a subprocess, its cache at `cache` (default: a temp dir)."""
    with tempfile.TemporaryDirectory() as tmp:
        cache = cache or Path(tmp) / "library.sqlite"
        cache.parent.mkdir(parents=True, exist_ok=True)
        config = Path(tmp) / "config.yaml"
        config.write_text(
            f"library:\n  music_dir: {json.dumps(str(folder.resolve()))}\n  cache: {json.dumps(str(cache.resolve()))}\n"
        )
        command = [sys.executable, "-m", "moodbox", "--config", str(config), "library", "scan", str(folder), "--json"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"moodbox library scan failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    tracks = {str(line["file"]): line for line in lines if "file" in line}
    summary = next(line for line in lines if "tracks" in line and "file" not in line)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Scan(tracks, summary, wall, cpu)


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their mean rank."""
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x), float)
    r[order] = np.arange(1, len(x) + 1)
    values, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=r)
    counts = np.bincount(inverse)
    return np.asarray((sums / counts)[inverse], float)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3:
        return float("nan")
    rx, ry = ranks(np.asarray(x, float)), ranks(np.asarray(y, float))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = float(np.sqrt(np.dot(rx, rx) * np.dot(ry, ry)))
    return float(np.dot(rx, ry)) / denominator if denominator > 0 else float("nan")


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney): P(score of a positive > score of a negative), ties half."""
    positive = np.asarray(positive, bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = ranks(np.asarray(score, float))
    return float((r[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def quadrant_of(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    """Q1 (+,+), Q2 (-,+), Q3 (-,-), Q4 (+,-) as indices 0..3; zero counts as positive."""
    v, a = np.asarray(valence) >= 0, np.asarray(arousal) >= 0
    return np.where(a, np.where(v, 0, 1), np.where(v, 3, 2))


def figures(valence: np.ndarray, arousal: np.ndarray, truth: Sequence[Labelled]) -> dict[str, float]:
    """Every agreement figure of placed (valence, arousal) with the labels."""
    tv = np.array([t.valence for t in truth])
    ta = np.array([t.arousal for t in truth])
    tq = np.array([QUADRANTS.index(t.quadrant) for t in truth])
    pq = quadrant_of(valence, arousal)
    high, low = ta > 0, ta < 0
    out = {
        "n": float(len(truth)),
        "valence_spearman": spearman(valence, tv),
        "arousal_spearman": spearman(arousal, ta),
        "valence_auc": auc(valence, tv > 0),
        "arousal_auc": auc(arousal, ta > 0),
        "quadrant_accuracy": float(np.mean(pq == tq)),
        "valence_auc_q1_vs_q2": auc(valence[high], tv[high] > 0),
        "valence_auc_q4_vs_q3": auc(valence[low], tv[low] > 0),
        "valence_arousal_correlation": float(np.corrcoef(valence, arousal)[0, 1]) if len(truth) > 2 else float("nan"),
    }
    for k, q in enumerate(QUADRANTS):
        out[f"recall_{q}"] = float(np.mean(pq[tq == k] == k)) if np.any(tq == k) else float("nan")
    return out


def confusion(valence: np.ndarray, arousal: np.ndarray, truth: Sequence[Labelled]) -> np.ndarray:
    m = np.zeros((4, 4), np.int64)
    tq = np.array([QUADRANTS.index(t.quadrant) for t in truth])
    np.add.at(m, (tq, quadrant_of(valence, arousal)), 1)
    return m


def genre_figures(
    valence: np.ndarray, arousal: np.ndarray, truth: Sequence[Labelled], least: int = MIN_GENRE
) -> dict[str, dict[str, float]]:
    """`figures` per genre with at least `least` tracks (placed within the whole library, not per genre)."""
    genres = sorted({g for t in truth for g in t.genres})
    out = {}
    for genre in genres:
        mask = np.array([genre in t.genres for t in truth])
        if mask.sum() >= least:
            out[genre] = figures(valence[mask], arousal[mask], [t for t, m in zip(truth, mask, strict=True) if m])
    return out


def format_figures(f: Mapping[str, float]) -> str:
    return (
        f"valence Spearman {f['valence_spearman']:.3f}, arousal Spearman {f['arousal_spearman']:.3f}; "
        f"AUC valence {f['valence_auc']:.3f}, arousal {f['arousal_auc']:.3f}; "
        f"4-quadrant accuracy {f['quadrant_accuracy']:.3f} "
        f"(recall Q1 {f['recall_Q1']:.2f}, Q2 {f['recall_Q2']:.2f}, Q3 {f['recall_Q3']:.2f}, Q4 {f['recall_Q4']:.2f}); "
        f"valence AUC within the energetic half (Q1 vs Q2) {f['valence_auc_q1_vs_q2']:.3f}, "
        f"within the calm half (Q4 vs Q3) {f['valence_auc_q4_vs_q3']:.3f}; "
        f"valence-arousal correlation {f['valence_arousal_correlation']:+.3f}"
    )


def print_report(title: str, valence: np.ndarray, arousal: np.ndarray, truth: Sequence[Labelled]) -> dict[str, float]:
    overall = figures(valence, arousal, truth)
    print(f"{title} ({len(truth)} tracks):")
    print("  " + format_figures(overall).replace("; ", "\n  "))
    print(f"  per genre (>= {MIN_GENRE} tracks; a track counts in each of its genres):")
    print("    genre                 n   val.rho  ar.rho  val.AUC  ar.AUC  4Q acc  Q4vsQ3")
    for genre, g in genre_figures(valence, arousal, truth).items():
        print(
            f"    {genre[:20]:20s} {int(g['n']):3d}  {g['valence_spearman']:7.3f} {g['arousal_spearman']:7.3f} "
            f"{g['valence_auc']:8.3f} {g['arousal_auc']:7.3f} {g['quadrant_accuracy']:7.3f} "
            f"{g['valence_auc_q4_vs_q3']:7.3f}"
        )
    return overall


def confusion_png(m: np.ndarray, title: str, path: Path) -> None:
    """Row-normalised 4-quadrant confusion matrix with counts, drawn with OpenCV."""
    import cv2

    names = ("Q1 happy", "Q2 tense", "Q3 sad", "Q4 calm")
    cell, margin, top, n = 90, 110, 60, 4
    img = np.full((top + 50 + n * cell, margin + n * cell + 10, 3), 255, np.uint8)
    rows = np.maximum(m.sum(axis=1, keepdims=True), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, title, (10, 25), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "rows: label, columns: placed", (10, 48), font, 0.45, (80, 80, 80), 1, cv2.LINE_AA)
    for i in range(n):
        for j in range(n):
            share = m[i, j] / rows[i, 0]
            shade = int(255 - 200 * share)
            x0, y0 = margin + j * cell, top + i * cell
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), (255, shade, shade), -1)
            cv2.rectangle(img, (x0, y0), (x0 + cell, y0 + cell), (200, 200, 200), 1)
            ink = (255, 255, 255) if share > 0.6 else (0, 0, 0)
            cv2.putText(img, f"{share:.2f}", (x0 + 20, y0 + 40), font, 0.55, ink, 1, cv2.LINE_AA)
            cv2.putText(img, str(m[i, j]), (x0 + 20, y0 + 65), font, 0.45, ink, 1, cv2.LINE_AA)
        cv2.putText(img, names[i], (5, top + i * cell + 50), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, names[i], (margin + i * cell + 5, top + n * cell + 25), font, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, help="a folder of audio files with labels.csv")
    p.add_argument("--cache", type=Path, default=None, help="scan cache to use and keep (default: a fresh temp one)")
    p.add_argument("--out", type=Path, default=ROOT / "reports" / "music", help="where the confusion PNG goes")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as json here")
    args = p.parse_args(argv)

    labels = read_labels(args.folder)
    scan = scan_folder(args.folder, args.cache)
    files = sorted(f for f in scan.tracks if f in labels)
    missing = sorted(set(labels) - set(scan.tracks))
    if missing:
        print(f"{len(missing)} labelled files not placed (failed or silent): {', '.join(missing[:5])}")
    truth = [labels[f] for f in files]
    valence = np.array([float(scan.tracks[f]["valence"]) for f in files])  # type: ignore[arg-type]
    arousal = np.array([float(scan.tracks[f]["arousal"]) for f in files])  # type: ignore[arg-type]
    overall = print_report(f"{args.folder} through `moodbox library scan`", valence, arousal, truth)
    head = json.loads((ROOT / "models" / "music_head.json").read_text())
    if str(head.get("fitted_on", "")).startswith(f"{args.folder.resolve().name}:"):
        cv = head.get("cross_validated", {}).get("overall", {})
        print(
            f"NOTE: the shipped head was fitted on {args.folder.resolve().name}: these are training figures. "
            "Held out (artist-split nested CV, tools/fit_music_head.py): "
            f"valence Spearman {cv.get('valence_spearman')}, arousal {cv.get('arousal_spearman')}, "
            f"4-quadrant accuracy {cv.get('quadrant_accuracy')}, Q4 vs Q3 {cv.get('valence_auc_q4_vs_q3')}"
        )
    analysed = int(scan.summary.get("analysed", 0))  # type: ignore[call-overload]
    if analysed:
        print(
            f"seconds per analysed track: {scan.wall_s / analysed:.3f} wall, {scan.cpu_s / analysed:.3f} CPU "
            f"({analysed} analysed, {scan.summary.get('cached')} from the cache; decoding, tagger, cues, "
            "placement and process start-up included)"
        )
    else:
        print(f"every track came from the cache ({scan.summary.get('cached')}): no seconds per track measured")
    m = confusion(valence, arousal, truth)
    png = args.out / "music_quadrant_confusion.png"
    confusion_png(m, f"{args.folder.name}: 4-quadrant confusion, acc {overall['quadrant_accuracy']:.3f}", png)
    print(f"confusion (rows: label Q1..Q4, columns: placed Q1..Q4):\n{m}\nwrote {png}")
    if args.json:
        args.json.write_text(json.dumps({"overall": overall, "per_genre": genre_figures(valence, arousal, truth)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
