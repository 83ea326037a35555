"""The `moodbox` command.

Every failure a person can fix (a bad config value, a missing model, an
unreadable image or video, a dead camera) ends as one line on stderr and a
non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from moodbox import config
from moodbox.appliance.check import run_checks as _check
from moodbox.appliance.library_commands import playlists_command as library_playlists
from moodbox.appliance.library_commands import scan_command as library_scan
from moodbox.base.native import python_stderr_apart
from moodbox.playback.connection import PlayerError
from moodbox.vision.camera import CameraError, Pacer, frames, open_source
from moodbox.vision.emotion import EmotionClassifier, ModelError
from moodbox.vision.faces import Box, DetectorError, crop_square
from moodbox.vision.pipeline import Vision, build_tracker

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


def _rounded(probs: dict[str, float]) -> dict[str, float]:
    return {label: round(p, 4) for label, p in probs.items()}


def _classify(args: argparse.Namespace, cfg: config.Config) -> int:
    classifier = EmotionClassifier(cfg.model.path, threads=cfg.model.threads)
    tracker = build_tracker(cfg.detector)
    for name in args.images:
        image = _read_image(name)
        if image is None:
            raise UserError(f"cannot read image {name}: missing or not an image file; check the path")
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        boxes = [Box(0, 0, grey.shape[1], grey.shape[0])] if args.whole else tracker.detect_all(grey)
        faces = []
        for box in boxes:
            probs = classifier.predict(grey if args.whole else crop_square(grey, box, cfg.detector.crop_margin))
            best = max(probs, key=probs.__getitem__)
            faces.append({"box": [box.x, box.y, box.w, box.h], "emotion": best, "probabilities": _rounded(probs)})
        print(json.dumps({"image": str(name), "faces": faces}))
    return 0


def _watch(args: argparse.Namespace, cfg: config.Config) -> int:
    config.expand_user(args.source, "SOURCE")
    vision = Vision.from_settings(cfg.model, cfg.detector, cfg.mood)
    source = open_source(args.source, fps=cfg.camera.fps, give_up_after=cfg.camera.give_up_after)
    count, first_t, started = 0, None, time.perf_counter()
    pace = Pacer()
    try:
        for frame in frames(source):
            if first_t is None:
                first_t = frame.t
            if args.realtime:
                pace(frame)
            step = vision.step(frame)
            count += 1
            if step.decision:
                d = step.decision
                print(json.dumps({"t": round(d.t - first_t, 3), "mood": d.mood, "confidence": round(d.confidence, 4)}))
                sys.stdout.flush()
    finally:
        source.close()
    seconds = time.perf_counter() - started
    fps = round(count / seconds, 1) if seconds else 0.0
    print(json.dumps({"frames": count, "seconds": round(seconds, 3), "fps": fps}))
    return 0


def _run(args: argparse.Namespace, cfg: config.Config) -> int:
    from moodbox.appliance.service import Service

    if args.source is not None:
        config.expand_user(args.source, "--source")
    return Service(cfg, source=args.source, config_path=args.config).run()


def _setup_logging() -> None:
    """Plain lines under systemd (the journal stamps them), timestamps at a terminal."""
    under_journal = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(message)s" if under_journal else "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.INFO, format=fmt, datefmt="%H:%M:%S")
    logging.getLogger("mpd").setLevel(logging.WARNING)  # python-mpd2 logs every connect at INFO


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodbox", description="Music that follows the listener's mood.")
    config_help = "config file (default: ./config.yaml)"
    parser.add_argument("--config", type=Path, default=None, help=config_help)
    # `moodbox run --config FILE` too, as people type it: SUPPRESS keeps a --config given before the command.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=config_help)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    classify = commands.add_parser(
        "classify", parents=[common], help="find faces in images and print their emotion probabilities"
    )
    classify.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    classify.add_argument("--whole", action="store_true", help="use each whole image as the face crop")
    classify.set_defaults(run=_classify)

    watch = commands.add_parser("watch", parents=[common], help="print a JSON line for every mood decision on a source")
    watch.add_argument("source", metavar="SOURCE", help="picamera2, a camera index, a video file or an image folder")
    watch.add_argument("--realtime", action="store_true", help="play files at their own frame rate")
    watch.set_defaults(run=_watch)

    run = commands.add_parser(
        "run", parents=[common], help="the appliance: camera, mood, music, buttons and LED (systemd service)"
    )
    run.add_argument("--source", default=None, help="override camera.source (e.g. a video file for a demo)")
    run.set_defaults(run=_run)

    check = commands.add_parser("check", parents=[common], help="self-test: model, camera, MPD and playlists, GPIO")
    check.set_defaults(run=_check)

    library = commands.add_parser("library", help="sort the music library by mood: scan it, write the mood playlists")
    actions = library.add_subparsers(dest="action", required=True, metavar="ACTION")
    scan = actions.add_parser("scan", help="analyse every audio file (only new and changed ones are analysed again)")
    scan.add_argument("folder", nargs="?", type=Path, metavar="FOLDER", help="default: library.music_dir")
    scan.add_argument("--json", action="store_true", help="one JSON line per track, then a summary")
    scan.set_defaults(run=library_scan)
    playlists = actions.add_parser("playlists", help="write the moodbox-<mood> playlists to MPD from the scan")
    playlists.set_defaults(run=library_playlists)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    python_stderr_apart()
    _setup_logging()
    try:
        cfg = config.load(args.config)
        return int(args.run(args, cfg))
    except (config.ConfigError, ModelError, DetectorError, CameraError, PlayerError, UserError) as e:
        print(f"moodbox: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
