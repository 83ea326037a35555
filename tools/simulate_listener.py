"""A simulated listener lives N days of moods through the real playlist planning and feedback code.

The library is a labelled set (default: the dev set, ../shared/data/music-4q-dev, 359 clips labelled by
Russell quadrant), analysed by the real scan (moodbox.music.library.scan with the shipped analysis,
cached in --cache: the first run analyses every clip, a few minutes on 2 cores). The shipped head was
fitted on the dev set itself, so by default each clip is placed as a library the head never heard would
be: by a head fitted without the clip's artist (tools/fit_music_head.py's nested cross-validation, the
placement its figures are measured on); `--placement shipped` places by the shipped head.
Each night the moodbox-<mood> playlists are planned as `moodbox library playlists` plans them: the
real history (a HistoryStore in a temporary folder, written with the events the service records),
read by moodbox.appliance.listener, moodbox.music.feedback and moodbox.music.mood_points (each mood's point
moved where the skips put it; --fixed-points keeps them). Each day the listener has a few
sessions in a mood, hears the mood's playlist shuffled (recently heard songs last, as the player
does) and skips songs that do not fit the mood. The clock is simulated: nothing sleeps, no MPD.

Listeners:
  labels   taste is the set's truth: a song whose quadrant differs from the mood's is skipped with
           p=0.8, a fitting one with p=0.1 (happy, surprise -> Q1; angry, fear, disgust -> Q2;
           sad -> Q3; neutral -> Q4, calm and content)
  genre    the same, but hears every song of one genre (--genre, default Jazz) as sad (Q3)
  random   skips any song with p=0.1, whatever the mood

Printed: the skip rate per day, the smallest playlist, and each listener's final playlists' overlap
with the placement alone (share of tracks in common), and the last day's songs split by whether they
were new to their playlist (the player queues recently heard songs last, so what came in is heard
first). Goals: day-14 skip rate at most half of day
1's for the taste listeners, no playlist under 10 tracks, and the random skipper's overlap near 1
(it moves the playlists no more than noise).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import io
import random
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "device"))
sys.path.insert(0, str(ROOT / "tools"))

from evaluate_music import Labelled, read_labels_file  # noqa: E402
from moodbox.appliance.listener import read_feedback  # noqa: E402
from moodbox.config import Config  # noqa: E402
from moodbox.history.settings import HistorySettings  # noqa: E402
from moodbox.history.store import Event, HistoryStore  # noqa: E402
from moodbox.music.feedback import FeedbackSettings  # noqa: E402
from moodbox.music.library import LibrarySettings, Progress, scan  # noqa: E402
from moodbox.music.mood_playlists import PREFIX, plan  # noqa: E402
from moodbox.music.mood_points import plan_learned  # noqa: E402
from moodbox.music.scancache import ScanCache  # noqa: E402
from moodbox.playback.player import RECENTLY_HEARD  # noqa: E402

DAY = 86400.0
QUADRANT = {"happy": "Q1", "surprise": "Q1", "angry": "Q2", "fear": "Q2", "disgust": "Q2", "sad": "Q3", "neutral": "Q4"}
# The listener's sessions each day, one mood each (in a shuffled order): every day the same mix, so the days' skip
# rates compare.
DAY_OF_MOODS = ("happy", "happy", "neutral", "neutral", "sad", "sad", "angry", "fear", "surprise", "disgust")
START = 1_790_000_000.0  # a Unix time in 2026: the simulated clock's day 0


def placed(
    music: Path, cache_path: Path, placement: str, labels: Mapping[str, Labelled]
) -> list[tuple[str, float, float]]:
    """(file, valence, arousal) of every clip: the real scan (analysed once, cached) placed by the shipped head, or
    (`out-of-fold`) by heads fitted without the clip's artist, as a library the head never heard is placed."""
    from moodbox.music import musicmood
    from moodbox.music.audio import AudioError

    cache_path.parent.mkdir(parents=True, exist_ok=True)
    with ScanCache(cache_path, music.resolve()) as cache:
        result = scan(
            music.resolve(),
            cache,
            lambda: musicmood.TrackAnalyser(),
            musicmood.ANALYSIS_VERSION,
            musicmood.place,
            progress=Progress(stream=sys.stderr if sys.stderr.isatty() else io.StringIO()),
            decode_errors=(AudioError,),
        )
    if placement == "shipped":
        return [(t.file, t.valence, t.arousal) for t in result.tracks]
    import fit_music_head  # host side: scikit-learn (pip install -e '.[train]')

    unseen = fit_music_head.placed_out_of_fold(labels, {t.file: t.evidence for t in result.tracks})
    return [(file, v, a) for file, (v, a) in unseen.items()]


