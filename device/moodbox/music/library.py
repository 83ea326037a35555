"""`moodbox library`: listen to every track of the music library once and sort it by mood.

`scan` walks the audio files under MPD's music directory (or a folder), analyses each file the
cache does not already know (moodbox.music.musicmood: the tagger's evidence) and places every
track on the valence/arousal plane, normalised within the set scanned. Files are only read. The
commands that print the result and write one stored playlist per mood into MPD, which
`playlists.<mood>: auto` then plays, are moodbox.appliance.library_commands.

The analysis stack (decoder, TFLite) is imported only when a scan has something to analyse, so
`moodbox run` never loads it and a rescan of an unchanged library returns at once.
"""

from __future__ import annotations

import math
import os
import shutil
import stat
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

from moodbox.base.moods import MOODS
from moodbox.base.text import printable
from moodbox.music.feedback import FeedbackSettings
from moodbox.music.mood_playlists import (
    MOOD_POINTS,
    UPLIFT_POINTS,
    MoodPoints,
    UpliftPoints,
    auto_name,
    auto_uplift_name,
)
from moodbox.music.scancache import ScanCache

AUTO = "auto"  # playlists.<mood> / uplift.<mood>: a hand-made playlist if MPD has it, else the one written here
# What MPD plays and libsndfile or ffmpeg decode; the rest of a music folder (covers, .cue, .nfo) is not music.
AUDIO_SUFFIXES = frozenset(
    {".mp3", ".flac", ".ogg", ".oga", ".opus", ".wav", ".aif", ".aiff", ".m4a", ".mp4", ".aac", ".wma", ".wv", ".ape"}
)


class LibraryError(RuntimeError):
    """The library cannot be scanned or sorted; the message is one line naming the fix."""


@dataclass(frozen=True)
class LibrarySettings:
    """The `library:` section of config.yaml."""

    music_dir: Path = Path("/var/lib/mpd/music")  # MPD's music_directory: playlists name files relative to it
    cache: Path = Path("/var/lib/moodbox/library.sqlite")  # in the timer service's StateDirectory
    playlist_size: int = field(default=50, metadata={"min": 1, "max": 100000})
    follow_inside_symlinks: bool = True  # as MPD's option of that name: links to folders inside music_dir
    follow_outside_symlinks: bool = True  # as MPD's: links out of music_dir (never one back around it)
    moods: MoodPoints = field(default_factory=MoodPoints)  # where each mood sits (valence, arousal)
    uplift: UpliftPoints = field(default_factory=UpliftPoints)  # where `uplift.<mood>: auto` moves it
    feedback: FeedbackSettings = field(default_factory=FeedbackSettings)  # skips and play-throughs move songs

    def point(self, mood: str) -> tuple[float, float]:
        return self.moods.resolve(mood, MOOD_POINTS[mood])

    def uplift_point(self, mood: str) -> tuple[float, float]:
        return self.uplift.resolve(mood, UPLIFT_POINTS.get(mood, self.point(mood)))

    def playlist(self, mood: str) -> str:
        """The stored playlist `playlists.<mood>: auto` plays where MPD has no playlist named after the mood."""
        return auto_name(mood)

    def uplift_playlist(self, mood: str) -> str:
        """The written playlist `uplift.<mood>: auto` tries: the mood's own where uplift does not move it."""
        return auto_uplift_name(mood) if self.uplift_point(mood) != self.point(mood) else auto_name(mood)

    def targets(self) -> dict[str, tuple[float, float]]:
        """Every auto playlist and the point it gathers tracks around."""
        own = {self.playlist(m): self.point(m) for m in MOODS}
        lifted = {self.uplift_playlist(m): self.uplift_point(m) for m in MOODS}
        return own | lifted


class Analyser(Protocol):
    def analyse(self, path: Path) -> dict[str, float]: ...


@dataclass(frozen=True)
class Track:
    file: str  # relative to the scanned root, '/'-separated (MPD's name for it)
    valence: float
    arousal: float
    evidence: Mapping[str, float]


