"""Playlists that learn from the listener: skips and play-throughs move songs within the mood playlists.

The appliance reads the history (each song queued for a mood ended `skipped` or `played`) and hands
this module plain tuples: (time, playlist, file, outcome). Here it is arithmetic, clock injected:

* Evidence fades: each outcome counts 0.5 ** (age / half_life_days), so a song skipped a season
  ago is forgiven and the taste of this month counts most.
* Shrinkage (empirical Bayes): a song's skip rate in a playlist is the posterior mean of a Beta
  prior centred on the listener's own skip rate over everything (the base rate), updated by that
  song's decayed skips and plays there. The prior's strength is fitted to the listener: from how
  much songs' skip rates differ beyond what chance gives (method of moments on the beta-binomial).
  A listener who skips one song in ten at random has songs that do not differ, so the prior is
  worth hundreds of plays and the playlists barely move; one who skips what does not fit the mood
  has songs that differ a lot, so a prior of a play or two and a couple of skips move a song.
  `prior` is the least strength, however much songs seem to differ.
* Sink and rise: a playlist is the tracks nearest its mood's point; the excess skip rate is added to
  a track's distance (times `sink`), so a skipped song drifts to the edge and out, and a song played
  through (a rate clearly below the base rate) is held in.
* Leave: `leave_after` net skips (decayed skips minus decayed play-throughs) in one playlist take a
  song out of it, whatever its place.
* Everywhere: a song clearly skipped in every playlist it was heard in (two or more) sinks by the
  least of those excesses in every playlist, including those it was never played in.
* Never below `min_tracks`: a playlist shortened by leaving songs takes back the least-skipped of
  them.
* A listener who never skips has a base rate of 0 and no excess anywhere: the playlists are exactly
  those of the placement alone.

Each song is judged here; where each mood's point lies for this listener is moodbox.music.mood_points'
work, which plans with this module around the points it learns.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from moodbox.music.mood_playlists import share_size

DAY = 86400.0
MOST_PRIOR = 1000.0  # plays' worth: a listener whose skips say nothing about songs
VERDICTS = ("skipped", "played")  # `cut` and `stopped` say nothing about the song


@dataclass(frozen=True)
class FeedbackSettings:
    """The `library.feedback:` section of config.yaml."""

    enabled: bool = True  # false: the playlists are the placement alone
    half_life_days: float = field(default=14.0, metadata={"min": 0.1, "max": 3650.0})  # evidence halves this often
    prior: float = field(
        default=1.0, metadata={"min": 0.0, "max": 1000.0}
    )  # least plays' worth of belief in the base rate
    sink: float = field(default=4.0, metadata={"min": 0.0, "max": 20.0})  # plane distance per unit of excess skip rate
    leave_after: float = field(default=3.0, metadata={"min": 0.5, "max": 1000.0})  # net skips that take a song out
    min_tracks: int = field(default=10, metadata={"min": 0, "max": 100000})  # feedback never shortens a list below
    move_points: bool = True  # false: each mood keeps its configured point (moodbox.music.mood_points)
    point_spread: float = field(
        default=0.3, metadata={"min": 0.05, "max": 2.0}
    )  # how far (plane units) a listener's mood is expected to lie from its configured point


@dataclass
class Tally:
    """Decayed skips and play-throughs of one song in one playlist."""

    skips: float = 0.0
    plays: float = 0.0

    @property
    def heard(self) -> float:
        return self.skips + self.plays

    @property
    def net_skips(self) -> float:
        return self.skips - self.plays


@dataclass
class Feedback:
    """What the listener did, decayed to `now`: playlist -> file -> Tally, and the listener's base skip rate."""

    tallies: dict[str, dict[str, Tally]] = field(default_factory=dict)

    @functools.cached_property
    def base_rate(self) -> float:
        """The listener's skip rate over everything heard (0 for one who never skips)."""
        skips = sum(t.skips for files in self.tallies.values() for t in files.values())
        heard = sum(t.heard for files in self.tallies.values() for t in files.values())
        return skips / heard if heard > 0 else 0.0

    @functools.cached_property
    def spread(self) -> float:
        """How much songs' skip rates differ beyond chance (a method-of-moments estimate of the variance of
        the per-song rates): 0 for a listener who skips at random, large for one who skips what does not fit.

        Chance is counted as if every faded outcome were a whole play, which overstates it (an outcome of
        weight 0.5 is half the evidence yet strays as far) and so errs toward a stronger prior. On purpose:
        counted from the faded weights (unbiased), the estimate is as often above 0 as below for a listener
        who skips at random, and in the simulator such a listener's playlists kept 0.77 of their songs, not 0.99.
        """
        base = self.base_rate
        tallies = [t for files in self.tallies.values() for t in files.values() if t.heard > 0]
        heard = sum(t.heard for t in tallies)
        if not tallies or heard <= 0:
            return 0.0
        observed = sum(t.heard * (t.skips / t.heard - base) ** 2 for t in tallies) / heard
        chance = len(tallies) * base * (1.0 - base) / heard  # what binomial noise alone gives
        return max(observed - chance, 0.0)

    def strength(self, least: float) -> float:
        """The Beta prior's strength in plays: fitted to the listener (empirical Bayes), at least `least`.

        A Beta prior with mean b and strength M has variance b(1-b)/(M+1): the spread of this listener's
        per-song rates gives M. A random skipper's songs do not differ, so M is large and a skip moves little.
        """
        base, spread = self.base_rate, self.spread
        if spread <= 0 or base <= 0:
            return MOST_PRIOR
        return min(max(base * (1.0 - base) / spread - 1.0, least), MOST_PRIOR)

    def tally(self, playlist: str, file: str) -> Tally:
        return self.tallies.get(playlist, {}).get(file, Tally())


