"""`moodbox check`: a self-test for a person at a terminal.

One line per check, `OK` or `FAIL` with what to do about it; the exit status
is non-zero when anything failed. Every check runs even after a failure, even
one nobody foresaw, so one run shows everything that needs fixing and never
ends in a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import queue
import warnings
from collections.abc import Callable, Iterator

import mpd
import numpy as np

from moodbox.appliance.network import blocked_addresses, unit_fix
from moodbox.config import Config
from moodbox.playback.connection import PlayerError
from moodbox.playback.player import Player, PlaylistChoice
from moodbox.vision.camera import CameraError, open_source
from moodbox.vision.emotion import EmotionClassifier, ModelError
from moodbox.vision.faces import DetectorError
from moodbox.vision.pipeline import build_tracker

CAMERA_GRACE = 5.0  # seconds a live camera gets to deliver its first frame


def _model(cfg: Config) -> str:
    classifier = EmotionClassifier(cfg.model.path, threads=cfg.model.threads)
    classifier.predict(np.full((48, 48), 128, np.uint8))
    return f"{cfg.model.path} loads and runs"


def _detector(cfg: Config) -> str:
    build_tracker(cfg.detector)
    return f"{cfg.detector.kind} face detector loads"


@contextlib.contextmanager
def _retries_unlogged(part: str) -> Iterator[None]:
    """A part's own "failed; retrying" warnings: its FAIL line already says it, once."""
    part_log = logging.getLogger(f"moodbox.{part}")
    level = part_log.level
    part_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        part_log.setLevel(level)


def _camera(cfg: Config) -> str:
    with _retries_unlogged("vision.camera"):
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
    with _retries_unlogged("playback"):
        return _mpd_answers(cfg)


def _mpd_answers(cfg: Config) -> str:
    player = Player(cfg.mpd, cfg.playlist_for(), claim=False)  # looking, not steering: a running service is fine
    try:
        if not player.connect():
            raise player.unusable()
        survey = player.survey()
    except mpd.CommandError as e:
        raise PlayerError(
            f"MPD at {player.address} refused a command ({e}); set mpd.password to a password MPD grants "
            "read and control with (mpd.conf `password`), or fix MPD's default_permissions"
        ) from None
    finally:
        player.close()
    if any(choice.problem for choice in survey.values()):
        raise PlayerError(_playlist_problems(survey))
    blocked = blocked_addresses(cfg.mpd.host, cfg.mpd.port)
    if blocked:  # it answers this command, run by hand; the service, inside its unit, would not get through
        raise PlayerError(f"MPD at {player.address} answers here, but {unit_fix(cfg.mpd.host, blocked)}")
    plays = ", ".join(f"{mood}: {choice.chosen or 'music unchanged'}" for mood, choice in survey.items())
    return f"MPD at {player.address} answers; plays {plays}; none empty"


def _playlist_problems(survey: dict[str, PlaylistChoice]) -> str:
    """One line: the moods with none of their (several) playlists together, with the fix for auto; then the rest."""
    unfound = [mood for mood, c in survey.items() if c.problem and not c.chosen and len(c.names) > 1]
    others = sorted((mood, c.problem) for mood, c in survey.items() if c.problem and mood not in unfound)
    parts = []
    if others:
        listed = "; ".join(f"{mood}: {why}" for mood, why in others)
        parts.append(f"{listed}; create the playlists in MPD (e.g. mpc save NAME) or fix playlists.<mood>")
    if unfound:
        first = survey[unfound[0]].names
        parts.append(
            f"no playlist in MPD for {', '.join(unfound)} ({unfound[0]} looks for {', '.join(first)}); run "
            f"`moodbox library playlists` (the nightly timer does) or create one of them (e.g. mpc save {first[0]})"
        )
    return "; ".join(parts)


def _gpio(cfg: Config) -> str:
    if cfg.gpio is None:
        return "no gpio section: buttons and LED are off"
    from gpiozero.exc import GPIOZeroError

    from moodbox.appliance.controls import Controls

    # gpiozero warns once per pin library it cannot use (4 warnings, 8 lines off a Pi): the FAIL line says why.
    with warnings.catch_warnings(record=True) as fell_back:
        warnings.simplefilter("always")
        try:
            controls = Controls(cfg.gpio, queue.SimpleQueue())
        except (GPIOZeroError, OSError, RuntimeError) as e:
            reasons = [str(w.message) for w in fell_back if "Falling back from" in str(w.message)]
            why = f"{e} ({reasons[0].replace('Falling back from ', '')})" if reasons else str(e)
            raise RuntimeError(
                f"{why}; run on a Raspberry Pi with python3-lgpio and the service user in the gpio group, "
                "or remove the gpio section"
            ) from None
    controls.close()
    return "buttons and LEDs claimed their pins"


CHECKS: tuple[tuple[str, Callable[[Config], str], str], ...] = (
    # name, check, what to do when it fails in a way it does not explain itself
    ("model", _model, "restore models/emotion.tflite and models/emotion.json together (rerun tools/install.sh)"),
    ("camera", _camera, "check camera.source and the camera's cable"),
    ("mpd", _mpd, "check that MPD runs (systemctl status mpd) and the mpd.* settings"),
    ("gpio", _gpio, "check the gpio pins, or remove the gpio section"),
    ("detector", _detector, "set detector.kind: haar, or detector.model to a YuNet ONNX file"),
)
EXPLAINED = (ModelError, DetectorError, CameraError, PlayerError, RuntimeError, OSError)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 400 else text[:397] + "..."


def run_checks(args: argparse.Namespace, cfg: Config) -> int:
    failed = 0
    for name, check, fix in CHECKS:
        try:
            line = f"OK   {name}: {check(cfg)}"
        except EXPLAINED as e:
            line = f"FAIL {name}: {_one_line(e)}"
        except Exception as e:  # one part failing in a way nobody foresaw must not hide the others
            line = f"FAIL {name}: {type(e).__name__}: {_one_line(e)}; {fix}"
        if line.startswith("FAIL"):
            failed += 1
        print(line, flush=True)
    return 1 if failed else 0
