"""Each mood's point moved to where the listener's skips put it (moodbox.music.mood_points): arithmetic on a
made plane of tracks and made listeners, clock injected."""

from __future__ import annotations

import math
import random

from moodbox.music.feedback import FeedbackSettings, gather
from moodbox.music.mood_playlists import plan
from moodbox.music.mood_points import learn, plan_learned

NOW = 1_800_000_000.0
HAPPY, SAD, CALM = "moodbox-happy", "moodbox-sad", "moodbox-neutral"
TARGETS = {HAPPY: (0.7, 0.4), SAD: (-0.6, -0.4), CALM: (0.0, -0.2)}
# 400 tracks on a 20 x 20 lattice over the plane, named by where they sit
TRACKS = [(f"v{i:02d}a{j:02d}.flac", -0.95 + 0.1 * i, -0.95 + 0.1 * j) for i in range(20) for j in range(20)]
SIZE = 30
SPREAD = FeedbackSettings().point_spread


def lives(true_points: dict[str, tuple[float, float]], nights: int = 3, seed: int = 1) -> list:
    """A listener who hears each night's playlists (planned by plan_learned from what came before) and skips a song
    with p=0.8 when it lies more than 0.45 from where the mood truly is for them, else with p=0.1."""
    rng = random.Random(seed)
    heard: list = []
    for night in range(nights):
        t = NOW - (nights - night) * 86400.0
        playlists, _ = plan_learned(TRACKS, TARGETS, SIZE, gather(heard, t, 14.0), FeedbackSettings())
        where = {file: (v, a) for file, v, a in TRACKS}
        for name, files in playlists.items():
            for file in files:
                far = math.dist(where[file], true_points[name]) > 0.45
                skipped = rng.random() < (0.8 if far else 0.1)
                heard.append((t, name, file, "skipped" if skipped else "played"))
    return heard


def test_a_listener_who_never_skips_or_skips_everything_keeps_every_point():
    alone = plan(TRACKS, TARGETS, SIZE)
    played = [(NOW, name, file, "played") for name, files in alone.items() for file in files]
    skipped = [(NOW, name, file, "skipped") for name, files in alone.items() for file in files]
    for heard in ([], played, skipped):
        feedback = gather(heard, NOW, 14.0)
        assert learn(TRACKS, TARGETS, feedback, SPREAD) == TARGETS
    assert plan_learned(TRACKS, TARGETS, SIZE, gather(played, NOW, 14.0), FeedbackSettings()) == (alone, TARGETS)


def test_a_mood_whose_songs_are_skipped_on_one_side_moves_to_the_songs_played_through():
    """Neutral is calm and content to this listener (valence +0.5, arousal -0.5); happy and sad are where configured."""
    truth = {HAPPY: TARGETS[HAPPY], SAD: TARGETS[SAD], CALM: (0.5, -0.5)}
    heard = lives(truth)
    points = learn(TRACKS, TARGETS, gather(heard, NOW, 14.0), SPREAD)
    assert math.dist(points[CALM], truth[CALM]) < math.dist(TARGETS[CALM], truth[CALM]) / 2
    assert math.dist(points[HAPPY], TARGETS[HAPPY]) < 0.2 and math.dist(points[SAD], TARGETS[SAD]) < 0.2

    playlists, _ = plan_learned(TRACKS, TARGETS, SIZE, gather(heard, NOW, 14.0), FeedbackSettings())
    where = {file: (v, a) for file, v, a in TRACKS}
    fitting = [
        sum(math.dist(where[file], truth[CALM]) <= 0.45 for file in files)
        for files in (plan(TRACKS, TARGETS, SIZE)[CALM], playlists[CALM])
    ]
    assert fitting[1] > 2 * fitting[0]


def test_random_skips_move_no_point():
    """A listener who skips one song in ten whatever it is: skips say nothing about place, so no point moves."""
    rng = random.Random(7)
    alone = plan(TRACKS, TARGETS, SIZE)
    heard = [
        (NOW - night * 86400.0, name, file, "skipped" if rng.random() < 0.1 else "played")
        for night in range(5)
        for name, files in alone.items()
        for file in files
    ]
    assert learn(TRACKS, TARGETS, gather(heard, NOW, 14.0), SPREAD) == TARGETS


def test_songs_gone_from_the_library_are_left_out():
    """The history outlives files a person deletes: their skips say nothing about where a mood lies now."""
    truth = {HAPPY: TARGETS[HAPPY], SAD: TARGETS[SAD], CALM: (0.5, -0.5)}
    heard = lives(truth)
    gone = [(NOW - 86400.0, name, f"gone/{i}.flac", "skipped") for i in range(40) for name in TARGETS]
    assert learn(TRACKS, TARGETS, gather(heard + gone, NOW, 14.0), SPREAD) == learn(
        TRACKS, TARGETS, gather(heard, NOW, 14.0), SPREAD
    )


def test_move_points_false_keeps_the_configured_points():
    truth = {HAPPY: TARGETS[HAPPY], SAD: TARGETS[SAD], CALM: (0.5, -0.5)}
    feedback = gather(lives(truth), NOW, 14.0)
    _, points = plan_learned(TRACKS, TARGETS, SIZE, feedback, FeedbackSettings(move_points=False))
    assert points == TARGETS


def test_a_listener_who_skips_most_songs_still_moves_the_point():
    """Every song heard in every mood, so most are skipped (seven in ten). The link's fit starts far from its answer
    there; a plain Newton step overshot and swung ever wider (a slope of 1500), and no point could move."""
    truth = {HAPPY: TARGETS[HAPPY], SAD: TARGETS[SAD], CALM: (0.5, -0.5)}
    rng = random.Random(1)
    heard = []
    for file, v, a in TRACKS:
        for name, point in truth.items():
            for day in (1, 3, 5):
                skip = 1.0 / (1.0 + math.exp(2.5 - 4.0 * math.dist((v, a), point)))  # seldom on the point
                heard.append((NOW - day * 86400.0, name, file, "skipped" if rng.random() < skip else "played"))
    feedback = gather(heard, NOW, 14.0)
    assert feedback.base_rate > 0.6
    points = learn(TRACKS, TARGETS, feedback, SPREAD)
    assert math.dist(points[CALM], truth[CALM]) < 0.1
    assert math.dist(points[HAPPY], TARGETS[HAPPY]) < 0.1 and math.dist(points[SAD], TARGETS[SAD]) < 0.1
