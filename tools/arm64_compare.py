"""Compare an arm64 run of `moodbox classify` or `moodbox watch` with the x86 run of the same command.

Decoding, resizing and the int8 kernels may differ by one rounding step from one
machine to another, so bytes are not the measure: the arm64 run must find the
same faces with the same labels and make the same mood decisions at the same
times, with every probability and confidence within a tolerance (0.01).

    python tools/arm64_compare.py classify x86/classify.jsonl a72/classify.jsonl
    python tools/arm64_compare.py watch x86/watch.jsonl a72/watch.jsonl --name "arm64 cortex-a72"

Prints one summary line, then one line per difference; exits 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOLERANCE = 0.01  # probabilities and confidences
BOX_TOLERANCE = 2  # pixels, per box coordinate (the face detector scans a resized frame)
TIME_TOLERANCE = 0.001  # seconds; a decision on the same frame has the same timestamp


@dataclass
class Report:
    """What was compared, the largest probability difference seen, and every difference beyond tolerance."""

    what: str
    items: int = 0
    max_diff: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def close(self, where: str, key: str, reference: float, other: float, tolerance: float, name: str) -> None:
        diff = abs(reference - other)
        self.max_diff = max(self.max_diff, diff)
        if diff > tolerance:
            self.problems.append(
                f"{where}: {key} {reference:.4f} on x86, {other:.4f} on {name} "
                f"(differs by {diff:.4f}, more than {tolerance})"
            )

    def summary(self, name: str) -> str:
        verdict = "same as x86" if self.ok else f"DIFFERS from x86 in {len(self.problems)} place(s)"
        largest = f"largest probability difference {self.max_diff:.4f}"
        return f"{self.what} on {name}: {self.items} compared, {verdict}; {largest}"


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a moodbox output file, one per non-empty line."""
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{number}: not a JSON line ({e.msg}); was the run cut short?") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, got {line.strip()[:60]}")
        records.append(record)
    return records


def compare_classify(
    reference: list[dict[str, Any]],
    other: list[dict[str, Any]],
    name: str = "arm64",
    tolerance: float = TOLERANCE,
    box_tolerance: int = BOX_TOLERANCE,
) -> Report:
    """`moodbox classify` lines: the same images, the same faces (boxes), labels, probabilities within tolerance."""
    report = Report("classify")
    ref_images = {r["image"]: r["faces"] for r in reference}
    other_images = {r["image"]: r["faces"] for r in other}
    for image in sorted(ref_images.keys() - other_images.keys()):
        report.problems.append(f"{image}: classified on x86, missing on {name}")
    for image in sorted(other_images.keys() - ref_images.keys()):
        report.problems.append(f"{image}: classified on {name}, not on x86")
    for image in sorted(ref_images.keys() & other_images.keys()):
        report.items += 1
        ref_faces, faces = ref_images[image], other_images[image]
        if len(ref_faces) != len(faces):
            report.problems.append(f"{image}: {len(ref_faces)} face(s) on x86, {len(faces)} on {name}")
            continue
        for n, (ref_face, face) in enumerate(zip(ref_faces, faces, strict=True), 1):
            where = f"{image} face {n}"
            if ref_face["emotion"] != face["emotion"]:
                report.problems.append(f"{where}: {ref_face['emotion']} on x86, {face['emotion']} on {name}")
            if any(abs(a - b) > box_tolerance for a, b in zip(ref_face["box"], face["box"], strict=True)):
                report.problems.append(
                    f"{where}: box {ref_face['box']} on x86, {face['box']} on {name} (more than {box_tolerance} px)"
                )
            ref_probs, probs = ref_face["probabilities"], face["probabilities"]
            if ref_probs.keys() != probs.keys():
                report.problems.append(f"{where}: labels {sorted(ref_probs)} on x86, {sorted(probs)} on {name}")
                continue
            for label in ref_probs:
                report.close(where, f"P({label})", ref_probs[label], probs[label], tolerance, name)
    return report


def compare_watch(
    reference: list[dict[str, Any]],
    other: list[dict[str, Any]],
    name: str = "arm64",
    tolerance: float = TOLERANCE,
    time_tolerance: float = TIME_TOLERANCE,
) -> Report:
    """`moodbox watch` lines: the same moods decided at the same times, confidences within tolerance, same frames."""
    report = Report("watch")
    ref_decisions = [r for r in reference if "mood" in r]
    decisions = [r for r in other if "mood" in r]
    report.items = len(ref_decisions)
    ref_frames = next((r["frames"] for r in reference if "frames" in r), None)
    frames = next((r["frames"] for r in other if "frames" in r), None)
    if frames is None or ref_frames is None:
        missing = "x86" if ref_frames is None else name
        report.problems.append(f"no closing frames line on {missing}: the run did not finish")
    elif frames != ref_frames:
        report.problems.append(f"{ref_frames} frames read on x86, {frames} on {name}")
    ref_moods = [(d["t"], d["mood"]) for d in ref_decisions]
    moods = [(d["t"], d["mood"]) for d in decisions]
    same_moods = [ref_mood for _, ref_mood in ref_moods] == [mood for _, mood in moods]
    if not same_moods or any(
        abs(ref_t - t) > time_tolerance for (ref_t, _), (t, _) in zip(ref_moods, moods, strict=True)
    ):
        report.problems.append(f"decisions (t, mood) differ: x86 {ref_moods}, {name} {moods}")
        return report
    for ref, decision in zip(ref_decisions, decisions, strict=True):
        where = f"decision {ref['mood']} at t={ref['t']}"
        report.close(where, "confidence", ref["confidence"], decision["confidence"], tolerance, name)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=("classify", "watch"), help="which moodbox command made the two files")
    p.add_argument("reference", type=Path, help="the x86 run's output")
    p.add_argument("other", type=Path, help="the arm64 run's output")
    p.add_argument("--name", default="arm64", help="what to call the other run in messages")
    p.add_argument("--tolerance", type=float, default=TOLERANCE, help="largest probability difference allowed")
    args = p.parse_args(argv)
    compare = compare_classify if args.command == "classify" else compare_watch
    try:
        report = compare(read_lines(args.reference), read_lines(args.other), args.name, args.tolerance)
    except (OSError, ValueError) as e:
        print(f"arm64_compare: {e}", file=sys.stderr)
        return 2
    except (KeyError, TypeError) as e:
        print(f"arm64_compare: not {args.command} output (missing or odd field {e})", file=sys.stderr)
        return 2
    print(report.summary(args.name))
    for problem in report.problems:
        print(f"  {problem}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
