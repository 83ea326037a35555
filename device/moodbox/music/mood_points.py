"""Each mood's point on the plane, moved to where this listener's skips and play-throughs put it.

A mood's playlist is the tracks nearest its point (mood_playlists), and the points are Russell's. A
listener's own idea of a mood can sit elsewhere: one whose neutral face wants calm, content music
skips the sad half of what a mid-plane neutral point gathers. Per-song feedback (moodbox.music.feedback)
takes each skipped song out, but the next one in comes from the same wrong neighbourhood. So the box
also learns where the mood lies for this listener:

* A link: the chance a song is skipped in a mood rises with its distance from the mood's point,
  logit P(skip) = a + b * distance with b >= 0, one link for all moods (this listener's way of
  skipping), fitted to the decayed skips and play-throughs.
* A mood's point: the posterior mean over a grid on the plane; the prior is a Gaussian around the
  configured point (`point_spread` its standard deviation), the likelihood the link over the songs
  heard in that mood. Link and points are fitted in turn, a few rounds.
* Kept only where it predicts songs it was not fitted on: the heard songs are split in two halves (by
  a hash of the file name); the points moved on one half must beat the configured ones on the other,
  by more than MARGIN nats summed over both halves (the two coordinates a moved point adds, as the
  AIC counts them). A listener who skips at random moves no point; one who never skips has no link
  to fit. Pure arithmetic on numbers in, numbers out.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from moodbox.music.feedback import Feedback, FeedbackSettings, plan_with_feedback

Point = tuple[float, float]

MARGIN = 2.0  # held-out nats a moved point must gain: one per coordinate it adds
ROUNDS = 5  # points, then link, this many times
# The link's slope the first points are found with: at b = 0 no point moves, so no slope is ever found (the
# alternation's dead end). e^3: a song across the plane skipped some 20 times as readily as one on the point.
START_SLOPE = 3.0
# The slope's prior (a Gaussian at 0, this its standard deviation): a listener whose skips split the songs cleanly
# (separable data) would otherwise fit an endless slope, to which one song on the other side is a catastrophe.
SLOPE_SPREAD = 5.0
NEWTON_STEPS = 10
HALVINGS = 30  # of a Newton step that would lower the posterior: 2^-30 of it is as good as none
GRID = np.linspace(-1.0, 1.0, 31)  # the candidate points, 1/15 apart on each axis
_GV, _GA = (axis.ravel() for axis in np.meshgrid(GRID, GRID, indexing="ij"))
_GV32, _GA32 = _GV.astype(np.float32), _GA.astype(np.float32)  # the grid's likelihood in float32: twice as fast
CHUNK = 512  # songs per block of the grid's likelihood: a few MB however large the library


@dataclass(frozen=True)
class Heard:
    """One mood's heard songs: where each sits, its decayed skips and play-throughs there, and its half (0 or 1)."""

    places: np.ndarray  # (n, 2) valence, arousal
    skips: np.ndarray  # (n,)
    plays: np.ndarray  # (n,)
    half: np.ndarray  # (n,) by a hash of the file name: the same song always in the same half

    def only(self, half: int) -> Heard:
        keep = self.half == half
        return Heard(self.places[keep], self.skips[keep], self.plays[keep], self.half[keep])


@dataclass(frozen=True)
class Link:
    """logit P(skip) = a + b * distance from the mood's point."""

    a: float
    b: float

    def loglik(self, distance: np.ndarray, skips: np.ndarray, plays: np.ndarray) -> np.ndarray:
        """Log likelihood of the skips and plays, summed over the last axis."""
        z = self.a + self.b * distance  # log P(skip) = -softplus(-z); log P(play) = -softplus(-z) - z
        return -((skips + plays) * np.logaddexp(0.0, -z) + plays * z).sum(axis=-1)


def plan_learned(
    tracks: Sequence[tuple[str, float, float]],
    targets: Mapping[str, Point],
    size: int,
    feedback: Feedback,
    settings: FeedbackSettings,
) -> tuple[dict[str, list[str]], dict[str, Point]]:
    """The playlists around each mood's point as this listener placed it, with each song moved by its own skips
    (feedback.plan_with_feedback); and those points."""
    points = learn(tracks, targets, feedback, settings.point_spread) if settings.move_points else dict(targets)
    return plan_with_feedback(tracks, points, size, feedback, settings), points


