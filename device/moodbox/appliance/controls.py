"""Two buttons and a status LED, through gpiozero, so moodbox is usable without a screen.

* skip button: press = next song; hold = read the mood again now.
* lock button: press = lock/unlock the current music (stop following the face);
  hold = privacy mode, camera off until the lock button is pressed again.

Button callbacks run on gpiozero's threads, so they only put an `Event` on a
queue; the service's loop acts on it, and MPD is only ever touched from one
thread. The LED shows one pattern per state (see `PATTERNS`); an optional RGB
LED shows a colour per mood.
"""

from __future__ import annotations

import enum
import queue
from typing import Any

from moodbox.config import GpioConfig


class Event(enum.Enum):
    SKIP = "skip"
    REREAD = "reread"
    LOCK = "lock"
    PRIVACY = "privacy"


class LedState(enum.Enum):
    STARTING = "starting"
    WATCHING = "watching"  # no face yet, or away
    PLAYING = "playing"  # following a mood
    LOCKED = "locked"
    PRIVACY = "privacy"
    ERROR = "error"


# (on seconds, off seconds) of a blink; None = steadily on.
PATTERNS: dict[LedState, tuple[float, float] | None] = {
    LedState.STARTING: (0.5, 0.5),
    LedState.WATCHING: (0.1, 1.9),
    LedState.PLAYING: None,
    LedState.LOCKED: (1.0, 0.25),
    LedState.PRIVACY: (0.05, 4.95),
    LedState.ERROR: (0.1, 0.1),
}

MOOD_COLOURS: dict[str, tuple[float, float, float]] = {
    "angry": (1.0, 0.0, 0.0),
    "disgust": (0.2, 0.8, 0.0),
    "fear": (0.5, 0.0, 1.0),
    "happy": (1.0, 0.8, 0.0),
    "sad": (0.0, 0.2, 1.0),
    "surprise": (1.0, 0.4, 0.0),
    "neutral": (1.0, 1.0, 1.0),
    "away": (0.05, 0.05, 0.05),
}


class Controls:
    """The buttons and LEDs named in the `gpio:` config section."""

    def __init__(self, cfg: GpioConfig, events: queue.SimpleQueue[Any]) -> None:  # the service's: Events and more
        from gpiozero import LED, RGBLED

        self.events = events
        self._devices: list[Any] = []
        self.led = self._add(LED(cfg.led)) if cfg.led is not None else None
        rgb = (cfg.rgb_red, cfg.rgb_green, cfg.rgb_blue)
        self.rgb = self._add(RGBLED(*rgb)) if all(pin is not None for pin in rgb) else None
        self.skip_button = self._button(cfg.skip_button, cfg, Event.SKIP, Event.REREAD)
        self.lock_button = self._button(cfg.lock_button, cfg, Event.LOCK, Event.PRIVACY)
        self.state: LedState | None = None

    def _add(self, device: Any) -> Any:
        self._devices.append(device)
        return device

    def _button(self, pin: int | None, cfg: GpioConfig, press: Event, hold: Event) -> Any:
        """A button that reports a short press on release, or a hold once it has been held long enough."""
        if pin is None:
            return None
        from gpiozero import Button

        button = self._add(Button(pin, bounce_time=cfg.bounce_time or None, hold_time=cfg.hold_time))
        was_held = [False]  # gpiozero devices refuse new attributes, so the flag lives here

        def held() -> None:
            was_held[0] = True
            self.events.put(hold)

        def released() -> None:
            if not was_held[0]:
                self.events.put(press)
            was_held[0] = False

        button.when_held = held
        button.when_released = released
        return button

    def show(self, state: LedState, mood: str | None = None) -> None:
        """Set the LED pattern (only when the state changes, so blinking is not restarted every frame)."""
        if self.rgb is not None:
            colour = MOOD_COLOURS.get(mood or "", (0.0, 0.0, 0.0)) if state == LedState.PLAYING else (0.0, 0.0, 0.0)
            if self.rgb.value != colour:
                self.rgb.color = colour
        if state == self.state or self.led is None:
            self.state = state
            return
        self.state = state
        pattern = PATTERNS[state]
        if pattern is None:
            self.led.on()
        else:
            self.led.blink(on_time=pattern[0], off_time=pattern[1])

    def close(self) -> None:
        """LEDs off, pins released."""
        for device in reversed(self._devices):
            device.close()
        self._devices.clear()
