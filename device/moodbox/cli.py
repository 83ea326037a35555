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
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from moodbox.base.errors import Explained

if TYPE_CHECKING:  # every other import waits until SIGHUP is caught (see main), and each command's for its own
    from moodbox import config

EXIT_USAGE = 2


class UserError(Explained):
    """A problem the person at the terminal can fix; printed as one line."""


# A SIGHUP (`systemctl reload`, `kill -HUP`) that comes while `moodbox run` is still importing OpenCV and loading
# the model: Python's default would end the process (exit 129). It is caught from main's first line and becomes
# a reload as soon as the service runs.
_early_reload = threading.Event()


def _reload_later(signum: int, frame: FrameType | None) -> None:
    _early_reload.set()


def _classify(args: argparse.Namespace, cfg: config.Config) -> int:
    from moodbox.appliance.vision_commands import classify_command

    return classify_command(args, cfg)


def _watch(args: argparse.Namespace, cfg: config.Config) -> int:
    from moodbox.appliance.vision_commands import watch_command

    return watch_command(args, cfg)


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


def _library_why(args: argparse.Namespace, cfg: config.Config) -> int:
    from moodbox.appliance.listener import why_command

    return why_command(args, cfg)


def _status(args: argparse.Namespace, cfg: config.Config) -> int:
    """`moodbox status [--json]`: asked of the running service over its control socket."""
    from moodbox.appliance.control import ControlError, ask
    from moodbox.appliance.state import describe

    try:
        reply = ask(cfg.control.socket, {"cmd": "state"})
    except ControlError as e:
        raise UserError(str(e)) from None
    state = reply.get("state") or {}
    print(json.dumps(state) if args.json else "\n".join(describe(state)))
    return 0


def _web(args: argparse.Namespace, cfg: config.Config) -> int:
    """`moodbox web`: the page; `--set-password` stores a new password's hash (asked, or generated and shown once)."""
    from moodbox.web.auth import read_hash, write_hash

    if args.set_password or args.generate_password:
        password = _new_password(generate=args.generate_password)
        try:
            write_hash(cfg.web.password_file, password)
        except OSError as e:
            raise UserError(f"cannot write {cfg.web.password_file}: {e.strerror or e}; run it with sudo") from None
        if args.generate_password:
            print(f"web page password (shown this once; change it with moodbox web --set-password): {password}")
        else:
            print(f"password stored as a hash in {cfg.web.password_file}")
        return 0
    if not cfg.web.enabled:  # a clean exit: the unit is not restarted for a page that is meant to be off
        print("moodbox: the web page is off (web.enabled: false in the config)", file=sys.stderr)
        return 0
    read_hash(cfg.web.password_file)  # no password, no page: said now, not at the first login
    from moodbox.web.app import serve

    serve(cfg)
    return 0


def _new_password(generate: bool) -> str:
    import getpass
    import secrets

    if generate:
        return secrets.token_urlsafe(9)
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("new web page password: ")
        if getpass.getpass("again: ") != password:
            raise UserError("the two passwords differ; nothing changed")
    if len(password) < 8:
        raise UserError("a password of at least 8 characters, please; nothing changed")
    return password


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
    why = actions.add_parser(
        "why", parents=[common], help="where a track sits, from which cues, and what the listener's skips changed"
    )
    why.add_argument("file", metavar="FILE", help="the track as MPD names it (relative to library.music_dir)")
    why.set_defaults(run=_library_why)

    status = commands.add_parser("status", parents=[common], help="what the running service is doing, asked of it")
    status.add_argument("--json", action="store_true", help="the service's state as one JSON object")
    status.set_defaults(run=_status)

    page = commands.add_parser("web", parents=[common], help="the page on the local network (its own service)")
    page.add_argument("--set-password", action="store_true", help="store a new password (asked, or one line on stdin)")
    page.add_argument("--generate-password", action="store_true", help="store a generated password and show it once")
    page.set_defaults(run=_web)
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
    from moodbox.base.text import printable

    python_stderr_apart()
    _setup_logging()
    try:
        cfg = config.load(args.config)
        return int(args.run(args, cfg))
    except Explained as e:  # everything a person can fix, without importing each path to name its errors
        print(f"moodbox: {printable(str(e))}", file=sys.stderr)  # a path with a newline stays one line
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
