"""The library scan's progress as the page reads it, and the page's request for a scan now (issue 20)."""

import json
import os
import subprocess
import sys

from conftest import ROOT
from moodbox.music.scan_progress import ProgressFile, progress_path, read_progress, request_path, request_scan


def test_progress_is_written_whole_and_a_stopped_scan_is_told_apart(tmp_path):
    path = tmp_path / "scan-progress.json"
    now = [1000.0]
    progress = ProgressFile(path, clock=lambda: now[0])
    assert read_progress(path) == {"state": "never"}
    progress.update(0, 10)
    now[0] += 30
    progress.update(3, 10)
    seen = read_progress(path, now=now[0])
    assert seen["state"] == "scanning" and seen["done"] == 3 and seen["total"] == 10 and seen["eta_s"] == 70
    assert read_progress(path, now=path.stat().st_mtime + 3600)["state"] == "stopped"  # left by a stopped scan
    progress.finish(10)
    assert read_progress(path)["state"] == "done" and read_progress(path)["tracks"] == 10
    assert [p.name for p in tmp_path.iterdir()] == ["scan-progress.json"]  # no half-written file left beside it


def test_a_whole_library_scan_reports_its_progress_and_a_request_is_a_file_beside_the_cache(tmp_path):
    from mpd_sandbox import make_library

    make_library(tmp_path, songs_per_mood=1, song_seconds=3)
    cache = tmp_path / "state" / "library.sqlite"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"library:\n  music_dir: {tmp_path / 'music'}\n  cache: {cache}\n")
    result = subprocess.run(
        [sys.executable, "-m", "moodbox", "--config", str(cfg), "library", "scan"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    done = json.loads(progress_path(cache).read_text())
    assert done["state"] == "done" and done["tracks"] == 7
    request_scan(cache)
    assert request_path(cache).is_file() and os.path.dirname(request_path(cache)) == str(cache.parent)
