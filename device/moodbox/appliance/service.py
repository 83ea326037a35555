"""`moodbox run`: the appliance loop.

camera → faces → emotion → mood → player, with the buttons and the LED, and
systemd told what is going on:

* READY=1 once the model is loaded and the camera has delivered a frame. MPD
  is not waited for: its state is in STATUS and on the LED (fast blink while
  it is unreachable or refuses moodbox), and the music starts when it answers.
* WATCHDOG=1 from the frame loop, which never waits on MPD (the player runs on
  its own thread, `PlayerWorker`) nor on a dead camera (a live camera is read
  on its own thread, `LatestFrame`), so it stops only if the loop itself hangs.
* STATUS= mood, analysed fps and playlist (or what is wrong with MPD).
* SIGHUP (`systemctl reload moodbox`) re-reads the config file and applies it
  without stopping the music: RELOADING=1, then READY=1. A config that does
  not load is one error line, and the running one is kept.

Frames are analysed at `camera.analyse_fps` (`Sampler`): the newest frame is
taken, the rest dropped. A camera that stays dead past `camera.give_up_after`,
or a player error marked fatal (another moodbox steers this MPD), ends the run
with one error line and a non-zero exit. SIGTERM/SIGINT stop cleanly: LED off,
camera released, exit 0.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import cv2

from moodbox import config
from moodbox.appliance.control import Command, ControlServer
from moodbox.appliance.controls import Controls, Event, LedState
from moodbox.appliance.notify import Notifier
from moodbox.appliance.recorder import Recorder
from moodbox.appliance.state import LastScan, Vitals, face_view, snapshot, status_line
from moodbox.base.moods import AWAY
from moodbox.config import Config
from moodbox.playback.worker import PlayerWorker
from moodbox.vision.camera import CameraError, FrameSource, open_source
from moodbox.vision.emotion import ModelError
from moodbox.vision.faces import DetectorError
from moodbox.vision.grabber import LatestFrame
from moodbox.vision.pipeline import Vision, reloaded_vision
from moodbox.vision.rate import AnalysisRate, Sampler

log = logging.getLogger("moodbox")


class Service:
    # The signal that stopped the run, logged by `run` once the loop is out: a handler that logs can land in the
    # middle of a log line being written, and the stream refuses the reentrant write with a traceback.
    stopped_by: str | None = None

    def __init__(self, cfg: Config, source: str | None = None, config_path: Path | None = None) -> None:
        self.cfg, self.config_path = cfg, config_path
        # OpenCV spreads each detection over every core by default. At camera.analyse_fps a frame has
        # over 100 ms, and the threads' hand-offs cost more CPU than they save (10.5 against 8.5 ms
        # a detection here): one thread leaves the other cores to the camera, the player and MPD.
        cv2.setNumThreads(1)
        self.source_override = source
        self.stop_event = threading.Event()
        self.reload_requested = threading.Event()
        self.events: queue.SimpleQueue[Event | Command] = queue.SimpleQueue()
        self.notifier = Notifier()
        self.controls = Controls(cfg.gpio, self.events) if cfg.gpio is not None else None
        if self.controls is not None:
            self.controls.show(LedState.STARTING)
        self.notifier.status("loading the model")
        self.vision = Vision.from_settings(cfg.model, cfg.detector, cfg.mood)
        self.history = Recorder(cfg.history, cfg.policy)  # its own thread writes it: see appliance.recorder
        self.player = PlayerWorker(cfg.mpd, cfg.playlist_for(), on_event=self.history.playback)
        self.rate = AnalysisRate(cfg.camera.analyse_fps)
        self.frames: Sampler | None = None
        self.locked = False
        self.privacy = False
        self.ready = False
        self.vitals = Vitals()
        self.control = ControlServer(cfg.control.socket, self.events)
        self.paused = False
        self.last_scan = LastScan()
        self.mood_since: float | None = None  # wall-clock time of the last decision
        self.confidence: float | None = None
        self.view = face_view(None, None, cfg.detector.min_face)  # the last frame's face box, for aiming
        self._mood_changed = False
        self._shown_player = self.player.state  # what STATUS last said about the player

    @property
    def source_spec(self) -> str:
        return self.source_override or self.cfg.camera.source

    # ---- lifecycle ------------------------------------------------------------------------

    def run(self) -> int:
        previous = {}
        if threading.current_thread() is threading.main_thread():  # signals can only be caught there
            handlers = {signal.SIGTERM: self._on_stop, signal.SIGINT: self._on_stop, signal.SIGHUP: self._on_reload}
            previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
        try:
            self.history.start()
            self.player.start()
            self.control.start_or_say()
            self.notifier.status("starting the camera")
            self._loop()
        finally:
            if self.stopped_by:
                log.info("stopping (%s)", self.stopped_by)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.close()
        return 0

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopped_by = signal.Signals(signum).name  # no logging in a handler: see stopped_by
        self.stop_event.set()

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self.reload_requested.set()  # logged by _reload, on the loop

    def stop(self) -> None:
        self.stop_event.set()

    def close(self) -> None:
        self.notifier.stopping()
        self._close_camera()
        self.player.close()
        self.history.close()
        if self.controls is not None:
            self.controls.close()
        self.control.close()
        self.notifier.close()

    def _open_camera(self, cfg: Config, rate: AnalysisRate) -> Sampler:
        cam = cfg.camera
        source: FrameSource = open_source(
            self.source_override or cam.source, fps=cam.fps, give_up_after=cam.give_up_after
        )
        if source.live:
            source = LatestFrame(source)
        return Sampler(source, rate, wait=self.stop_event.wait)

    def _close_camera(self) -> None:
        if self.frames is not None:
            self.frames.source.close()
            self.frames = None

    # ---- the loop -------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            self._handle_events()
            if self.reload_requested.is_set():
                self._reload()
            if self.privacy:
                self._idle_in_privacy()
                continue
            if self.frames is None:
                self.frames = self._open_camera(self.cfg, self.rate)
            frame = self.frames.next()
            if frame is None:
                if self.frames.ended:
                    log.info("end of %s", self.source_spec)
                    return
                self._tick()  # a live camera with no new frame yet: everything else carries on
                continue
            step = self.vision.step(frame)
            self.vitals.count(frame.image)
            self.view = face_view(step.box, frame.image.shape, self.cfg.detector.min_face)
            self._mood_changed = step.decision is not None
            if step.decision is not None:
                d = step.decision
                self.mood_since, self.confidence = time.time(), d.confidence
                self.history.mood(d, self.locked)
                if self.locked:
                    log.info("mood %s (%.2f) - locked, music unchanged", d.mood, d.confidence)
                else:
                    names = " or ".join(self.cfg.playlist_for().get(d.mood, ())) or "none"
                    log.info("mood %s (%.2f) -> playlist %s", d.mood, d.confidence, names)
                    self.player.follow(d.mood, f"mood {d.mood} ({d.confidence:.2f})")
            if not self.ready:
                if self.player.state.fatal is not None:  # ends the run in one line: never announce ready first
                    raise self.player.state.fatal
                self.ready = True
                self.notifier.ready(self._status())
                log.info("ready: model and camera %s are up; %s", self.source_spec, self.player.state.describe())
            self._tick()

    def _tick(self) -> None:
        """Per-frame housekeeping: a fatal player error, LED, watchdog, status. Never waits."""
        state = self.player.state
        if state.fatal is not None:
            raise state.fatal
        if self.ready:
            news = self._mood_changed or state != self._shown_player
            self.notifier.status(self._status(), urgent=news)
            self._shown_player = state
        self._show(self._led_state())
        self.vitals.tick()
        self.control.publish(self._state())
        self.notifier.watchdog()

    def _idle_in_privacy(self) -> None:
        if self.frames is not None:
            self._close_camera()
            self.view = face_view(None, None, self.cfg.detector.min_face)
            log.info("privacy mode: camera off until the lock button is pressed")
        self._tick()
        self.stop_event.wait(0.1)

    def _handle_events(self) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, Command):
                self._command(event)
            else:
                log.info("button: %s", event.value)
                self._press(event)

    def _press(self, event: Event) -> None:
        """What a button does (the control socket's commands do the same)."""
        if event is Event.SKIP:
            self.player.skip()
        elif event is Event.REREAD:
            self.vision.engine.reset()
        elif event is Event.LOCK:
            if self.privacy:
                self.privacy = False
                self.history.privacy(False)
                log.info("privacy mode off: camera on")
            else:
                self.locked = not self.locked
                self.history.lock(self.locked)
                log.info("music %s", "locked" if self.locked else "follows the mood again")
                if not self.locked and self.vision.engine.mood:
                    self.player.follow(self.vision.engine.mood, "unlocked")
        elif event is Event.PRIVACY:
            self.privacy = True
            self.history.privacy(True)

    def _command(self, command: Command) -> None:
        """A command from the control socket (the web page): the buttons' effects, each set explicitly."""
        log.info("control: %s%s", command.name, "" if command.value is None else f" {command.value}")
        if command.name == "skip":
            self._press(Event.SKIP)
        elif command.name == "reread":
            self._press(Event.REREAD)
        elif command.name == "privacy":
            if command.value and not self.privacy:
                self._press(Event.PRIVACY)
            elif not command.value and self.privacy:
                self._press(Event.LOCK)  # as the button: a press ends privacy
        elif command.name == "lock" and bool(command.value) != self.locked and not self.privacy:
            self._press(Event.LOCK)
        elif command.name == "policy" and command.value != self.cfg.policy:
            policy: Literal["match", "uplift"] = "uplift" if command.value == "uplift" else "match"
            self.cfg = dataclasses.replace(self.cfg, policy=policy)  # until the config is reloaded
            self.player.reconfigure(self.cfg.mpd, self.cfg.playlist_for())
        elif command.name in ("pause", "resume"):
            self.paused = command.name == "pause"
            self.player.pause(self.paused)

    # ---- reload (SIGHUP) ------------------------------------------------------------------

    def _reload(self) -> None:
        """Apply the config file as it is now; the music plays on, and a bad file changes nothing."""
        self.reload_requested.clear()
        log.info("reloading the config")
        self.notifier.reloading()
        where = self.config_path or config.DEFAULT_PATH
        try:
            new = config.load(self.config_path, whole=True)  # empty or cut short: keep the running one
            vision = reloaded_vision(self.vision, (self.cfg.model, self.cfg.detector), (new.model, new.detector))
            frames = self._camera_for(new)
        except (config.ConfigError, ModelError, DetectorError, CameraError) as e:
            log.error("reload: %s; still running with the previous config", e)
        except Exception as e:  # whatever a new model or source throws: the running config is still good
            log.error("reload: %s (%s); still running with the previous config", e, type(e).__name__)
        else:
            self._apply(new, vision, frames)
            log.info("reloaded %s", where)
        self.notifier.ready(self._status())

    def _camera_for(self, new: Config) -> Sampler | None:
        """The camera opened with new settings where they changed (and it is on), so a bad source fails here."""
        if new.camera == self.cfg.camera or self.frames is None:
            return None
        return self._open_camera(new, AnalysisRate(new.camera.analyse_fps))

    def _apply(self, new: Config, vision: Vision, frames: Sampler | None) -> None:
        old, self.cfg, self.vision = self.cfg, new, vision
        vision.engine.settings = new.mood  # the mood being followed stays
        if new.mpd != old.mpd or new.playlist_for() != old.playlist_for():
            self.player.reconfigure(new.mpd, new.playlist_for())
        if new.camera != old.camera:
            self.rate = frames.rate if frames is not None else AnalysisRate(new.camera.analyse_fps)
            if frames is not None:
                self._close_camera()
                self.frames = frames
        if new.gpio != old.gpio:
            self._reopen_controls(new)
        if new.history != old.history or new.policy != old.policy:
            self.history.reconfigure(new.history, new.policy)

    def _reopen_controls(self, new: Config) -> None:
        """The buttons and LED on their new pins; pins that cannot be had leave them off, the music plays on."""
        if self.controls is not None:
            self.controls.close()
            self.controls = None
        if new.gpio is None:
            return
        try:
            self.controls = Controls(new.gpio, self.events)
        except Exception as e:  # gpiozero's and lgpio's own errors: pin in use, no GPIO chip
            log.error("reload: gpio: %s; buttons and LED stay off until the gpio section is fixed", e)

    # ---- what the outside sees ------------------------------------------------------------

    def _led_state(self) -> LedState:
        if not self.ready:
            return LedState.STARTING
        state = self.player.state
        if state.tried and not state.ok:
            return LedState.ERROR
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
        return status_line(self)

    def _state(self) -> dict[str, Any]:
        return snapshot(self)
