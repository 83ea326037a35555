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
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the heavy imports (OpenCV, numpy, LiteRT) wait until SIGHUP is caught: see main()
    import numpy as np

    from moodbox import config
    from moodbox.vision.faces import Box

EXIT_USAGE = 2


class UserError(Exception):
    """A problem the person at the terminal can fix; printed as one line."""


# A SIGHUP (`systemctl reload`, `kill -HUP`) that comes while `moodbox run` is still importing OpenCV and loading
# the model: Python's default would end the process (exit 129). It is caught from main's first line and becomes
# a reload as soon as the service runs.
_early_reload = threading.Event()


def _reload_later(signum: int, frame: FrameType | None) -> None:
    _early_reload.set()


JPEG_END = b"\xff\xd9"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"
CROP_SIZED = 128  # px: an image this small is a face crop, not a photo with a face in it


def _read_image(path: Path) -> np.ndarray | str:
    """The decoded image, or why it cannot be read: one phrase naming the cause (OpenCV's and the decoders'
    own stderr lines are kept out)."""
    import cv2
    import numpy as np

    from moodbox.base.native import native_stderr_silenced

    if path.is_dir():
        return "it is a folder; name the image files in it"
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        return "no such file; check the path"
    except OSError as e:
        return f"cannot read it ({e.strerror}); check its permissions"
    if not data.size:
        return "the file is empty; copy the image again"
    head, tail = data[:8].tobytes(), data[-12:].tobytes()
    if (head[:3] == b"\xff\xd8\xff" and JPEG_END not in tail) or (head == PNG_SIGNATURE and PNG_END not in tail):
        return "the image is cut short (a partial copy or download?); copy it again"
    try:
        with native_stderr_silenced():  # libpng and libjpeg print their own lines about damaged data
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error:  # e.g. a header claiming more than OPENCV_IO_MAX_IMAGE_PIXELS
        image = None
    return image if image is not None else "not an image OpenCV can decode, or damaged; use a JPEG or PNG"


def _rounded(probs: dict[str, float]) -> dict[str, float]:
    return {label: round(p, 4) for label, p in probs.items()}


def _classify(args: argparse.Namespace, cfg: config.Config) -> int:
    """Every image in turn: one JSON line each; a file that cannot be read is one stderr line, and the rest go on."""
    import cv2

    from moodbox.vision.emotion import EmotionClassifier
    from moodbox.vision.faces import Box, crop_square
    from moodbox.vision.pipeline import build_tracker

    classifier = EmotionClassifier(cfg.model.path, threads=cfg.model.threads)
    tracker = build_tracker(cfg.detector)
    unread = 0
    for name in args.images:
        image = _read_image(name)
        if isinstance(image, str):
            print(f"moodbox: cannot read image {name}: {image}", file=sys.stderr)
            unread += 1
            continue
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        boxes = [Box(0, 0, grey.shape[1], grey.shape[0])] if args.whole else tracker.detect_all(grey)
        faces = []
        for box in boxes:
            probs = classifier.predict(grey if args.whole else crop_square(grey, box, cfg.detector.crop_margin))
            best = max(probs, key=probs.__getitem__)
            faces.append({"box": [box.x, box.y, box.w, box.h], "emotion": best, "probabilities": _rounded(probs)})
        line: dict[str, object] = {"image": str(name), "faces": faces}
        if not faces:
            line["note"] = _why_no_face(grey.shape, cfg.detector.min_face)
        print(json.dumps(line))
        sys.stdout.flush()
    return EXIT_USAGE if unread else 0


def _why_no_face(shape: tuple[int, ...], min_face: float) -> str:
    height, width = shape[:2]
    if max(height, width) <= CROP_SIZED:
        return (
            f"no face found: a {width}x{height} image is a face crop, and the detector needs room around a face; "
            "use --whole to read the whole image as the face"
        )
    smallest = max(24, round(min_face * height))
    return (
        f"no face found; faces under detector.min_face ({min_face:g} of the image height, {smallest} px here) "
        "or turned away are not found"
    )


def _watch(args: argparse.Namespace, cfg: config.Config) -> int:
    from moodbox import config
    from moodbox.vision.camera import Pacer, frames, open_source
    from moodbox.vision.pipeline import Vision

    config.expand_user(args.source, "SOURCE")
    vision = Vision.from_settings(cfg.model, cfg.detector, cfg.mood)
    source = open_source(args.source, fps=cfg.camera.fps, give_up_after=cfg.camera.give_up_after)
    count, first_t, started = 0, None, time.perf_counter()
    pace = Pacer()
    faces = _FaceNews(cfg.detector.min_face)
    try:
        for frame in frames(source):
            if first_t is None:
                first_t = frame.t
            if args.realtime:
                pace(frame)
            step = vision.step(frame)
            count += 1
            faces.see(round(frame.t - first_t, 3), step.box, frame.image.shape[0])
            if step.decision:
                d = step.decision
                print(json.dumps({"t": round(d.t - first_t, 3), "mood": d.mood, "confidence": round(d.confidence, 4)}))
                sys.stdout.flush()
    finally:
        source.close()
    seconds = time.perf_counter() - started
    fps = round(count / seconds, 1) if seconds else 0.0
    print(json.dumps({"frames": count, "seconds": round(seconds, 3), "fps": fps, "faces_found": faces.found}))
    return 0


