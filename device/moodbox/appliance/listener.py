"""What the listener did, from the history to the mood playlists: the feedback `library playlists` plans with,
and `moodbox library why FILE`.

The history (moodbox.history) holds each song queued for a mood and how it ended; the music path
(moodbox.music.feedback) turns plain (time, playlist, file, outcome) tuples into shifts and exits.
This module joins the two: a song's events are counted for the playlist moodbox writes for its mood
and policy (`moodbox-<mood>`, or `moodbox-<mood>-uplift` under `policy: uplift`), whichever stored
playlist it was actually queued from (a hand-made one says as much about the song in that mood).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator

from moodbox.base.moods import MOODS
from moodbox.base.text import printable
from moodbox.config import Config
from moodbox.history.store import HistoryError, HistoryStore
from moodbox.music.feedback import Feedback, gather, verdict
from moodbox.music.library import LibrarySettings
from moodbox.music.scancache import CacheError, read_scored

HORIZON_HALF_LIVES = 12  # older evidence weighs under 1/4000: not read
MOST_EVENTS = 2_000_000


def playlist_for(settings: LibrarySettings, mood: str | None, policy: str | None) -> str | None:
    """The written playlist a song queued for `mood` under `policy` counts for (None: not a mood's song)."""
    if mood not in MOODS:
        return None
    return settings.uplift_playlist(mood) if policy == "uplift" else settings.playlist(mood)


def outcomes(store: HistoryStore, settings: LibrarySettings, now: float) -> Iterator[tuple[float, str, str, str]]:
    since = now - HORIZON_HALF_LIVES * settings.feedback.half_life_days * 86400.0
    for event in store.events(since=since, kinds=("song",), limit=MOST_EVENTS):
        playlist = playlist_for(settings, event.mood, event.policy)
        if playlist is not None and event.file and event.outcome:
            yield (event.t, playlist, event.file, event.outcome)


def read_feedback(cfg: Config, now: float) -> tuple[Feedback, str]:
    """The listener's feedback, and a line saying why there is none (empty when there is some or none is wanted)."""
    settings = cfg.library
    if not settings.feedback.enabled:
        return Feedback(), ""
    if not cfg.history.enabled:
        return Feedback(), "history.enabled is false, so nothing is learnt: the playlists are the placement alone"
    if not cfg.history.path.is_file():
        return Feedback(), "no listening history yet: the playlists are the placement alone"
    try:
        with HistoryStore(cfg.history.path, write=False) as store:
            return gather(outcomes(store, settings, now), now, settings.feedback.half_life_days), ""
    except HistoryError as e:
        return Feedback(), f"{e}; the playlists are the placement alone"


def why_command(args: argparse.Namespace, cfg: Config, clock: Callable[[], float] = time.time) -> int:
    """`moodbox library why FILE`: where the track sits, from which cues, and what the listener's skips changed."""
    from moodbox.music import musicmood
    from moodbox.music.explain import contributions

    settings, file = cfg.library, args.file
    try:
        scored = read_scored(settings.cache, settings.music_dir.resolve(), musicmood.ANALYSIS_VERSION)
    except CacheError as e:
        return _fail(str(e))
    if file not in scored:
        return _fail(f"{printable(file)} is not in the scan of {settings.music_dir}; name it as MPD does (mpc ls)")
    files = list(scored)
    places = dict(zip(files, musicmood.place([scored[f] for f in files]), strict=True))
    print(f"{printable(file)}: {on_plane(places[file])} (relative to the {len(files)} scanned)")
    for axis, parts in contributions(scored[file], musicmood.load_head()).items():
        said = ", ".join(f"{name} {value:+.2f}" for name, value in parts)
        print(f"  {axis} from: {said}")
    feedback, note = read_feedback(cfg, clock())
    if note:
        print(f"  feedback: {note}")
    print(f"  listener's base skip rate: {feedback.base_rate:.0%}")
    tracks = [(f, v, a) for f, (v, a) in places.items()]
    from moodbox.music.mood_playlists import plan
    from moodbox.music.mood_points import plan_learned

    targets = settings.targets()
    alone = plan(tracks, targets, settings.playlist_size)
    learned, points = plan_learned(tracks, targets, settings.playlist_size, feedback, settings.feedback)
    held = [name for name in targets if file in learned[name]]
    print(f"  in: {', '.join(held) if held else 'no mood playlist'}")
    told = False
    for name in targets:
        judged = verdict(feedback, name, file, settings.feedback)
        changed = (file in learned[name]) != (file in alone[name])
        moved = points[name] != targets[name]
        if judged.tally.heard <= 0 and judged.everywhere <= 0 and not changed:
            continue
        told = True
        where = "in" if file in learned[name] else "not in"
        before = "in" if file in alone[name] else "not in"
        line = f"  {name}: {where} it (placement alone: {before} it)"
        line += f"; skipped {judged.tally.skips:.1f}, played {judged.tally.plays:.1f} (faded)"
        if judged.left:
            line += f"; left it after {judged.tally.net_skips:.1f} net skips"
        elif judged.shift > 0:
            line += f"; sank {judged.shift:.2f}"
        elif judged.shift < 0:
            line += f"; rose {-judged.shift:.2f}"
        if judged.everywhere > 0:
            line += " (skipped in every mood it played in)"
        if moved and changed:
            line += f"; the listener's skips moved the mood's point to {on_plane(points[name])}"
        print(line)
    if not told:
        print("  feedback changed nothing for this track: the placement alone")
    return 0


def on_plane(point: tuple[float, float]) -> str:
    """A place on the valence/arousal plane as the library commands print it."""
    return f"valence {point[0]:+.2f}, arousal {point[1]:+.2f}"


def _fail(message: str) -> int:
    print(f"moodbox: {message}", file=sys.stderr)
    return 2