def learn(
    tracks: Sequence[tuple[str, float, float]],
    targets: Mapping[str, Point],
    feedback: Feedback,
    spread: float,
) -> dict[str, Point]:
    """Every target's point, moved where this listener's skips say the mood lies, or as configured.

    `tracks` are (file, valence, arousal); `targets` playlist name -> configured point; `spread` the prior's
    standard deviation on the plane. A point moves only where it predicts held-out songs better (see above).
    """
    heard = _heard(feedback, targets, {file: (v, a) for file, v, a in tracks})
    skips = sum(float(h.skips.sum()) for h in heard.values())
    total = skips + sum(float(h.plays.sum()) for h in heard.values())
    if not heard or skips <= 0 or skips >= total:  # no skips, or nothing but: they say nothing about place
        return dict(targets)
    start = Link(math.log(skips / (total - skips)), START_SLOPE)
    gain = dict.fromkeys(heard, 0.0)
    for half in (0, 1):
        fit_on = _nonempty({name: h.only(1 - half) for name, h in heard.items()})
        held_out = _nonempty({name: h.only(half) for name, h in heard.items()})
        if not fit_on:
            return dict(targets)
        moved, link = _fit(fit_on, targets, spread, start)
        _, still = _fit(fit_on, targets, spread, start, move=False)
        for name, h in held_out.items():
            gain[name] += float(
                link.loglik(_distance(h.places, moved.get(name, targets[name])), h.skips, h.plays)
                - still.loglik(_distance(h.places, targets[name]), h.skips, h.plays)
            )
    if all(g <= MARGIN for g in gain.values()):  # nothing moves: no need to fit on every song
        return dict(targets)
    moved, _ = _fit(heard, targets, spread, start)
    return {name: moved[name] if gain.get(name, 0.0) > MARGIN else point for name, point in targets.items()}


def _heard(feedback: Feedback, targets: Mapping[str, Point], places: Mapping[str, Point]) -> dict[str, Heard]:
    out = {}
    for name in targets:
        rows = [(file, t) for file, t in feedback.tallies.get(name, {}).items() if file in places and t.heard > 0]
        if rows:
            out[name] = Heard(
                np.array([places[file] for file, _ in rows], dtype=float),
                np.array([t.skips for _, t in rows], dtype=float),
                np.array([t.plays for _, t in rows], dtype=float),
                np.array([zlib.crc32(file.encode("utf-8", "surrogateescape")) % 2 for file, _ in rows]),
            )
    return out


def _nonempty(heard: Mapping[str, Heard]) -> dict[str, Heard]:
    return {name: h for name, h in heard.items() if len(h.skips)}


def _distance(places: np.ndarray, point: Point) -> np.ndarray:
    return np.hypot(places[:, 0] - point[0], places[:, 1] - point[1])


def _fit(
    heard: Mapping[str, Heard], targets: Mapping[str, Point], spread: float, link: Link, move: bool = True
) -> tuple[dict[str, Point], Link]:
    """(When `move`) each heard mood's posterior-mean point and the link, fitted in turn from `link`."""
    points = {name: targets[name] for name in heard}
    for _ in range(ROUNDS if move else 1):
        if move:
            points = {name: _posterior_mean(h, targets[name], spread, link) for name, h in heard.items()}
        link = _fit_link(heard, points, link)
    return points, link


def _fit_link(heard: Mapping[str, Heard], points: Mapping[str, Point], start: Link) -> Link:
    """The most probable (a, b >= 0) by Newton's method on the weighted logistic regression, b's prior as above.

    Each step is halved until it raises the posterior: a full step from a start far from the answer (a listener
    who skips most songs) overshoots, and with b held at 0 it can swing ever wider instead of converging.
    """
    d = np.concatenate([_distance(h.places, points[name]) for name, h in heard.items()])
    skips = np.concatenate([h.skips for h in heard.values()])
    plays = np.concatenate([h.plays for h in heard.values()])
    n = skips + plays

    def posterior(ab: np.ndarray) -> float:
        return float(Link(ab[0], ab[1]).loglik(d, skips, plays)) - ab[1] ** 2 / (2.0 * SLOPE_SPREAD**2)

    ab = np.array([start.a, start.b])
    best = posterior(ab)
    for _ in range(NEWTON_STEPS):
        p = np.exp(-np.logaddexp(0.0, -(ab[0] + ab[1] * d)))  # the logistic, without overflow
        r, w = skips - n * p, n * p * (1.0 - p) + 1e-12
        gradient = np.array([r.sum(), (r * d).sum() - ab[1] / SLOPE_SPREAD**2])
        hessian = np.array([[w.sum(), (w * d).sum()], [(w * d).sum(), (w * d * d).sum() + SLOPE_SPREAD**-2]])
        step = np.linalg.solve(hessian, gradient)
        for _ in range(HALVINGS):
            trial = ab + step
            trial[1] = max(trial[1], 0.0)  # farther never means more welcome
            value = posterior(trial)
            if value >= best:
                break
            step = step / 2.0
        else:
            break  # no step along Newton's direction raises it: at the top
        ab, best = trial, value
    return Link(float(ab[0]), float(ab[1]))


def _posterior_mean(heard: Heard, prior: Point, spread: float, link: Link) -> Point:
    logp = -((_GV - prior[0]) ** 2 + (_GA - prior[1]) ** 2) / (2.0 * spread**2)
    places, skips, plays = (x.astype(np.float32) for x in (heard.places, heard.skips, heard.plays))
    for start in range(0, len(skips), CHUNK):
        block = slice(start, start + CHUNK)
        d = np.hypot(places[block, 0][None, :] - _GV32[:, None], places[block, 1][None, :] - _GA32[:, None])
        logp = logp + link.loglik(d, skips[block], plays[block])
    w = np.exp(logp - logp.max())
    w /= w.sum()
    return (float(w @ _GV), float(w @ _GA))