class _FaceNews:
    """`watch`'s lines for aiming the camera: a face found (its height as a share of the frame's, beside
    detector.min_face, the smallest looked for) and lost."""

    def __init__(self, min_face: float) -> None:
        self.min_face, self.found, self.present = min_face, 0, False

    def see(self, t: float, box: Box | None, frame_height: int) -> None:
        if (box is not None) == self.present:
            return
        self.present = box is not None
        if box is None:
            print(json.dumps({"t": t, "face": "lost"}))
            return
        self.found += 1
        size = round(box.h / frame_height, 3)
        print(json.dumps({"t": t, "face": "found", "size": size, "min_face": self.min_face, "px": box.h}))


def _run(args: argparse.Namespace, cfg: config.Config) -> int:
    from moodbox import config
    from moodbox.appliance.service import Service

    if args.source is not None:
        config.expand_user(args.source, "--source")
    service = Service(cfg, source=args.source, config_path=args.config)
    # One event from main's first line on: a SIGHUP during start-up, or while the service's own handler is being
    # put in place, is a reload the loop does at once.
    service.reload_requested = _early_reload
    return service.run()


def _check(args: argparse.Namespace, cfg: config.Config) -> int:
    from moodbox.appliance.check import run_checks

    return run_checks(args, cfg)


def _library_scan(args: argparse.Namespace, cfg: config.Config) -> int:
    from moodbox.appliance.library_commands import scan_command

    return scan_command(args, cfg)


def _library_playlists(args: argparse.Namespace, cfg: config.Config) -> int:
    from moodbox.appliance.library_commands import playlists_command

    return playlists_command(args, cfg)


def _setup_logging() -> None:
    """Plain lines under systemd (the journal stamps them), timestamps at a terminal."""
    under_journal = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(message)s" if under_journal else "%(asctime)s %(levelname)s %(message)s"
    logging.basicConfig(level=logging.INFO, format=fmt, datefmt="%H:%M:%S")
    logging.getLogger("mpd").setLevel(logging.WARNING)  # python-mpd2 logs every connect at INFO


def _version() -> str:
    """The installed distribution's version; a bare checkout (PYTHONPATH=device) says the package's own."""
    from importlib import metadata

    try:
        return metadata.version("moodbox")
    except metadata.PackageNotFoundError:
        from moodbox import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodbox", description="Music that follows the listener's mood.")
    config_help = "config file (default: ./config.yaml)"
    parser.add_argument("--config", type=Path, default=None, help=config_help)
    parser.add_argument("--version", action="version", version=f"moodbox {_version()}")
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

    library = commands.add_parser(
        "library", parents=[common], help="sort the music library by mood: scan it, write the mood playlists"
    )
    actions = library.add_subparsers(dest="action", required=True, metavar="ACTION")
    scan = actions.add_parser(
        "scan", parents=[common], help="analyse every audio file (only new and changed ones are analysed again)"
    )
    scan.add_argument("folder", nargs="?", type=Path, metavar="FOLDER", help="default: library.music_dir")
    scan.add_argument("--json", action="store_true", help="one JSON line per track, then a summary")
    scan.set_defaults(run=_library_scan)
    playlists = actions.add_parser(
        "playlists", parents=[common], help="write the moodbox-<mood> playlists to MPD from the scan"
    )
    playlists.set_defaults(run=_library_playlists)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C while starting (importing, loading the model), not only once running
        return 130


def _main(argv: Sequence[str] | None) -> int:
    in_main_thread = threading.current_thread() is threading.main_thread()
    if in_main_thread:
        signal.signal(signal.SIGHUP, _reload_later)  # first, before the imports that take most of a second
    args = build_parser().parse_args(argv)
    if in_main_thread and args.run is not _run:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)  # only the service reloads; a hang-up ends the others
    from moodbox import config
    from moodbox.base.native import python_stderr_apart
    from moodbox.playback.connection import PlayerError
    from moodbox.vision.camera import CameraError
    from moodbox.vision.emotion import ModelError
    from moodbox.vision.faces import DetectorError

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