def weight(age_s: float, half_life_days: float) -> float:
    """How much an outcome `age_s` seconds old still counts (1 now, 0.5 one half-life ago; never more than 1)."""
    return 0.5 ** (max(age_s, 0.0) / (half_life_days * DAY))


def gather(outcomes: Iterable[tuple[float, str, str, str]], now: float, half_life_days: float) -> Feedback:
    """Decayed tallies from (time, playlist, file, outcome); outcomes other than skipped/played are ignored."""
    found = Feedback()
    for t, playlist, file, outcome in outcomes:
        if outcome not in VERDICTS:
            continue
        tally = found.tallies.setdefault(playlist, {}).setdefault(file, Tally())
        w = weight(now - t, half_life_days)
        if outcome == "skipped":
            tally.skips += w
        else:
            tally.plays += w
    return found


def excess(tally: Tally, base_rate: float, prior: float) -> float:
    """How far the song's skip rate lies above (+) or below (-) the listener's base rate.

    The posterior mean of a Beta prior centred on the base rate, worth `prior` plays, after the song's
    decayed skips and plays, less the base rate: few plays say little, many say much.
    """
    n = tally.heard + prior
    if n <= 0 or tally.heard <= 0:
        return 0.0
    return (tally.skips + prior * base_rate) / n - base_rate


@dataclass(frozen=True)
class Verdict:
    """What feedback did to one song in one playlist."""

    tally: Tally
    excess: float  # clearly above (+) / below (-) the base rate, in this playlist
    everywhere: float  # the least excess over every playlist it was heard in (>= 2), when positive
    shift: float  # added to its distance from the playlist's point
    left: bool  # taken out by net skips


def verdict(feedback: Feedback, playlist: str, file: str, settings: FeedbackSettings) -> Verdict:
    base = feedback.base_rate
    tally = feedback.tally(playlist, file)
    prior = feedback.strength(settings.prior)
    here = excess(tally, base, prior)
    heard = [excess(files[file], base, prior) for files in feedback.tallies.values() if file in files]
    everywhere = min(heard) if len(heard) >= 2 and min(heard) > 0 else 0.0
    shift = settings.sink * (here + everywhere) if base > 0 else 0.0
    left = base > 0 and here > 0 and tally.net_skips >= settings.leave_after
    return Verdict(tally, here, everywhere, shift, left)


def plan_with_feedback(
    tracks: Sequence[tuple[str, float, float]],
    targets: Mapping[str, tuple[float, float]],
    size: int,
    feedback: Feedback,
    settings: FeedbackSettings,
) -> dict[str, list[str]]:
    """As mood_playlists.plan, with each song's distance moved by what the listener did in that playlist.

    With no skips at all (base rate 0) every shift is 0 and no song leaves: exactly plan's playlists.
    """
    if not tracks:
        return {}
    count = share_size(size, len(tracks))
    heard = {file for files in feedback.tallies.values() for file in files}
    out: dict[str, list[str]] = {}
    for name, (v, a) in targets.items():
        keyed = []
        for file, tv, ta in tracks:
            d2 = (tv - v) ** 2 + (ta - a) ** 2  # as plan computes it: with no feedback, the same order
            judged = verdict(feedback, name, file, settings) if file in heard else UNHEARD
            keyed.append((math.sqrt(d2) + judged.shift, d2, file, judged))
        keyed.sort(key=lambda k: (k[0], k[1], k[2]))
        kept = [k for k in keyed if not k[3].left]
        chosen = kept[:count]
        floor = min(count, settings.min_tracks)
        if len(chosen) < floor:  # never shorter than min_tracks because of feedback: the least-skipped come back
            back = sorted((k for k in keyed if k[3].left), key=lambda k: (k[3].tally.net_skips, k[0], k[2]))
            chosen += back[: floor - len(chosen)]
        out[name] = [k[2] for k in chosen]
    return out


UNHEARD = Verdict(Tally(), 0.0, 0.0, 0.0, False)
