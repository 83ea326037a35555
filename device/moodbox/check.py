"""`moodbox check`: a self-test for a person at a terminal.

One line per check, `OK` or `FAIL` with what to do about it; the exit status
is non-zero when anything failed. Every check runs even after a failure, so
one run shows everything that needs fixing.
"""

from __future__ import annotations

import argparse
import queue
from collections.abc import Callable

import numpy as np

from moodbox.camera import CameraError, open_source
from moodbox.config import Config
from moodbox.emotion import EmotionClassifier, ModelError
from moodbox.player import Player, PlayerError

CAMERA_GRACE = 5.0  # seconds a live camera gets to deliver its first frame


def _model(cfg: Config) -> str:
    classifier = EmotionClassifier(cfg.model.path, threads=cfg.model.threads)
    classifier.predict(np.full((48, 48), 128, np.uint8))
    return f"{cfg.model.path} loads and runs"


def _camera(cfg: Config) -> str:
    source = open_source(cfg.camera.source, fps=cfg.camera.fps, give_up_after=CAMERA_GRACE)
    try:
        frame = source.read()
    finally:
        source.close()
    if frame is None:
        raise CameraError(f"{cfg.camera.source} delivered no frame; check camera.source")
    height, width = frame.image.shape[:2]
    return f"{cfg.camera.source} delivers {width}x{height} frames"


def _mpd(cfg: Config) -> str:
    player = Player(cfg.mpd, cfg.playlist_for(), claim=False)  # looking, not steering: a running service is fine
    try:
        if not player.connect():
            raise PlayerError(
                f"MPD at {player.address} is unreachable ({player.last_error}); start it "
                "(sudo systemctl start mpd) or fix mpd.host/mpd.port"
            )
        problems = player.check_playlists()
    finally:
        player.close()
    if problems:
        listed = "; ".join(f"{mood}: {why}" for mood, why in sorted(problems.items()))
        raise PlayerError(f"{listed}; create the playlists in MPD (e.g. mpc save NAME) or fix playlists.<mood>")
    return f"MPD at {player.address} answers; {len(set(cfg.playlist_for().values()) - {''})} playlists, none empty"


def _gpio(cfg: Config) -> str:
    if cfg.gpio is None:
        return "no gpio section: buttons and LED are off"
    from gpiozero.exc import GPIOZeroError

    from moodbox.controls import Controls

    try:
        controls = Controls(cfg.gpio, queue.SimpleQueue())
    except (GPIOZeroError, OSError, RuntimeError) as e:
        raise RuntimeError(
            f"{e}; run on a Raspberry Pi with the service user in the gpio group, or remove the gpio section"
        ) from None
    controls.close()
    return "buttons and LEDs claimed their pins"


CHECKS: tuple[tuple[str, Callable[[Config], str]], ...] = (
    ("model", _model),
    ("camera", _camera),
    ("mpd", _mpd),
    ("gpio", _gpio),
)


def run_checks(args: argparse.Namespace, cfg: Config) -> int:
    failed = 0
    for name, check in CHECKS:
        try:
            print(f"OK   {name}: {check(cfg)}", flush=True)
        except (ModelError, CameraError, PlayerError, RuntimeError, OSError) as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)
    return 1 if failed else 0
