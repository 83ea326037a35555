"""tools/arm64_compare.py on real x86 output: identical runs pass, any changed label, decision or probability fails."""

import copy
import json
import subprocess
import sys

import cv2
import pytest
from arm64_compare import compare_classify, compare_watch, read_lines
from make_clip import make_clip

from conftest import FACES, ROOT

COMPARE = ROOT / "tools" / "arm64_compare.py"
CLIP_FACES = [("happy", "fer2013_row35200.png"), ("sad", "fer2013_row34233.png")]


def moodbox(*args):
    result = subprocess.run(
        [sys.executable, "-m", "moodbox", *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def classified():
    faces = sorted(p.relative_to(ROOT) for p in FACES.glob("*/*.png"))
    return moodbox("classify", "--whole", *faces)


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    happy, sad = (cv2.imread(str(FACES / mood / name), cv2.IMREAD_GRAYSCALE) for mood, name in CLIP_FACES)
    clip = make_clip(tmp_path_factory.mktemp("clip") / "clip.avi", [(happy, 4), (sad, 5)])
    return moodbox("watch", clip)


def first_decision(lines) -> int:
    """The index of the first mood decision (watch also prints when a face is found and lost)."""
    return next(i for i, line in enumerate(lines) if "mood" in line)


def test_identical_runs_pass(classified, watched):
    report = compare_classify(classified, copy.deepcopy(classified))
    assert report.ok and report.items == len(classified) == 21 and report.max_diff == 0
    report = compare_watch(watched, copy.deepcopy(watched))
    assert report.ok and report.items >= 2 and report.max_diff == 0


def test_a_rounding_step_is_within_tolerance(classified, watched):
    other = copy.deepcopy(classified)
    other[0]["faces"][0]["probabilities"]["angry"] += 0.0039  # one int8 step of the output
    report = compare_classify(classified, other)
    assert report.ok and report.max_diff == pytest.approx(0.0039)
    other = copy.deepcopy(watched)
    other[first_decision(other)]["confidence"] -= 0.004
    assert compare_watch(watched, other).ok


def test_a_changed_label_fails_and_names_the_image(classified):
    other = copy.deepcopy(classified)
    face = other[3]["faces"][0]
    was = face["emotion"]
    face["emotion"] = "surprise" if was != "surprise" else "fear"
    report = compare_classify(classified, other, name="arm64 cortex-a72")
    assert not report.ok
    assert report.problems == [f"{other[3]['image']} face 1: {was} on x86, {face['emotion']} on arm64 cortex-a72"]


def test_a_probability_off_by_more_than_a_hundredth_fails(classified):
    other = copy.deepcopy(classified)
    probs = other[5]["faces"][0]["probabilities"]
    probs["neutral"] = round(probs["neutral"] + 0.02, 4)
    report = compare_classify(classified, other)
    assert len(report.problems) == 1 and "P(neutral)" in report.problems[0]
    assert "differs by 0.0200, more than 0.01" in report.problems[0]


def test_a_missing_image_or_face_fails(classified):
    other = copy.deepcopy(classified)
    gone = other.pop(0)["image"]
    other[0]["faces"] = []
    problems = compare_classify(classified, other).problems
    assert f"{gone}: classified on x86, missing on arm64" in problems
    assert f"{other[0]['image']}: 1 face(s) on x86, 0 on arm64" in problems


def test_a_changed_decision_fails(watched):
    decisions = [i for i, line in enumerate(watched) if "mood" in line]
    for change in ("mood", "time", "dropped"):
        other = copy.deepcopy(watched)
        if change == "mood":
            other[decisions[-1]]["mood"] = "angry"
        elif change == "time":
            other[decisions[-1]]["t"] += 1 / 15  # one frame later
        else:
            del other[decisions[-1]]
        report = compare_watch(watched, other)
        assert len(report.problems) == 1 and report.problems[0].startswith("decisions (t, mood) differ"), change


def test_a_confidence_off_or_frames_lost_fails(watched):
    other = copy.deepcopy(watched)
    first = first_decision(other)
    other[first]["confidence"] -= 0.05
    other[-1]["frames"] -= 1
    problems = compare_watch(watched, other).problems
    assert len(problems) == 2
    assert problems[0] == f"{watched[-1]['frames']} frames read on x86, {watched[-1]['frames'] - 1} on arm64"
    assert problems[1].startswith(f"decision {watched[first]['mood']} at t={watched[first]['t']}: confidence")


def test_command_line_exit_codes(classified, tmp_path):
    ref, same, off, cut = (tmp_path / f"{n}.jsonl" for n in ("ref", "same", "off", "cut"))
    lines = "\n".join(map(json.dumps, classified)) + "\n"
    ref.write_text(lines)
    same.write_text(lines)
    other = copy.deepcopy(classified)
    other[2]["faces"][0]["emotion"] = "disgust" if other[2]["faces"][0]["emotion"] != "disgust" else "angry"
    off.write_text("\n".join(map(json.dumps, other)) + "\n")
    cut.write_text(lines[: len(lines) // 2])

    def run(*args):
        return subprocess.run([sys.executable, str(COMPARE), *map(str, args)], capture_output=True, text=True)

    ok = run("classify", ref, same, "--name", "arm64 cortex-a76")
    assert ok.returncode == 0
    assert ok.stdout.startswith("classify on arm64 cortex-a76: 21 compared, same as x86; largest probability")
    bad = run("classify", ref, off)
    assert bad.returncode == 1 and "DIFFERS from x86 in 1 place(s)" in bad.stdout
    truncated = run("classify", ref, cut)
    assert truncated.returncode == 2 and "not a JSON line" in truncated.stderr and "cut short" in truncated.stderr
    wrong_kind = run("watch", ref, same)
    assert wrong_kind.returncode == 1 and "no closing frames line" in wrong_kind.stdout


def test_read_lines_skips_blank_lines(tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_text('{"t": 1.0, "mood": "happy", "confidence": 0.9}\n\n{"frames": 3}\n')
    assert read_lines(path) == [{"t": 1.0, "mood": "happy", "confidence": 0.9}, {"frames": 3}]
