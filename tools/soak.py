"""Memory soak: does resident memory stay flat frame after frame? A benchmark that prints figures, never a test.

It runs the real vision path, `Vision.step` as the service and `moodbox watch`
call it, over real frames for `--frames` frames, samples the process's RSS every
`--every` frames, and fits a straight line to RSS against frame count after
the warm-up. The goal (issue 12) is at most 1 MB of growth per million frames,
i.e. a slope of at most ~1 byte per frame.

Sources (`--source`):

* `clip` (default): a 640x480 clip built by make_clip.py from the face fixtures
  (every expression, then an empty room), played again and again with its
  timestamps running on, so the mood engine sees one long session;
* `folder`: the same clip's frames as JPEG files in an image folder with one
  file per soaked frame (hard links), read once each, as a long image-folder
  run reads them: the case that grew 94 B a frame in issue 12;
* a path: any video file or image folder, looped.

`--watch` soaks a real `moodbox watch` process instead (the folder source, or
a path; `clip` means the folder here), sampling its RSS twice a second; frame counts then come from its
final fps line, so that slope is an estimate.

    python tools/soak.py --frames 30000
    python tools/soak.py --frames 60000 --source folder
    python tools/soak.py --frames 60000 --source folder --watch
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "device"))
from make_clip import make_clip  # noqa: E402

from moodbox import config  # noqa: E402
from moodbox.vision.camera import Frame, FrameSource, frames, open_source  # noqa: E402
from moodbox.vision.pipeline import Vision  # noqa: E402

FIXTURES = HERE.parent / "tests" / "fixtures" / "faces"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def fixture_clip(folder: Path) -> Path:
    """Two seconds of each fixture expression (the first face of each label), then two of an empty room."""
    segments: list[tuple[np.ndarray | None, float]] = []
    for label in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        face = cv2.imread(str(sorted(label.glob("*.png"))[0]), cv2.IMREAD_GRAYSCALE)
        segments.append((face, 2.0))
    segments.append((None, 2.0))
    return make_clip(folder / "soak_clip.avi", segments, fps=15.0)


def frame_folder(clip: Path, folder: Path, count: int) -> Path:
    """An image folder of `count` files: the clip's frames as JPEGs, hard-linked over and over."""
    originals = folder / "originals"
    originals.mkdir()
    cap = cv2.VideoCapture(str(clip))
    distinct: list[Path] = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        distinct.append(originals / f"{len(distinct):04d}.jpg")
        cv2.imwrite(str(distinct[-1]), image)
    cap.release()
    frames_dir = folder / "frames"
    frames_dir.mkdir()
    for i in range(count):  # a name as long as a camera's, e.g. a timelapse folder
        os.link(distinct[i % len(distinct)], frames_dir / f"frame_{i:08d}.jpg")
    return frames_dir


def looped(spec: str, fps: float) -> Iterator[Frame]:
    """Frames of a file source again and again, timestamps running on across the loops."""
    offset = 0.0
    while True:
        source: FrameSource = open_source(spec, fps=fps)
        last = 0.0
        try:
            for frame in frames(source):
                last = frame.t
                yield Frame(frame.image, offset + frame.t)
        finally:
            source.close()
        offset += last + 1 / source.fps


def slope(samples: list[tuple[int, int]]) -> float:
    """Least-squares bytes per frame of RSS against frame count."""
    x = np.array([n for n, _ in samples], np.float64)
    y = np.array([r for _, r in samples], np.float64)
    return float(np.polyfit(x, y, 1)[0]) if len(samples) > 1 else float("nan")


def summary(source: str, samples: list[tuple[int, int]], warm_up: int, seconds: float, frames_done: int) -> dict:
    after = [s for s in samples if s[0] >= warm_up] or samples
    per_frame = slope(after) + 0.0  # no "-0.0"
    return {
        "source": source,
        "frames": frames_done,
        "warm_up_frames": warm_up,
        "rss_start_mb": round(samples[0][1] / 1e6, 2),
        "rss_after_warm_up_mb": round(after[0][1] / 1e6, 2),
        "rss_end_mb": round(samples[-1][1] / 1e6, 2),
        "slope_bytes_per_frame": round(per_frame, 3),
        "mb_per_million_frames": round(per_frame, 3),  # bytes/frame x 1e6 frames / 1e6 bytes
        "fps": round(frames_done / seconds, 1) if seconds else 0.0,
        "samples": len(after),
    }


