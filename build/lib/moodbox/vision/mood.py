"""From a noisy stream of per-frame emotion probabilities to calm mood decisions.

A playlist that flips because someone blinked is a broken product, so a mood is
only announced after it has *held*:

1. Probabilities are smoothed with an exponential moving average whose time
   constant is in seconds, not frames, so a slow camera and a fast one decide
   alike.
2. The leading smoothed emotion is a candidate only when its probability
   reaches `min_confidence`.
3. A candidate must lead continuously for `dwell` seconds before it is
   announced, and no two announcements come closer than `min_interval`
   seconds (a change that holds is announced as soon as the interval allows;
   a listener coming back from away is announced without waiting).
4. With no face for `away_after` seconds the engine announces `away`; when a
   face returns, smoothing starts afresh from it.

The engine is pure: time comes in with each observation, so it is tested
without a camera, a model or a clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from moodbox.base.moods import AWAY


def _seconds(default: float, low: float = 0.0, high: float = 3600.0) -> float:
    return field(default=default, metadata={"min": low, "max": high})


@dataclass(frozen=True)
class MoodSettings:
    """The `mood:` section of config.yaml; the config loader checks values against the ranges here."""

    smoothing: float = _seconds(0.7, high=60.0)  # EMA time constant
    min_confidence: float = field(default=0.4, metadata={"min": 0.0, "max": 1.0})
    dwell: float = _seconds(1.2, high=600.0)  # how long a new mood must lead before it is announced
    min_interval: float = _seconds(5.0)  # least time between two announcements
    away_after: float = _seconds(8.0, low=0.5)  # time without a face before "away"


@dataclass(frozen=True)
class Decision:
    """An announced mood: the time it was decided, the mood, and its smoothed probability."""

    t: float
    mood: str
    confidence: float


class MoodEngine:
    """Feed it `observe(t, probabilities)` per frame; it returns a Decision when the mood changes."""

    def __init__(self, settings: MoodSettings | None = None) -> None:
        self.settings = settings or MoodSettings()
        self.mood: str | None = None  # the last announced mood
        self._smoothed: dict[str, float] | None = None
        self._last_t: float | None = None
        self._last_face_t: float | None = None
        self._candidate: str | None = None
        self._candidate_since = 0.0
        self._last_announced_t = -math.inf

    def reset(self) -> None:
        """Forget the smoothing and the announced mood: the face in view is read afresh and announced
        after the dwell, without waiting for the minimum interval (the skip button's hold)."""
        self.mood, self._smoothed, self._last_t, self._candidate = None, None, None, None
        self._last_announced_t = -math.inf

    @property
    def smoothed(self) -> dict[str, float] | None:
        """The current smoothed probabilities, or None before a face (or after away)."""
        return dict(self._smoothed) if self._smoothed is not None else None

    def observe(self, t: float, probabilities: Mapping[str, float] | None) -> Decision | None:
        """One frame at time `t` (seconds): its face's probabilities, or None when no face was seen."""
        if probabilities is None:
            return self._no_face(t)
        self._smooth(t, probabilities)
        self._last_face_t = t
        assert self._smoothed is not None
        leader = max(self._smoothed, key=self._smoothed.__getitem__)
        confidence = self._smoothed[leader]
        if confidence < self.settings.min_confidence or leader == self.mood:
            self._candidate = None
            return None
        if leader != self._candidate:
            self._candidate, self._candidate_since = leader, t
        if t - self._candidate_since < self.settings.dwell:
            return None
        # Coming back from away is not a flip-flop: announce as soon as the dwell allows.
        return self._announce(t, leader, confidence, force=self.mood == AWAY)

    def _smooth(self, t: float, probabilities: Mapping[str, float]) -> None:
        if self._smoothed is None or self._last_t is None:
            self._smoothed = dict(probabilities)
        else:
            dt = max(t - self._last_t, 0.0)
            keep = math.exp(-dt / self.settings.smoothing) if self.settings.smoothing > 0 else 0.0
            self._smoothed = {k: keep * self._smoothed[k] + (1 - keep) * p for k, p in probabilities.items()}
        self._last_t = t

    def _no_face(self, t: float) -> Decision | None:
        if self._last_face_t is None:
            self._last_face_t = t  # nobody yet: away counts from the first frame
        if self.mood == AWAY or t - self._last_face_t < self.settings.away_after:
            return None
        self._smoothed, self._last_t, self._candidate = None, None, None
        return self._announce(t, AWAY, 1.0, force=True)

    def _announce(self, t: float, mood: str, confidence: float, force: bool = False) -> Decision | None:
        if not force and t - self._last_announced_t < self.settings.min_interval:
            return None
        self.mood, self._candidate, self._last_announced_t = mood, None, t
        return Decision(t=t, mood=mood, confidence=confidence)
