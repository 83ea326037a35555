"""From each track's place on the valence/arousal plane to one stored MPD playlist per mood.

Where a face's mood sits is Russell's circumplex of affect (Russell 1980, "A circumplex model of
affect", J. Pers. Soc. Psychol. 39:1161): emotions lie around a circle spanned by valence
(unpleasant <-> pleasant) and arousal (calm <-> activated). The default points take the quadrant
and rough angle of the matching emotion words there, kept inside the rim: happy pleasant and
moderately activated (between glad and delighted), sad unpleasant and deactivated (beside
depressed), angry and afraid unpleasant and highly activated (afraid a little less pleasant),
surprise activated and mildly pleasant (astonished), neutral near the centre on the calm side (a
face at rest). Disgust is not among Russell's words; it is placed unpleasant and mildly activated,
beside distressed. Music emotion research uses the same plane for music (Eerola & Vuoskoski 2011,
"A comparison of the discrete and dimensional models of emotion in music", Psychol. Music 39:18;
the DEAM annotations, Aljanaki, Yang & Soleymani 2017), which is why one plane holds both the
listener and the tracks.

`policy: uplift` asks the music to move the mood rather than mirror it. Music therapy's iso
principle (Altshuler 1948; Heiderscheit & Madson 2015, "Use of the iso principle as a central
method in mood management") says to meet the listener near where they are and lead them a step
towards calm and pleasant, not to jump to the opposite: so each negative mood's uplift point lies
on the pleasant side but not far up the arousal axis (an angry or afraid listener is calmed, a sad
one brightened without being pushed to party music). The positive and neutral moods keep their own
point. Every point is config (`library.moods`, `library.uplift`).

A playlist takes the `size` tracks nearest its point. In a small library that would give every
mood the same tracks, so a playlist never takes more than an eighth of the library: half of what
a quadrant of the plane usually holds. Seven moods share four quadrants (happy and surprise the
pleasant, activated one; angry, fear and disgust the unpleasant, activated one), so a playlist of a
quarter would take its whole quadrant and reach into the next even were every track placed right.
Half a quadrant keeps each playlist in its own neighbourhood, leaves the moods different music (only
those close on the circumplex, such as angry and fear, share tracks, as they should), and leaves
songs of the mood outside the playlist to take the place of those the listener skips out of it
(moodbox.music.feedback). In the listener simulator's 359-track library, 50-track playlists (which a
quarter allowed) could only refill from the edge of their neighbourhood: on day 14 the simulated
listeners skipped 0.28-0.44 of the songs new to a playlist, 0.12-0.15 of the rest. At 45 tracks the
second week's skips fell further (README, the simulator).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# (valence, arousal) per mood, after Russell (1980); see the module docstring.
MOOD_POINTS: dict[str, tuple[float, float]] = {
    "angry": (-0.5, 0.7),
    "disgust": (-0.6, 0.3),
    "fear": (-0.6, 0.6),
    "happy": (0.7, 0.4),
    "sad": (-0.6, -0.4),
    "surprise": (0.3, 0.7),
    "neutral": (0.0, -0.2),
}
# Under `policy: uplift`: a step towards calm and pleasant (the iso principle). Moods not listed keep their own point.
UPLIFT_POINTS: dict[str, tuple[float, float]] = {
    "angry": (0.2, -0.3),
    "disgust": (0.3, -0.1),
    "fear": (0.3, -0.4),
    "sad": (0.4, 0.0),
}
LARGEST_SHARE = 0.125  # a playlist takes at most this fraction of the library: half a quadrant (see above)
PREFIX = "moodbox-"


def _coordinate() -> Any:
    return field(default=None, metadata={"min": -1.0, "max": 1.0})


@dataclass(frozen=True)
class Point:
    """A place on the valence/arousal plane; a coordinate left out keeps its default."""

    valence: float | None = _coordinate()
    arousal: float | None = _coordinate()


def _at(mood: str, table: Mapping[str, tuple[float, float]]) -> Any:
    if mood not in table:
        return None
    return field(default_factory=lambda: Point(*table[mood]))


class _Points:
    def resolve(self, mood: str, default: tuple[float, float]) -> tuple[float, float]:
        """The point for `mood`, with what the config leaves out ("null", a missing coordinate) from `default`."""
        given: Point | None = getattr(self, mood)
        if given is None:
            return default
        valence = default[0] if given.valence is None else given.valence
        arousal = default[1] if given.arousal is None else given.arousal
        return (valence, arousal)


@dataclass(frozen=True)
class MoodPoints(_Points):
    """Where each mood sits: `library.moods`."""

    angry: Point | None = _at("angry", MOOD_POINTS)
    disgust: Point | None = _at("disgust", MOOD_POINTS)
    fear: Point | None = _at("fear", MOOD_POINTS)
    happy: Point | None = _at("happy", MOOD_POINTS)
    sad: Point | None = _at("sad", MOOD_POINTS)
    surprise: Point | None = _at("surprise", MOOD_POINTS)
    neutral: Point | None = _at("neutral", MOOD_POINTS)


@dataclass(frozen=True)
class UpliftPoints(_Points):
    """Where `policy: uplift` moves each mood: `library.uplift` (None: the mood's own point)."""

    angry: Point | None = _at("angry", UPLIFT_POINTS)
    disgust: Point | None = _at("disgust", UPLIFT_POINTS)
    fear: Point | None = _at("fear", UPLIFT_POINTS)
    happy: Point | None = _at("happy", UPLIFT_POINTS)
    sad: Point | None = _at("sad", UPLIFT_POINTS)
    surprise: Point | None = _at("surprise", UPLIFT_POINTS)
    neutral: Point | None = _at("neutral", UPLIFT_POINTS)


def auto_name(mood: str) -> str:
    """The stored playlist `playlists.<mood>: auto` plays where MPD has none named after the mood."""
    return f"{PREFIX}{mood}"


def auto_uplift_name(mood: str) -> str:
    """The stored playlist `uplift.<mood>: auto` plays unless MPD has the hand-made one (written only where the
    uplift point moves the mood)."""
    return f"{PREFIX}{mood}-uplift"


def share_size(size: int, tracks: int) -> int:
    """How many tracks a playlist takes: `size`, but at most an eighth of the library (and at least one track)."""
    return max(1, min(size, math.ceil(tracks * LARGEST_SHARE)))


def nearest(tracks: Sequence[tuple[str, float, float]], point: tuple[float, float], count: int) -> list[str]:
    """The files of the `count` tracks nearest `point` (Euclidean on the plane), nearest first, ties by name."""
    v, a = point
    ranked = sorted(tracks, key=lambda t: ((t[1] - v) ** 2 + (t[2] - a) ** 2, t[0]))
    return [file for file, _, _ in ranked[:count]]


def plan(
    tracks: Sequence[tuple[str, float, float]], targets: Mapping[str, tuple[float, float]], size: int
) -> dict[str, list[str]]:
    """Playlist name -> files, for each target point; every playlist the same length."""
    count = share_size(size, len(tracks))
    return {name: nearest(tracks, point, count) for name, point in targets.items()} if tracks else {}
