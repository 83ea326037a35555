"""What the service is doing, as one plain dict: the control socket's state, `moodbox status`'s lines.

Built by the frame loop from what it already holds; nothing here waits. Fast-moving numbers (the
analysed rate, CPU, the light) are refreshed once a second by `Vitals`, so a watcher hears of a
change when something happened, not at every frame. A face is a box and the light a number: never
an image.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from moodbox.base.moods import AWAY
from moodbox.config import Config
from moodbox.playback.worker import PlayerWorker
from moodbox.vision.faces import Box
from moodbox.vision.pipeline import Vision


@dataclass
class Vitals:
    """Analysed frames a second, the process's share of one core, the frame's light: measured once a second."""

    clock: Callable[[], float] = time.monotonic
    fps: float = 0.0
    cpu: float = 0.0  # percent of one core
    light: float | None = None  # mean grey level of the frame, 0-255
    last: float = -1.0  # when the last frame was analysed
    _frames: int = 0
    _since: float = field(default=-1.0)
    _cpu_since: float = 0.0

    def count(self, image: np.ndarray | None) -> None:
        """One analysed frame; every second, the new figures (the frame's light from this one)."""
        self._frames += 1
        now = self.last = self.clock()
        if self._since < 0:
            self._since, self._cpu_since = now, time.process_time()
            return
        if now - self._since >= 1.0:
            cpu_now = time.process_time()
            self.fps = round(self._frames / (now - self._since), 1)
            self.cpu = round(100 * (cpu_now - self._cpu_since) / (now - self._since))
            if image is not None:
                means = cv2.mean(image)
                self.light = round(float(means[0] if image.ndim == 2 else np.mean(means[:3])))
            self._frames, self._since, self._cpu_since = 0, now, cpu_now

    def tick(self) -> None:
        """No frame for a while (privacy, a camera gone): the rate is zero, not the last one seen."""
        if self.fps and self.clock() - self.last >= 2.0:
            self.fps, self._frames, self._since = 0.0, 0, -1.0

    def seen_frame_within(self, seconds: float) -> bool:
        return self.last >= 0 and self.clock() - self.last < seconds


def face_view(box: Box | None, frame_shape: tuple[int, ...] | None, min_face: float) -> dict[str, Any]:
    """Aiming the camera without pixels: the frame's size, the face's box in it and its height against min_face."""
    if frame_shape is None:
        return {"frame": None, "box": None}
    height, width = frame_shape[:2]
    view: dict[str, Any] = {"frame": [width, height], "box": None, "min_face": min_face}
    if box is not None:
        view["box"] = [box.x, box.y, box.w, box.h]
        view["face_share"] = round(box.h / height, 3)
        view["big_enough"] = box.h / height >= min_face
    return view


class LastScan:
    """When the library scan last wrote its cache (wall-clock seconds; None if never), looked at twice a minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock, self._checked = clock, -1e9
        self._at: float | None = None

    def of(self, cache: Path) -> float | None:
        now = self._clock()
        if now >= self._checked + 30.0:  # a stat twice a minute, not per frame
            times = []
            for name in (cache.name, cache.name + "-wal"):
                try:
                    times.append(os.stat(cache.with_name(name)).st_mtime)
                except OSError:
                    continue
            self._checked, self._at = now, max(times) if times else None
        return self._at


class ServiceView(Protocol):
    """What the state is read from: the service's attributes (a Protocol, so this module need not import it)."""

    cfg: Config
    vision: Vision
    player: PlayerWorker
    vitals: Vitals
    last_scan: LastScan
    privacy: bool
    locked: bool
    paused: bool
    ready: bool
    mood_since: float | None
    confidence: float | None

    @property
    def source_spec(self) -> str: ...

    @property
    def view(self) -> dict[str, Any]: ...


def status_line(s: ServiceView) -> str:
    """systemd's STATUS=: the mood, the analysed rate, the camera if it is silent, the player."""
    mood = "privacy" if s.privacy else (s.vision.engine.mood or "watching")
    lock = ", locked" if s.locked else ""
    camera = (
        "" if s.privacy or s.vitals.seen_frame_within(2.0) else f", no frame from camera {s.source_spec} (retrying)"
    )
    return f"mood {mood}{lock}, {s.vitals.fps:.0f} fps{camera}, {s.player.state.describe()}"


def snapshot(s: ServiceView) -> dict[str, Any]:
    """The control socket's state: what `moodbox status` and the web page show."""
    player = s.player.state
    mood = s.vision.engine.mood
    if s.privacy:
        camera_state = "off (privacy)"
    elif s.vitals.seen_frame_within(2.0):
        camera_state = "delivering frames"
    else:
        camera_state = "no frame yet" if not s.ready else "no frame (retrying)"
    return {
        "mood": mood,
        "mood_since": s.mood_since,
        "confidence": None if s.confidence is None else round(s.confidence, 2),
        "away": mood == AWAY,
        "playlist": player.playlist,
        "song": player.song,
        "why": f"{mood} under policy {s.cfg.policy}" if mood and player.playlist else None,
        "policy": s.cfg.policy,
        "locked": s.locked,
        "privacy": s.privacy,
        "paused": s.paused,
        "fps": s.vitals.fps,
        "cpu": s.vitals.cpu,
        "camera": {
            "source": s.source_spec,
            "state": camera_state,
            "light": None if s.privacy else s.vitals.light,
            "view": s.view,
        },
        "mpd": player.describe(),
        "mpd_ok": player.ok,
        "model": f"{s.cfg.model.path.name} loaded" if s.ready else "loading",
        "library_scanned": s.last_scan.of(s.cfg.library.cache),
    }


def describe(state: dict[str, Any]) -> list[str]:
    """`moodbox status` in lines a person reads."""
    mood = state.get("mood") or "none yet"
    since = state.get("mood_since")
    lines = [
        f"mood      {mood}"
        + (f" ({state['confidence']:.0%})" if state.get("confidence") is not None else "")
        + (f" since {time.strftime('%H:%M:%S', time.localtime(since))}" if since else ""),
    ]
    playing = state.get("song") or "-"
    lines.append(f"playing   {playing} from playlist {state.get('playlist') or '-'} ({state.get('why') or '-'})")
    camera = state.get("camera") or {}
    face = camera.get("view") or {}
    seen = "a face in view" if face.get("box") else "no face in view" if face.get("frame") else ""
    lines.append(
        f"camera    {camera.get('source', '?')}: {camera.get('state', '?')}, {state.get('fps', 0)} fps analysed"
        + (f", {seen}" if seen else "")
        + (f", light {camera['light']}" if camera.get("light") is not None else "")
    )
    lines.append(f"mpd       {state.get('mpd', '?')}")
    lines.append(f"model     {state.get('model', '?')}")
    switches = [name for name in ("locked", "privacy") if state.get(name)]
    lines.append(f"controls  policy {state.get('policy', '?')}" + (", " + ", ".join(switches) if switches else ""))
    lines.append(f"cpu       {state.get('cpu', 0)} % of one core")
    scanned = state.get("library_scanned")
    lines.append(
        "library   "
        + (f"last scanned {time.strftime('%Y-%m-%d %H:%M', time.localtime(scanned))}" if scanned else "never scanned")
    )
    return lines
