"""Buttons and LEDs through gpiozero's own mock pins (real GPIO cannot exist here), and the
service acting on them against a real MPD."""

import queue
import threading
import time

import cv2
import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin
from make_clip import make_clip

from conftest import FACES, ROOT, wait_for
from moodbox import config
from moodbox.appliance.controls import MOOD_COLOURS, Controls, Event, LedState
from moodbox.config import GpioConfig
from moodbox.history.settings import HistorySettings
from moodbox.history.store import HistoryStore
from moodbox.vision.settings import CameraSettings, ModelSettings

SKIP, LOCK, LED, RED, GREEN, BLUE = 17, 27, 22, 5, 6, 13
GPIO = GpioConfig(
    skip_button=SKIP, lock_button=LOCK, led=LED, rgb_red=RED, rgb_green=GREEN, rgb_blue=BLUE, hold_time=0.3
)


@pytest.fixture
def pins():
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = None


def press(pins, pin, seconds=0.05):
    pins.pin(pin).drive_low()  # buttons pull up: pressed = low
    time.sleep(seconds)
    pins.pin(pin).drive_high()


def drain(events):
    out = []
    while True:
        try:
            out.append(events.get(timeout=0.3))
        except queue.Empty:
            return out


def test_press_and_hold_are_different_events(pins):
    events = queue.SimpleQueue()
    controls = Controls(GPIO, events)
    press(pins, SKIP)
    assert drain(events) == [Event.SKIP]
    press(pins, SKIP, seconds=0.6)
    assert drain(events) == [Event.REREAD]  # a hold is not also a press
    press(pins, LOCK)
    assert drain(events) == [Event.LOCK]
    press(pins, LOCK, seconds=0.6)
    assert drain(events) == [Event.PRIVACY]
    controls.close()


def blink_times(pin, seconds):
    """On/off durations of the LED over `seconds` (mock pins record the time since the previous change)."""
    pin.clear_states()
    time.sleep(seconds)
    return [s.timestamp for s in pin.states[2:]]


def blinks_like(durations, on_off, tolerance=0.06):
    return durations and all(min(abs(d - t) for t in on_off) < tolerance for d in durations)


def test_each_state_has_its_own_led_pattern(pins):
    controls = Controls(GPIO, queue.SimpleQueue())
    led = pins.pin(LED)
    controls.show(LedState.PLAYING, "happy")
    time.sleep(0.1)
    assert led.state == 1 and blink_times(led, 0.3) == []
    controls.show(LedState.ERROR)
    assert blinks_like(blink_times(led, 1.0), (0.1, 0.1))
    controls.show(LedState.STARTING)
    assert blinks_like(blink_times(led, 2.2), (0.5, 0.5))
    controls.show(LedState.LOCKED)
    assert blinks_like(blink_times(led, 2.6), (1.0, 0.25))
    controls.close()
    assert led.state == 0  # closing turns the LED off


def test_rgb_led_shows_the_mood_colour(pins):
    controls = Controls(GPIO, queue.SimpleQueue())
    controls.show(LedState.PLAYING, "sad")
    assert tuple(pins.pin(p).state for p in (RED, GREEN, BLUE)) == pytest.approx(MOOD_COLOURS["sad"])
    controls.show(LedState.WATCHING, None)
    assert tuple(pins.pin(p).state for p in (RED, GREEN, BLUE)) == (0, 0, 0)
    controls.close()


def test_no_gpio_section_means_no_controls():
    assert config.Config().gpio is None


def happy(client) -> bool:
    return client.currentsong().get("file", "").startswith("happy/")


def test_buttons_drive_the_music_in_a_running_service(tmp_path, mpd_server_long_songs, pins):
    from moodbox.appliance.service import Service

    mpd_server = mpd_server_long_songs  # a skip is a skip, not the last seconds of a short song

    face = cv2.imread(str(FACES / "happy" / "fer2013_row35200.png"), cv2.IMREAD_GRAYSCALE)
    clip = make_clip(tmp_path / "c.avi", [(face, 40)])
    cfg = config.load(None)
    cfg = config.Config(
        model=ModelSettings(path=ROOT / "models" / "emotion.tflite"),
        camera=CameraSettings(source=str(clip)),
        mpd=config.MpdSettings(host="127.0.0.1", port=mpd_server.port, transition="now"),
        gpio=GPIO,
        history=HistorySettings(path=tmp_path / "history.sqlite"),
    )
    service = Service(cfg)
    thread = threading.Thread(target=service.run)
    thread.start()
    client = mpd_server.client()
    try:
        song = wait_for(lambda: client.currentsong()["file"] if happy(client) else None)
        assert song, "the happy playlist never started"
        assert wait_for(lambda: pins.pin(LED).state == 1 and service.controls.state is LedState.PLAYING)

        press(pins, SKIP)  # next song, observed in MPD
        assert wait_for(lambda: client.currentsong().get("file") != song)
        assert client.currentsong()["file"].startswith("happy/")

        press(pins, LOCK)  # lock: the music stops following the face
        assert wait_for(lambda: service.locked and service.controls.state is LedState.LOCKED)
        press(pins, LOCK)
        assert wait_for(lambda: not service.locked)

        press(pins, SKIP, seconds=0.6)  # hold: read the mood again
        assert wait_for(lambda: service.vision.engine.mood is None, timeout=2)
        assert wait_for(lambda: service.vision.engine.mood == "happy", timeout=30)  # slow under emulation

        press(pins, LOCK, seconds=0.6)  # hold: privacy, camera off
        assert wait_for(lambda: service.privacy and service.frames is None)
        assert wait_for(lambda: service.controls.state is LedState.PRIVACY)
        press(pins, LOCK)  # camera back on
        assert wait_for(lambda: not service.privacy and service.frames is not None)
    finally:
        client.disconnect()
        service.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert pins.pin(LED).state == 0

    with HistoryStore(tmp_path / "history.sqlite", write=False) as history:  # what the service recorded
        events = history.events()
    said = [(e.kind, e.outcome) for e in events if e.kind in ("lock", "privacy", "service")]
    assert said == [
        ("service", "start"),
        ("lock", "locked"),
        ("lock", "unlocked"),
        ("privacy", "on"),
        ("privacy", "off"),
        ("service", "stop"),
    ]
    assert any(e.kind == "mood" and e.mood == "happy" and e.confidence for e in events)
    switch = next(e for e in events if e.kind == "switch")
    assert (switch.mood, switch.playlist, switch.policy) == ("happy", "happy", "match")
    assert switch.detail["why"].startswith("mood happy (")
    skipped = next(e for e in events if e.kind == "song" and e.outcome == "skipped")
    assert (skipped.file, skipped.mood, skipped.playlist, skipped.detail["by"]) == (song, "happy", "happy", "button")
    assert not any(e.kind == "error" for e in events)
