"""`moodbox run`: the appliance loop.

camera → faces → emotion → mood → player, with the buttons and the LED, and
systemd told what is going on:

* READY=1 once the model is loaded, the camera has delivered a frame and MPD
  answered; until then STATUS says what is being waited for.
* WATCHDOG=1 from the frame loop, so a camera that hangs inside a read stops
  the pings and systemd restarts the service.
* STATUS= mood, fps and playlist, whenever they change.

MPD going away is not fatal: the player retries with backoff while the loop
keeps watching. A camera that stays dead past `camera.give_up_after` ends the
run with one error line and a non-zero exit, for systemd to restart.
SIGTERM/SIGINT stop cleanly: LED off, camera released, exit 0.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from types import FrameType

from moodbox.camera import FrameSource, Pacer, open_source
from moodbox.config import Config
from moodbox.controls import Controls, Event, LedState
from moodbox.mood import AWAY
from moodbox.notify import Notifier
from moodbox.pipeline import Vision
from moodbox.player import Player

log = logging.getLogger("moodbox")


class Service:
    def __init__(self, cfg: Config, source: str | None = None) -> None:
        self.cfg = cfg
        self.source_spec = source or cfg.camera.source
        self.stop_event = threading.Event()
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.notifier = Notifier()
        self.controls = Controls(cfg.gpio, self.events) if cfg.gpio is not None else None
        if self.controls is not None:
            self.controls.show(LedState.STARTING)
        self.notifier.status("loading the model")
        self.vision = Vision.from_config(cfg)
        self.player = Player(cfg.mpd, cfg.playlist_for())
        self.source: FrameSource | None = None
        self.locked = False
        self.privacy = False
        self.ready = False
        self._fps = 0.0
        self._mood_changed = False

    # ---- lifecycle ------------------------------------------------------------------------

    def run(self) -> int:
        previous = {}
        if threading.current_thread() is threading.main_thread():  # signals can only be caught there
            previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.notifier.status("starting the camera")
            self.source = self._open_camera()
            self._loop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.close()
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("stopping (%s)", signal.Signals(signum).name)
        self.stop_event.set()

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        self.notifier.stopping()
        if self.source is not None:
            self.source.close()
            self.source = None
        self.player.close()
        if self.controls is not None:
            self.controls.close()
        self.notifier.close()

    def _open_camera(self) -> FrameSource:
        cam = self.cfg.camera
        return open_source(self.source_spec, fps=cam.fps, give_up_after=cam.give_up_after)

    # ---- the loop -------------------------------------------------------------------------

    def _loop(self) -> None:
        started = time.monotonic()
        pace = Pacer(wait=self.stop_event.wait)
        frames = 0
        while not self.stop_event.is_set():
            self._handle_events()
            if self.privacy:
                self._idle_in_privacy()
                continue
            if self.source is None:
                self.source = self._open_camera()
            frame = self.source.read()
            if frame is None:
                if not self.source.live:
                    log.info("end of %s", self.source_spec)
                    return
                continue
            if not self.source.live:  # a file plays at its own frame rate
                pace(frame)
                if self.stop_event.is_set():
                    return
            step = self.vision.step(frame)
            frames += 1
            self._fps = frames / max(time.monotonic() - started, 1e-6)
            self._mood_changed = step.decision is not None
            if step.decision is not None:
                d = step.decision
                if self.locked:
                    log.info("mood %s (%.2f) - locked, music unchanged", d.mood, d.confidence)
                else:
                    log.info("mood %s (%.2f) -> playlist %s", d.mood, d.confidence, self.player.playlists.get(d.mood))
                    self.player.follow(d.mood)
            self._tick()

    def _tick(self) -> None:
        """Per-frame housekeeping: MPD, readiness, LED, watchdog, status."""
        self.player.poll()
        if not self.ready and self.player.connected:
            self.ready = True
            self.notifier.ready(self._status())
            log.info("ready: camera, model and MPD at %s are up", self.player.address)
        elif not self.ready:
            self.notifier.status(f"waiting for MPD at {self.player.address}: {self.player.last_error}")
        else:
            self.notifier.status(self._status(), urgent=self._mood_changed)
        self._show(self._led_state())
        self.notifier.watchdog()

    def _idle_in_privacy(self) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None
            log.info("privacy mode: camera off until the lock button is pressed")
        self._tick()
        self.stop_event.wait(0.1)

    def _handle_events(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            log.info("button: %s", event.value)
            if event is Event.SKIP:
                self.player.skip()
            elif event is Event.REREAD:
                self.vision.engine.reset()
            elif event is Event.LOCK:
                if self.privacy:
                    self.privacy = False
                    log.info("privacy mode off: camera on")
                else:
                    self.locked = not self.locked
                    log.info("music %s", "locked" if self.locked else "follows the mood again")
                    if not self.locked and self.vision.engine.mood:
                        self.player.follow(self.vision.engine.mood)
            elif event is Event.PRIVACY:
                self.privacy = True

    # ---- what the outside sees ------------------------------------------------------------

    def _led_state(self) -> LedState:
        if self.ready and not self.player.connected:
            return LedState.ERROR
        if not self.ready:
            return LedState.STARTING
        if self.privacy:
            return LedState.PRIVACY
        if self.locked:
            return LedState.LOCKED
        mood = self.vision.engine.mood
        return LedState.PLAYING if mood and mood != AWAY else LedState.WATCHING

    def _show(self, state: LedState) -> None:
        if self.controls is not None:
            self.controls.show(state, self.vision.engine.mood)

    def _status(self) -> str:
        mood = "privacy" if self.privacy else (self.vision.engine.mood or "watching")
        lock = ", locked" if self.locked else ""
        return f"mood {mood}{lock}, {self._fps:.0f} fps, playlist {self.player.playlist or '-'}"