def soak_in_process(args: argparse.Namespace, spec: str) -> dict:
    cfg = config.load(args.config)
    vision = Vision.from_settings(cfg.model, cfg.detector, cfg.mood)
    samples = [(0, rss_bytes())]
    started = time.perf_counter()
    count = 0
    for frame in looped(spec, cfg.camera.fps):
        vision.step(frame)
        count += 1
        if count % args.every == 0:
            samples.append((count, rss_bytes()))
            if args.progress:
                fps = count / (time.perf_counter() - started)
                print(json.dumps({"frames": count, "rss_mb": round(samples[-1][1] / 1e6, 3), "fps": round(fps, 1)}))
                sys.stdout.flush()
        if count >= args.frames:
            break
    return summary(args.source, samples, args.warm_up, time.perf_counter() - started, count)


def soak_watch(args: argparse.Namespace, spec: str) -> dict:
    """A real `moodbox watch` process; frames at each sample are estimated from its own fps line."""
    cmd = [sys.executable, "-m", "moodbox"] + (["--config", str(args.config)] if args.config else [])
    env = {**os.environ, "OPENCV_FOR_THREADS_NUM": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}
    started = time.perf_counter()
    with subprocess.Popen([*cmd, "watch", spec], stdout=subprocess.PIPE, text=True, env=env) as proc:
        timeline = []
        while proc.poll() is None:
            try:
                timeline.append((time.perf_counter() - started, rss_bytes(proc.pid)))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                break
            time.sleep(0.5)
        out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"moodbox watch failed with exit code {proc.returncode}")
    last = json.loads(out.strip().splitlines()[-1])
    frames_done, fps = int(last["frames"]), float(last["fps"])
    seconds = float(last["seconds"])
    # Model loading came before the frames, exiting after (that moment is in first_frame_at, which is
    # why the last 2 s are left out: a process tearing down frees memory and would bend the line).
    first_frame_at = time.perf_counter() - started - seconds
    in_loop = [(t - first_frame_at, rss) for t, rss in timeline if 0 <= t - first_frame_at <= seconds - 2]
    samples = [(round(t * fps), rss) for t, rss in in_loop]
    result = summary(f"moodbox watch {spec}", samples, args.warm_up, seconds, frames_done)
    result["frames_estimated"] = True
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=30000, help="frames to soak (default 30000)")
    p.add_argument("--source", default="clip", help="clip, folder, or a video file / image folder path")
    p.add_argument("--warm-up", type=int, default=None, help="frames before the slope is fitted (default a tenth)")
    p.add_argument("--every", type=int, default=500, help="sample RSS every this many frames")
    p.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1, as on a busy Pi core)")
    p.add_argument("--config", type=Path, default=None, help="config file (default: built-in defaults)")
    p.add_argument("--watch", action="store_true", help="soak a `moodbox watch` process instead")
    p.add_argument("--quiet", dest="progress", action="store_false", help="only the summary line")
    p.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = p.parse_args(argv)
    args.warm_up = args.frames // 10 if args.warm_up is None else args.warm_up
    cv2.setNumThreads(args.threads)
    with tempfile.TemporaryDirectory(prefix="moodbox-soak-") as tmp:
        spec = args.source
        if spec in ("clip", "folder"):
            clip = fixture_clip(Path(tmp))
            # moodbox watch plays a source once, so it soaks the folder: one file per frame
            use_folder = spec == "folder" or args.watch
            spec = str(frame_folder(clip, Path(tmp), args.frames) if use_folder else clip)
        result = soak_watch(args, spec) if args.watch else soak_in_process(args, spec)
    result["threads"] = args.threads
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
