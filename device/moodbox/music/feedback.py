"""Playlists that learn from the listener: skips and play-throughs move songs within the mood playlists.

The appliance reads the history (each song queued for a mood ended `skipped` or `played`) and hands
this module plain tuples: (time, playlist, file, outcome). Here it is arithmetic, clock injected:

* Evidence fades: each outcome counts 0.5 ** (age / half_life_days), so a song skipped a season
  ago is forgiven and the taste of this month counts most.
* Shrinkage: a song's skip rate in a playlist is the posterior mean of a Beta prior centred on the
  listener's own skip rate over everything (the base rate), worth `prior` plays, updated by that
  song's decayed skips and plays there. Only what lies beyond one posterior standard deviation from
  the base rate moves the song ("clearly above the listener's usual rate"), so a listener who skips
  one song in ten at random moves the playlists by little more than chance, and a single skip is
  not a verdict.
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
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from moodbox.music.mood_playlists import share_size

DAY = 86400.0
VERDICTS = ("skipped", "played")  # `cut` and `stopped` say nothing about the song


@dataclass(frozen=True)
class FeedbackSettings:
    """The `library.feedback:` section of config.yaml."""

    enabled: bool = True  # false: the playlists are the placement alone
    half_life_days: float = field(default=14.0, metadata={"min": 0.1, "max": 3650.0})  # evidence halves this often
    prior: float = field(default=4.0, metadata={"min": 0.0, "max": 1000.0})  # plays' worth of belief in the base rate
    sink: float = field(default=1.0, metadata={"min": 0.0, "max": 10.0})  # plane distance per unit of excess skip rate
    leave_after: float = field(default=3.0, metadata={"min": 0.5, "max": 1000.0})  # net skips that take a song out
    min_tracks: int = field(default=10, metadata={"min": 0, "max": 100000})  # feedback never shortens a list below


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

    @property
    def base_rate(self) -> float:
        skips = sum(t.skips for files in self.tallies.values() for t in files.values())
        heard = sum(t.heard for files in self.tallies.values() for t in files.values())
        return skips / heard if heard > 0 else 0.0

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
    """How far the song's skip rate lies clearly above (+) or below (-) the base rate; 0 within the noise.

    The posterior mean of Beta(prior * base, prior * (1 - base)) after the tally, less the base rate,
    shrunk towards 0 by one posterior standard deviation.
    """
    n = tally.heard + prior
    if n <= 0 or tally.heard <= 0:
        return 0.0
    rate = (tally.skips + prior * base_rate) / n
    gap = rate - base_rate
    noise = math.sqrt(rate * (1.0 - rate) / (n + 1.0))
    return math.copysign(max(abs(gap) - noise, 0.0), gap)


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
    here = excess(tally, base, settings.prior)
    heard = [excess(files[file], base, settings.prior) for files in feedback.tallies.values() if file in files]
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