def heard_as(kind: str, genre: str, labels: Mapping[str, Labelled]) -> dict[str, str]:
    """The quadrant each file is to this listener."""
    if kind == "genre":
        return {f: "Q3" if genre in label.genres else label.quadrant for f, label in labels.items()}
    return {f: label.quadrant for f, label in labels.items()}


def skip_chance(kind: str, song_quadrant: str | None, mood: str) -> float:
    if kind == "random":
        return 0.1
    return 0.1 if song_quadrant == QUADRANT[mood] else 0.8


def live(
    kind: str,
    tracks: list[tuple[str, float, float]],
    hears: dict[str, str],
    args: argparse.Namespace,
    folder: Path,
) -> tuple[list[float], dict[str, list[str]], dict[str, list[str]], LastDay]:
    """Skip rate per day, the last night's playlists, the placement alone's, and the last day's songs by whether
    they were new to their playlist."""
    rng = random.Random(args.seed)
    tuned = {
        k: getattr(args, k) for k in ("half_life_days", "prior", "sink", "leave_after") if getattr(args, k) is not None
    }
    feedback_settings = dataclasses.replace(FeedbackSettings(), **tuned, move_points=not args.fixed_points)
    settings = LibrarySettings(playlist_size=args.playlist_size, feedback=feedback_settings)
    cfg = dataclasses.replace(Config(), library=settings, history=HistorySettings(path=folder / f"{kind}.sqlite"))
    targets = {settings.playlist(m): settings.point(m) for m in QUADRANT}
    alone = plan(tracks, targets, settings.playlist_size)
    folder.mkdir(parents=True, exist_ok=True)
    store = HistoryStore(cfg.history.path)
    rates: list[float] = []
    recent: list[str] = []
    playlists = alone
    heard_in: set[tuple[str, str]] = set()  # (playlist, file) heard on an earlier day
    last_day = LastDay()
    try:
        for day in range(args.days):
            now = START + day * DAY
            feedback, _ = read_feedback(cfg, now)  # the night's `moodbox library playlists`, from the real history
            playlists, _ = plan_learned(tracks, targets, settings.playlist_size, feedback, settings.feedback)
            skipped = heard = 0
            events = []
            for session, mood in enumerate(rng.sample(DAY_OF_MOODS, len(DAY_OF_MOODS))):
                name = settings.playlist(mood)
                songs = list(playlists[name])
                rng.shuffle(songs)
                songs.sort(key=lambda f: f in recent)  # recently heard last, as the player queues them
                t = now + 3600.0 * (8 + session)
                for file in songs[: args.songs]:
                    skip = rng.random() < skip_chance(kind, hears.get(file), mood)
                    outcome = "skipped" if skip else "played"
                    events.append(Event(t, "song", mood, name, "match", file, outcome))
                    t += 30.0 if skip else 200.0
                    skipped += skip
                    heard += 1
                    recent = (recent + [file])[-RECENTLY_HEARD:]
                    if day == args.days - 1:
                        last_day.count((name, file) in heard_in, skip)
            heard_in |= {(e.playlist or "", e.file or "") for e in events}
            store.add(events)
            rates.append(skipped / heard)
    finally:
        store.close()
    return rates, playlists, alone, last_day


@dataclasses.dataclass
class LastDay:
    """Songs heard and skipped, split by whether the song was new to its playlist that day."""

    new: int = 0
    new_skipped: int = 0
    old: int = 0
    old_skipped: int = 0

    def count(self, heard_before: bool, skipped: bool) -> None:
        if heard_before:
            self.old, self.old_skipped = self.old + 1, self.old_skipped + skipped
        else:
            self.new, self.new_skipped = self.new + 1, self.new_skipped + skipped

    def add(self, other: LastDay) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def overlap(a: dict[str, list[str]], b: dict[str, list[str]]) -> float:
    """Mean share of tracks two sets of playlists have in common, playlist by playlist."""
    shares = [len(set(a[n]) & set(b[n])) / max(len(a[n]), len(b[n]), 1) for n in a]
    return sum(shares) / len(shares)


def misfit(playlists: dict[str, list[str]], hears: dict[str, str]) -> dict[str, float]:
    """Share of each mood's playlist's tracks that do not fit the mood to this listener."""
    return {
        n: sum(hears.get(f) != QUADRANT[n.removeprefix(PREFIX)] for f in files) / len(files)
        for n, files in playlists.items()
        if files
    }


