"""`moodbox library scan` and `moodbox library playlists`: the music path, from the command line to MPD.

`scan` runs moodbox.music.library over the music directory (or a folder) with the analysis of
moodbox.music.musicmood and prints where each track sits. `playlists` places the cached analyses of
the tracks MPD knows, plans one playlist per mood (moodbox.music.mood_playlists), moved by what
the listener skipped and played through (moodbox.appliance.listener, moodbox.music.feedback, and each
mood's point where the skips put it, moodbox.music.mood_points), and writes them into MPD
(moodbox.playback.stored_playlists) over the one connection path.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from types import FrameType

import mpd
from mpd.base import FailureResponseCode

from moodbox.appliance.listener import on_plane, read_feedback
from moodbox.config import Config
from moodbox.music.library import LibraryError, Progress, ScanResult, placeable, root_and_within, scan
from moodbox.music.mood_points import plan_learned
from moodbox.music.scan_progress import ProgressFile, progress_path
from moodbox.music.scancache import CacheError, ScanCache, read_scored
from moodbox.playback.connection import CONNECTION_ERRORS, PlayerError, close_quietly, open_client, refusal
from moodbox.playback.stored_playlists import known_files, write


def scan_command(args: argparse.Namespace, cfg: Config) -> int:
    """`moodbox library scan [FOLDER] [--json]`."""
    from moodbox.music import musicmood
    from moodbox.music.audio import AudioError

    settings = cfg.library
    if threading.current_thread() is threading.main_thread():
        # A stopped timer unit (or its 20 h timeout) interrupts like Ctrl-C: the track in progress is not
        # left marked as one its decoder crashed on.
        signal.signal(signal.SIGTERM, _interrupt)
    if args.folder is None and not settings.music_dir.is_dir():
        return _fail(
            f"music directory {settings.music_dir} not found; set library.music_dir to MPD's music_directory "
            "or give a FOLDER"
        )
    try:
        root, within = root_and_within(args.folder, settings.music_dir)
        whole = args.folder is None  # the whole library: its progress and places are the page's
        reporter = ProgressFile(progress_path(settings.cache)) if whole else None
        progress = Progress(report=reporter.update if reporter else None)
        # A cache that cannot be written fails here, in the first second: a scan that kept nothing would
        # analyse the whole library again every night and say all was well.
        cache = ScanCache(settings.cache, root)
        with cache, cache.scanning():
            try:
                result = scan(
                    root,
                    cache,
                    lambda: musicmood.TrackAnalyser(),
                    musicmood.ANALYSIS_VERSION,
                    musicmood.place,
                    within=within,
                    progress=progress,
                    follow_inside=settings.follow_inside_symlinks,
                    follow_outside=settings.follow_outside_symlinks,
                    decode_errors=(AudioError,),
                )
            except KeyboardInterrupt:
                progress.note("interrupted: every track analysed so far is kept; run the scan again to resume")
                raise
            if reporter is not None:  # where each track sits, and that the scan is done, for the web page
                cache.store_places((t.file, t.valence, t.arousal) for t in result.tracks)
                reporter.finish(len(result.tracks))
    except (LibraryError, CacheError) as e:
        return _fail(str(e))
    if args.json:
        for t in result.tracks:
            line = {"file": t.file, "valence": round(t.valence, 4), "arousal": round(t.arousal, 4)}
            print(json.dumps(line | {"evidence": dict(t.evidence)}))
        summary = {
            "tracks": len(result.tracks),
            "analysed": result.analysed,
            "cached": result.cached,
            "failed": result.failed + result.failed_before,
            "removed": result.removed,
            "silent": result.silent,
            "seconds": round(result.seconds, 3),
        }
        print(json.dumps(summary))
    else:
        print(_summary(result))
    return 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _summary(result: ScanResult) -> str:
    parts = [f"{result.analysed} analysed", f"{result.cached} from the cache"]
    if result.failed:
        parts.append(f"{result.failed} skipped")
    if result.failed_before:
        parts.append(f"{result.failed_before} undecodable before (retried when the file changes)")
    if result.removed:
        parts.append(f"{result.removed} gone from the library")
    if result.silent:
        parts.append(f"{result.silent} silent, left out")
    return f"{len(result.tracks)} tracks placed: {', '.join(parts)} ({result.seconds:.1f} s)"


def playlists_command(args: argparse.Namespace, cfg: Config) -> int:
    """`moodbox library playlists`: the mood playlists from the cached scan, for the tracks MPD knows."""
    settings = cfg.library
    from moodbox.music import musicmood

    try:
        scored = read_scored(settings.cache, settings.music_dir.resolve(), musicmood.ANALYSIS_VERSION)
    except CacheError as e:
        return _fail(str(e))
    if not scored:
        return _fail(f"no analysed tracks of {settings.music_dir} in {settings.cache}; run `moodbox library scan`")
    try:
        known = known_files(cfg.mpd)
        usable = [file for file in scored if file in known.files and placeable(scored[file])]
        if known.undecodable:
            print(
                f"moodbox: {known.undecodable} song(s) in MPD's database have file names that are not UTF-8; "
                "they stay out of the playlists; rename them to UTF-8 (convmv -f latin1 -t utf8 -r --notest DIR)",
                file=sys.stderr,
            )
        if not usable:
            return _fail(
                f"none of the {len(scored)} analysed tracks is in MPD's database; set library.music_dir to MPD's "
                "music_directory, or update MPD's database (mpc update)"
            )
        places = musicmood.place([scored[file] for file in usable])
        tracks = [(file, v, a) for file, (v, a) in zip(usable, places, strict=True)]
        # what the listener skipped and played through moves songs in (and out of) the written playlists only
        feedback, note = read_feedback(cfg, time.time())
        if note:
            print(f"moodbox: {note}", file=sys.stderr)
        targets = settings.targets()
        playlists, points = plan_learned(tracks, targets, settings.playlist_size, feedback, settings.feedback)
        client = open_client(cfg.mpd)
        try:
            write(client, playlists)
        finally:
            close_quietly(client)
        moved = {name: point for name, point in points.items() if point != targets[name]}
        try:
            with ScanCache(settings.cache, settings.music_dir.resolve()) as cache:
                cache.store_mood_points(moved)  # for the page's plane
        except CacheError as e:
            print(f"moodbox: {e}; the page shows the configured mood points", file=sys.stderr)
    except mpd.CommandError as e:
        if e.errno in (FailureResponseCode.PASSWORD, FailureResponseCode.PERMISSION):
            raise refusal(e, cfg.mpd.address) from None
        raise PlayerError(f"MPD refused the playlists ({e}); check MPD's playlist_directory is writable") from None
    except CONNECTION_ERRORS as e:
        raise PlayerError(f"MPD went away while writing the playlists ({e}); run this again") from None
    size = len(next(iter(playlists.values())))
    line = f"wrote {len(playlists)} playlists of {size} tracks ({', '.join(playlists)}) from {len(usable)} tracks"
    missing = len(scored) - len(usable)
    if missing:
        line += f"; {missing} analysed tracks are not in MPD's database yet (mpc update)"
    print(line)
    for name, point in moved.items():
        configured = on_plane(targets[name])
        print(f"{name}: around {on_plane(point)} for this listener (configured {configured}), from the skips")
    return 0


def _fail(message: str) -> int:
    print(f"moodbox: {message}", file=sys.stderr)
    return 2
