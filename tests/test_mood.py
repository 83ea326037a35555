"""The mood engine under a fake clock: frames are (time, probabilities) pairs."""

import pytest

from moodbox.vision.emotion import LABELS
from moodbox.vision.mood import AWAY, MoodEngine, MoodSettings

FPS = 10


def face(label: str, p: float = 0.8) -> dict[str, float]:
    rest = (1 - p) / (len(LABELS) - 1)
    return {k: (p if k == label else rest) for k in LABELS}


def run(engine: MoodEngine, frames, start: float = 0.0, fps: int = FPS):
    """Feed frames at `fps` from `start`; return [(t, mood)] of the announcements."""
    out = []
    for i, probs in enumerate(frames):
        d = engine.observe(start + i / fps, probs)
        if d:
            out.append((round(d.t, 2), d.mood))
    return out


def hold(label, seconds, p=0.8):
    return [face(label, p)] * int(seconds * FPS)


def test_a_held_expression_is_announced_after_the_dwell():
    engine = MoodEngine()
    decisions = run(engine, hold("happy", 5))
    assert decisions == [(1.2, "happy")]
    assert engine.mood == "happy"


def test_two_expressions_each_announced_within_three_seconds_and_nothing_else():
    decisions = run(MoodEngine(), hold("happy", 10) + hold("sad", 10))
    assert [m for _, m in decisions] == ["happy", "sad"]
    assert decisions[0][0] <= 3.0
    assert 10.0 < decisions[1][0] <= 13.0


def test_blinks_and_single_frame_glitches_do_not_flip_the_mood():
    frames = hold("neutral", 3)
    for _ in range(10):  # every half second, one frame reads strongly as surprise
        frames += [face("surprise", 0.99)] + hold("neutral", 0.4)
    assert [m for _, m in run(MoodEngine(), frames)] == ["neutral"]


def test_alternating_noise_between_two_moods_announces_only_one():
    frames = [face("sad" if i % 2 else "neutral", 0.55) for i in range(200)]
    assert len(run(MoodEngine(), frames)) <= 1


def test_uncertain_faces_are_not_announced():
    flat = {k: 1 / len(LABELS) for k in LABELS}
    assert run(MoodEngine(), [flat] * 100) == []
    assert run(MoodEngine(MoodSettings(min_confidence=0.5)), hold("fear", 10, p=0.45)) == []


def test_a_short_change_shorter_than_the_dwell_is_ignored():
    frames = hold("happy", 5) + hold("angry", 1.0) + hold("happy", 5)
    assert [m for _, m in run(MoodEngine(), frames)] == ["happy"]


def test_min_interval_defers_but_does_not_drop_a_change_that_holds():
    settings = MoodSettings(min_interval=8.0)
    decisions = run(MoodEngine(settings), hold("happy", 3) + hold("sad", 12))
    assert [m for _, m in decisions] == ["happy", "sad"]
    assert decisions[1][0] - decisions[0][0] == pytest.approx(8.0, abs=0.11)


def test_smoothing_is_in_seconds_not_frames():
    """A 30 fps and a 5 fps camera announce the change at about the same time."""
    times = []
    for fps in (5, 30):
        frames = [face("happy")] * (5 * fps) + [face("sad")] * (10 * fps)
        decisions = run(MoodEngine(), frames, fps=fps)
        times.append(decisions[1][0])
    assert abs(times[0] - times[1]) <= 0.3


def test_away_after_no_face_and_back_again():
    engine = MoodEngine()
    frames = hold("happy", 3) + [None] * (10 * FPS) + hold("surprise", 8)
    decisions = run(engine, frames)
    assert [m for _, m in decisions] == ["happy", AWAY, "surprise"]
    assert decisions[1][0] == pytest.approx(3 + 8.0 - 0.1, abs=0.11)
    # After away, smoothing starts afresh: the returning face is read on its own.
    assert decisions[2][0] - 13.0 <= 1.2 + 0.11


def test_brief_face_loss_is_not_away():
    frames = hold("happy", 3) + [None] * (5 * FPS) + hold("happy", 3)
    assert [m for _, m in run(MoodEngine(), frames)] == ["happy"]


def test_nobody_from_the_start_is_away():
    decisions = run(MoodEngine(), [None] * (10 * FPS))
    assert decisions == [(8.0, AWAY)]


def test_same_mood_after_away_is_announced_again():
    frames = hold("happy", 3) + [None] * (9 * FPS) + hold("happy", 8)
    assert [m for _, m in run(MoodEngine(), frames)] == ["happy", AWAY, "happy"]


def test_confidence_is_the_smoothed_probability():
    d = MoodEngine().observe(0.0, face("happy", 0.9))
    assert d is None
    engine = MoodEngine(MoodSettings(dwell=0.0))
    d = engine.observe(0.0, face("happy", 0.9))
    assert d is not None and d.confidence == pytest.approx(0.9)