def mean(shares: dict[str, float]) -> float:
    return sum(shares.values()) / len(shares)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--music", type=Path, default=ROOT.parent / "shared" / "data" / "music-4q-dev")
    p.add_argument("--labels", type=Path, default=None, help="default: MUSIC/labels.csv")
    p.add_argument("--cache", type=Path, default=Path("/tmp/moodbox-sim/dev-cache.sqlite"), help="the scan cache")
    p.add_argument(
        "--placement",
        choices=("out-of-fold", "shipped"),
        default="out-of-fold",
        help="out-of-fold: each clip placed by a head fitted without its artist (as a listener's own library, which "
        "the head never heard); shipped: the shipped head, which was fitted on these very clips (a kinder day 1)",
    )
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--songs", type=int, default=10, help="songs heard per session")
    p.add_argument("--playlist-size", type=int, default=50)
    p.add_argument("--genre", default="Jazz", help="the genre the `genre` listener hears as sad")
    p.add_argument("--listeners", default="labels,genre,random")
    p.add_argument("--seed", type=int, default=1)
    # 20: one run's day is 100 songs, so 5 runs left the day-14 rate +-0.016, as wide as the goal's own margin
    p.add_argument("--runs", type=int, default=20, help="runs (seeds) each figure is the mean of")
    for key in ("half_life_days", "prior", "sink", "leave_after"):  # library.feedback, for trying other values
        p.add_argument(f"--{key.replace('_', '-')}", type=float, default=None, help=f"library.feedback.{key}")
    p.add_argument("--fixed-points", action="store_true", help="library.feedback.move_points: false")
    args = p.parse_args(argv)
    if args.placement == "out-of-fold" and importlib.util.find_spec("sklearn") is None:
        print(
            "simulate_listener: the out-of-fold placement fits heads with scikit-learn, which is not installed: "
            "make setup-train (or --placement shipped)",
            file=sys.stderr,
        )
        return 2
    labels = read_labels_file(args.labels or args.music / "labels.csv")
    tracks = [t for t in placed(args.music, args.cache, args.placement, labels) if t[0] in labels]
    sessions = len(DAY_OF_MOODS)
    print(f"{len(tracks)} labelled tracks placed ({args.placement})")
    print(f"{args.days} days of {sessions} mood sessions x {args.songs} songs")
    print(f"each figure the mean of {args.runs} runs (seeds {args.seed}..{args.seed + args.runs - 1})")
    ok = True
    with tempfile.TemporaryDirectory(prefix="moodbox-sim-") as tmp:
        for kind in args.listeners.split(","):
            days, smallest, shared = [0.0] * args.days, 10**9, 0.0
            wrong: dict[str, float] = {}
            wrong_alone: dict[str, float] = {}
            last_day = LastDay()
            hears = heard_as(kind, args.genre, labels)
            for run in range(args.runs):
                one = argparse.Namespace(**{**vars(args), "seed": args.seed + run})
                rates, final, alone, songs = live(kind, tracks, hears, one, Path(tmp) / str(run))
                last_day.add(songs)
                for into, shares in ((wrong, misfit(final, hears)), (wrong_alone, misfit(alone, hears))):
                    for name, share in shares.items():
                        into[name] = into.get(name, 0.0) + share / args.runs
                days = [d + r / args.runs for d, r in zip(days, rates, strict=True)]
                smallest = min(smallest, *(len(files) for files in final.values()))
                shared += overlap(final, alone) / args.runs
            print(f"\n{kind} listener: skip rate per day")
            print("  " + " ".join(f"d{d + 1}:{r:.2f}" for d, r in enumerate(days)))
            print(f"  smallest playlist: {smallest} tracks; overlap with the placement alone: {shared:.2f}")
            if kind != "random":
                print(
                    f"  tracks that do not fit the mood to this listener: {mean(wrong_alone):.0%} of the placement "
                    f"alone's playlists, {mean(wrong):.0%} after {args.days} days (fitting songs are skipped 10 % too: "
                    "the floor)"
                )
                each = ", ".join(f"{n.removeprefix(PREFIX)} {wrong_alone[n]:.0%}->{wrong[n]:.0%}" for n in wrong)
                print(f"  by playlist: {each}")
                new_share = last_day.new / max(last_day.new + last_day.old, 1)
                print(
                    f"  day {args.days}: {new_share:.0%} of the songs heard were new to their playlist, "
                    f"{last_day.new_skipped / max(last_day.new, 1):.2f} of them skipped; "
                    f"of those heard there before, {last_day.old_skipped / max(last_day.old, 1):.2f}"
                )
            if kind == "random":
                print(f"  goal: overlap >= 0.90 (moves no more than noise): {'met' if shared >= 0.9 else 'NOT met'}")
                ok &= shared >= 0.9
            else:
                first, last = days[0], days[-1]
                met = last <= first / 2
                verdict = "met" if met else "NOT met"
                print(
                    f"  goal: day {args.days} skip rate {last:.3f} <= half of day 1's {first:.3f} ({first / 2:.3f}): "
                    f"{verdict}"
                )
                ok &= met
            ok &= smallest >= 10
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
