"""What the Player did and what happened to each song, told to whoever listens (`SongTracker.on_event`).

Two kinds of event, handed to `on_event` on the player's thread (it must not block):
`SwitchEvent` (moodbox queued a mood's playlist, and why) and `SongEvent` (a song started, then
played to its end, skipped, cut or stopped). Playback knows nothing of who records them.

The Player polls MPD's status every half second; `SongTracker.observe` is given each status and
tells a song's end from MPD's own fields (`songid`, `elapsed`, `duration`, `state`):

* the song changed, or the same song started over (a one-song queue on repeat): where had the old
  song got to when the new one began? Its last elapsed time, plus the time since that poll while
  it played, less the new song's elapsed time. Within `END_SLACK` seconds of its duration it was
  `played` (MPD moved on by itself at the end); otherwise `skipped` (`mpc next`, a phone app, any
  client). A song with no duration (a stream) gets no verdict: `stopped`.
* playback stopped: `played` if the song had reached its end (the queue ran out), else `stopped`.
* moodbox's own actions are told, not guessed: the skip button ends the song as `skipped` (by
  "button"), a mood switch that replaces the music at once as `cut` (no verdict on the song: the
  listener did not choose it).

Each song is reported with the mood and playlist it was queued for (the Player says which), so
the listener's feedback can be told per mood. A song moodbox did not queue (a person's own queue)
is reported with neither.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

END_SLACK = 2.0  # seconds short of its duration at which a song counts as played to its end


@dataclass(frozen=True)
class SongEvent:
    """A song `started`, `played`, `skipped`, `cut` or `stopped`; elapsed and duration in seconds."""

    outcome: str
    file: str
    mood: str | None = None
    playlist: str | None = None
    elapsed: float | None = None
    duration: float | None = None
    by: str = ""  # "button": moodbox's skip button; "moodbox": a mood switch


@dataclass(frozen=True)
class SwitchEvent:
    """moodbox queued `playlist` for `mood`; `why`: what the service said when it asked, or what made the
    player try again (MPD back, the playlist written since)."""

    mood: str
    playlist: str
    transition: str
    why: str = ""


PlaybackEvent = SongEvent | SwitchEvent


def _ignore(event: PlaybackEvent) -> None:
    pass


@dataclass
class _Playing:
    songid: str
    file: str
    mood: str | None
    playlist: str | None
    duration: float | None
    elapsed: float  # at the last poll
    seen: float  # clock time of the last poll
    playing: bool  # state was "play" at the last poll


class SongTracker:
    """Turns the Player's switches and successive MPD statuses into events, given to `on_event`."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.on_event: Callable[[PlaybackEvent], None] = _ignore
        self.why = ""  # why the music follows the mood it follows (the service's words at `follow`)
        self._now: _Playing | None = None
        self._next_end: tuple[str, str] | None = None  # (outcome, by) of a change moodbox itself just made
        self._queued_for: dict[str, tuple[str, str]] = {}  # file -> (mood, playlist) of moodbox's queue
        self._loaded_for: tuple[str, str] | None = None  # a playlist MPD loaded itself: its files are not known

    def switched(self, mood: str, playlist: str, transition: str, files: list[str] | None) -> None:
        """moodbox queued `files` (None: MPD loaded the playlist itself) for `mood`.

        The song that played before is `cut` if the next status shows the switch replaced it.
        """
        self._queued_for = dict.fromkeys(files or (), (mood, playlist))
        self._loaded_for = (mood, playlist) if files is None else None
        self.moving_on("cut", by="moodbox")
        self._report(SwitchEvent(mood, playlist, transition, self.why))

    def moving_on(self, outcome: str, by: str) -> None:
        """moodbox itself moves MPD on (the skip button: "skipped"; a switch: "cut"): the next status, if it shows
        another song, ends the current one so, unless it had reached its end."""
        self._next_end = (outcome, by)

    def _attribution(self, file: str) -> tuple[str | None, str | None]:
        return self._queued_for.get(file) or self._loaded_for or (None, None)

    def _report(self, event: PlaybackEvent) -> None:
        try:
            self.on_event(event)
        except Exception as e:  # a listener's bug never stops the music
            log.error("reporting %s failed: %s (%s)", type(event).__name__, e, type(e).__name__)

    @property
    def songid(self) -> str | None:
        """MPD's id of the song being followed; a status with another one needs its file (`observe`'s `file`)."""
        return self._now.songid if self._now is not None else None

    def observe(self, status: dict[str, str], file: str | None) -> None:
        """One poll's status; `file`: the current song's name when its songid is new (else None)."""
        state = status.get("state")
        songid = status.get("songid") if state in ("play", "pause") else None
        elapsed = _seconds(status.get("elapsed")) or 0.0
        now = self._clock()
        cur = self._now
        if cur is not None:
            if songid != cur.songid:
                began = now - (elapsed if songid is not None else 0.0)  # when the next song began
                outcome, by = self._next_end or ("skipped" if songid is not None else "stopped", "")
                self._end("played" if self._reached_end(cur, began) else outcome, began, by)
            elif elapsed + END_SLACK < cur.elapsed:  # the same song from the start: a one-song queue looping
                if self._reached_end(cur, now - elapsed):
                    self._end("played", now - elapsed)
                else:
                    cur.elapsed = elapsed  # a seek back: the same play goes on
        cur = self._now
        if cur is None and songid is not None and file is not None:
            mood, playlist = self._attribution(file)
            cur = _Playing(songid, file, mood, playlist, _duration(status), elapsed, now, state == "play")
            self._now = cur
            self._report(SongEvent("started", file, mood, playlist, elapsed, cur.duration))
        elif cur is not None:
            cur.elapsed, cur.seen, cur.playing = elapsed, now, state == "play"
        self._next_end = None

    def _reached_end(self, cur: _Playing, when: float) -> bool:
        """Had `cur` reached its end by `when` (when the next song began)?"""
        if cur.duration is None:
            return False
        return self._elapsed_then(cur, when) >= cur.duration - END_SLACK

    @staticmethod
    def _elapsed_then(cur: _Playing, when: float) -> float:
        advanced = max(0.0, when - cur.seen) if cur.playing else 0.0
        return cur.elapsed + advanced if cur.duration is None else min(cur.duration, cur.elapsed + advanced)

    def _end(self, outcome: str, when: float, by: str = "") -> None:
        cur = self._now
        assert cur is not None
        self._now = None
        elapsed = round(self._elapsed_then(cur, when), 1)
        if outcome == "skipped" and cur.duration is None:
            outcome = "stopped"  # a stream has no end to tell a skip from
        self._report(SongEvent(outcome, cur.file, cur.mood, cur.playlist, elapsed, cur.duration, by))


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _duration(status: dict[str, str]) -> float | None:
    """The song's length from `duration` (MPD >= 0.20) or the older `time` ("elapsed:total"); None for a stream."""
    duration = _seconds(status.get("duration"))
    if duration is None and ":" in status.get("time", ""):
        duration = _seconds(status["time"].split(":")[1])
    return duration if duration else None