@dataclass
class ScanResult:
    tracks: list[Track] = field(default_factory=list)
    analysed: int = 0
    cached: int = 0
    failed: int = 0  # could not be decoded this time
    failed_before: int = 0  # remembered as undecodable, not retried until the file changes
    removed: int = 0  # gone from the library, dropped from the cache
    silent: int = 0  # analysed, but silence or close to it: out of the mood playlists
    seconds: float = 0.0


class Progress:
    """On a terminal a bar with an ETA, redrawn per track; elsewhere (the journal) a plain line a minute."""

    def __init__(
        self,
        stream: TextIO = sys.stderr,
        clock: Callable[[], float] = time.monotonic,
        tty: bool | None = None,
        every: float = 60.0,
        report: Callable[[int, int], None] | None = None,
    ) -> None:
        self.stream, self.clock, self.every, self.report = stream, clock, every, report
        self.tty = stream.isatty() if tty is None else tty
        self.total = self.done = 0
        self.started = self._last_line = 0.0
        self._drawn = False

    def start(self, total: int) -> None:
        self.total, self.done = total, 0
        if self.report:  # (done, total) for the web page's view: see scan_progress
            self.report(0, total)
        self.started = self._last_line = self.clock()
        if not self.tty:
            self._print(f"analysing {total} tracks")

    def show(self, file: str) -> None:
        """The file now being analysed (on a terminal)."""
        if self.tty:
            self._draw(file, self.clock())

    def step(self) -> None:
        """One more file done."""
        self.done += 1
        if self.report:
            self.report(self.done, self.total)
        now = self.clock()
        if not self.tty and now - self._last_line >= self.every:
            self._last_line = now
            self._print(f"analysed {self.done} of {self.total}, {self._rate(now)}")

    def note(self, line: str) -> None:
        """A line of its own (a skipped file) without breaking the bar."""
        self._clear()
        self._print(line)

    def finish(self) -> None:
        self._clear()

    def _rate(self, now: float) -> str:
        if not self.done:
            return "ETA -:--"
        per = (now - self.started) / self.done
        left = per * (self.total - self.done)
        return f"{per:.1f} s/track, ETA {_clock_time(left)}"

    def _draw(self, file: str, now: float) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        share = self.done / max(self.total, 1)
        bar = "#" * int(share * 20)
        line = f"{share:4.0%} [{bar:<20}] {self.done}/{self.total} {self._rate(now)}  {file}"
        self.stream.write("\r" + line[: width - 1] + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self._drawn = False

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


def _clock_time(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


MAX_DEPTH = 64  # folders deeper than this are not music libraries but link mazes
# Quieter than this over the whole excerpt is not music to play by mood: silence, or a hiss. Quiet
# classical music measures about -35 LUFS; BS.1770's gate, digital silence, is -70.
QUIETEST_LUFS = -50.0
CRASHED = "the analysis did not finish: the decoder may crash on this file; it is tried again when the file changes"
LOWEST_CENTROID_HZ = 20.0  # sound whose spectral centre lies below hearing (a 1 Hz test file: 6 Hz) is not music


def finite(evidence: Mapping[str, float]) -> bool:
    """Every number of an analysis is finite: NaN (a damaged model, a broken decode) never goes further."""
    return all(math.isfinite(value) for value in evidence.values())


def placeable(evidence: Mapping[str, float]) -> bool:
    """A track a mood playlist may hold: finite evidence of audible sound (not silence, not infrasound)."""
    return (
        finite(evidence)
        and evidence.get("loudness_lufs", 0.0) > QUIETEST_LUFS
        and evidence.get("centroid_hz", LOWEST_CENTROID_HZ) >= LOWEST_CENTROID_HZ
    )


@dataclass
class Walk:
    """What a walk of the music folder found."""

    files: list[tuple[str, os.stat_result]] = field(default_factory=list)  # (MPD's name, stat), in name order
    unreadable: list[str] = field(default_factory=list)  # folders (MPD's names) that could not be read this time


def walk(
    top: Path,
    root: Path,
    warn: Callable[[str], None],
    follow_inside: bool = True,
    follow_outside: bool = True,
) -> Walk:
    """Every audio file under top, named relative to root as MPD names it.

    Symbolic links are followed as MPD's follow_inside_symlinks / follow_outside_symlinks say (both
    on by default, as in MPD), with bounds MPD's own walk has in effect: each folder and each file
    once (a link loop ends, a file reached twice is one track), never a link back to a folder that
    holds the music folder (a link to `/` would walk the whole filesystem and the library again),
    and at most MAX_DEPTH folders deep. Hidden names are skipped as MPD does (macOS leaves
    `._song.mp3` beside every song on a USB stick).
    """
    music = os.path.realpath(root)
    seen_folders: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    found = Walk()
    stack: list[tuple[str, int]] = [(os.fspath(top), 0)]
    while stack:
        folder, depth = stack.pop()
        name = _name(folder, root)
        try:
            here = os.stat(folder)
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as e:
            found.unreadable.append(name)
            inside = _within(os.path.realpath(folder), music)
            fix = "give the moodbox user read access to it" if inside else "it is outside the music folder; skipped"
            warn(f"cannot read folder {printable(name or '.')}: {e.strerror}; {fix}")
            continue
        if (here.st_dev, here.st_ino) in seen_folders or depth > MAX_DEPTH:
            continue
        seen_folders.add((here.st_dev, here.st_ino))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink() and not _followed(entry.path, music, follow_inside, follow_outside):
                continue
            try:
                is_folder = entry.is_dir()
            except OSError:
                is_folder = False
            if is_folder:
                stack.append((entry.path, depth + 1))
            elif os.path.splitext(entry.name)[1].lower() in AUDIO_SUFFIXES:
                _add_file(found, seen_files, entry.path, root, warn)
    found.files.sort(key=lambda item: item[0])
    return found


def _followed(link: str, music: str, follow_inside: bool, follow_outside: bool) -> bool:
    """Whether a symbolic link is followed: as MPD's settings say, and never back around the music folder."""
    target = os.path.realpath(link)
    if target != music and _within(music, target):  # a folder that holds the music folder: `/`, `..`
        return False
    if _within(target, music):
        return follow_inside and target != music
    return follow_outside


def _add_file(found: Walk, seen: set[tuple[int, int]], path: str, root: Path, warn: Callable[[str], None]) -> None:
    file = _name(path, root)
    try:
        file.encode("utf-8")
        info = os.stat(path)
    except UnicodeEncodeError:
        warn(f"skipped {printable(file)}: the name is not UTF-8 (MPD cannot list it); rename the file")
        return
    except OSError as e:
        warn(f"skipped {printable(file)}: {e.strerror} (a broken link?)")
        return
    if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in seen:
        seen.add((info.st_dev, info.st_ino))
        found.files.append((file, info))


def _name(path: str, root: Path) -> str:
    """MPD's name for a path under root: relative, '/'-separated; "" for root itself."""
    name = os.path.relpath(path, root).replace(os.sep, "/")
    return "" if name == "." else name


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _inside(file: str, within: str) -> bool:
    return not within or file.startswith(within + "/")


def scan(
    root: Path,
    cache: ScanCache,
    analyser: Callable[[], Analyser],
    version: str,
    place: Callable[[Sequence[Mapping[str, float]]], list[tuple[float, float]]],
    *,
    within: str = "",
    progress: Progress | None = None,
    decode_errors: tuple[type[Exception], ...] = (),
    clock: Callable[[], float] = time.monotonic,
    follow_inside: bool = True,
    follow_outside: bool = True,
) -> ScanResult:
    """Bring the cache up to date with the audio files under root/within and place them all.

    `analyser` is called only if a file needs analysing (loading the model takes time). A file that
    raises one of `decode_errors` is reported in one line and remembered as failed; any other error
    is reported and retried on the next scan (it may be ours, not the file's). Every result is
    committed before the next file starts, so an interruption loses at most one track.
    """
    started = clock()
    progress = progress or Progress()
    result = ScanResult()
    walked = walk(root / within if within else root, root, progress.note, follow_inside, follow_outside)
    files = walked.files
    present = {file for file, _ in files}
    # A folder unreadable tonight (permissions, a disk asleep) is not a folder gone: its analyses stay.
    gone = [
        file
        for file in cache.files()
        if _inside(file, within) and file not in present and not any(_inside(file, f) for f in walked.unreadable)
    ]
    if files:
        cache.forget(gone)
        result.removed = len(gone)
    elif gone:  # an unmounted disk looks empty: forgetting would mean analysing it all again
        progress.note(f"no audio files under {root / within}; keeping the {len(gone)} cached (is the disk mounted?)")
    evidence: dict[str, Mapping[str, float]] = {}
    todo = []
    for file, info in files:
        entry = cache.lookup(file, info.st_size, info.st_mtime_ns, version)
        if entry is None:
            todo.append((file, info))
        elif entry.evidence is None:
            result.failed_before += 1
        elif not finite(entry.evidence):  # cached before NaN was refused: analysed again
            todo.append((file, info))
        elif not placeable(entry.evidence):
            result.silent += 1
        else:
            evidence[file] = entry.evidence
    result.cached = len(evidence)
    if todo:
        tool = analyser()
        progress.start(len(todo))
        try:
            for file, info in todo:
                progress.show(printable(file))
                found = _analyse_one(tool, root, file, info, cache, version, decode_errors, progress)
                if found is None:
                    result.failed += 1
                else:
                    result.analysed += 1
                    if placeable(found):
                        evidence[file] = found
                    else:
                        progress.note(
                            f"left out {printable(file)}: silence, or sound below hearing; it stays out of the mood "
                            "playlists"
                        )
                        result.silent += 1
                progress.step()
        finally:
            progress.finish()
    names = sorted(evidence)
    points = place([evidence[name] for name in names]) if names else []
    result.tracks = [Track(name, v, a, evidence[name]) for name, (v, a) in zip(names, points, strict=True)]
    result.seconds = clock() - started
    return result


def _analyse_one(
    tool: Analyser,
    root: Path,
    file: str,
    info: os.stat_result,
    cache: ScanCache,
    version: str,
    decode_errors: tuple[type[Exception], ...],
    progress: Progress,
) -> dict[str, float] | None:
    """Analyse one file and keep the result: its evidence, or None (said in one line) if there is none.

    The file is marked in the cache before it is analysed and the mark replaced after: a decoder that
    crashes the whole process on this file leaves the mark, so the next night's scan skips the file
    (until it changes) instead of dying at it every night.
    """
    if not os.access(root / file, os.R_OK):  # not the file's fault: tried again once it is readable
        progress.note(
            f"skipped {printable(file)}: permission denied; give the moodbox user read access to it "
            "(it is tried again on the next scan)"
        )
        return None
    cache.store(file, info.st_size, info.st_mtime_ns, version, error=CRASHED)
    try:
        found = tool.analyse(root / file)
    except decode_errors as e:
        cache.store(file, info.st_size, info.st_mtime_ns, version, error=str(e))
        progress.note(f"skipped {printable(str(e))}")  # the error names the file and why
        return None
    except BaseException as e:  # ours, not the file's (or an interruption): tried again on the next scan
        cache.forget([file])
        if not isinstance(e, Exception):
            raise
        why = f"{type(e).__name__}: {printable(str(e))}"
        progress.note(f"skipped {printable(file)}: analysis failed ({why}); tried again next scan")
        return None
    if not finite(found):
        cache.forget([file])
        progress.note(
            f"skipped {printable(file)}: the analysis gave numbers that are not finite; if every file does this, "
            "restore models/musicnn.tflite (tried again next scan)"
        )
        return None
    cache.store(file, info.st_size, info.st_mtime_ns, version, evidence=found)
    return found


def root_and_within(folder: Path | None, music_dir: Path) -> tuple[Path, str]:
    """Scan inside the music directory keeps MPD's names (and its cache rows); any other folder is its own root."""
    music = music_dir.resolve()
    if folder is None:
        return music, ""
    target = folder.resolve()
    if not target.is_dir():
        raise LibraryError(f"{folder} is not a folder; give a folder of music")
    if target.is_relative_to(music):
        within = target.relative_to(music).as_posix()
        return music, "" if within == "." else within
    return target, ""
