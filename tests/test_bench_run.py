"""tools/bench.py run: the CPU figures of a real `moodbox run` are produced (never asserted: a shared machine)."""

import json

import cv2
from make_clip import make_clip

import bench
from conftest import FACES


def test_bench_run_reports_the_cpu_share_and_every_stage(tmp_path, capsys):
    face = cv2.imread(str(FACES / "happy" / "fer2013_row35200.png"), cv2.IMREAD_GRAYSCALE)
    clip = make_clip(tmp_path / "c.avi", [(face, 4)], fps=15)
    out = tmp_path / "run.json"
    assert bench.main(["--json", str(out), "run", "--clip", str(clip), "--settle", "1", "--no-compare"]) == 0
    figures = json.loads(out.read_text())
    (run,) = figures["runs"]
    assert run["analyse_fps"] == 7.5 and run["cpu_share"] > 0 and run["steady_cpu_share"] >= 0
    assert figures["frames_analysed"] == 30 and figures["frames_skipped"] == 30  # every 2nd of 60 frames
    assert set(figures["ms_per_video_second"]) >= {"grab", "retrieve", "detect", "classify", "grab (skipped frames)"}
    assert "% of one core" in capsys.readouterr().out
