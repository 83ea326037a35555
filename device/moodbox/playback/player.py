"""Steering MPD's queue to the playlist of the decided mood.

The connection itself (reconnecting, refusals, one moodbox per MPD) is
`moodbox.playback.connection`'s; this module decides what plays. Design notes:

* Queue changes never leave the queue cut: the new songs are appended first,
  and only then are the old ones removed ("now": play the first new song, then
  drop the old ones; "after the song": drop all but the playing song, so MPD
  moves on to the new songs by itself, gaplessly, with no polling at the
  boundary). A failure at any point leaves music playing.
* A stored playlist may name files MPD no longer has (a library tidied, a
  database not yet updated). Those songs are skipped, the rest plays, and the
  fact is logged once per playlist and set of missing songs, naming the fix
  (`mpc update`, or re-save the playlist). A playlist with nothing MPD has is
  treated like an empty one: the music stays as it is.
* Any other command MPD rejects (say, a queue another client edited between
  our status and our edit) is logged and not raised; the next mood change
  tries again. `follow`, `poll` and `skip` raise nothing MPD does.
* A mood may name several stored playlists, best first (`auto`: the person's own
  playlist named after the mood, then the one `moodbox library playlists`
  writes). Which one plays is decided at each switch by asking MPD for each
  (`load NAME 0:0`, which queues nothing), not once at start: the nightly scan may write its
  playlists long after the service started, and a person may add theirs any
  day. When none exists the music stays as it is and that is said once per
  mood, naming the fix; `poll` looks again every minute while the mood lasts,
  so a new user's music starts soon after the first scan writes the playlists.
* Songs are shuffled with recently played ones moved to the back.
* If another client (a phone app, mpc) changes the queue or pauses/stops,
  moodbox stops switching automatically for `yield_for` seconds instead of
  fighting the person.

A Player is not thread-safe: one thread owns it and makes every call.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import mpd
from mpd.base import FailureResponseCode

from moodbox.base.moods import AWAY
from moodbox.base.text import printable
from moodbox.playback.connection import MpdConnection, MpdSettings, PlayerError, Transition, UndecodableReply
from moodbox.playback.queue_edits import NextOnce, existing, list_playlist, load_shuffled, requeue
from moodbox.playback.songs import SongTracker

# Songs the player remembers as heard, some ten hours of listening: a mood's queue plays them last, so the rest of
# the playlist comes first (tools/simulate_listener.py queues its listener's songs the same way).
RECENTLY_HEARD = 200

log = logging.getLogger(__name__)


class Candidates(tuple[str, ...]):
    """The stored playlists a mood may play, best first; the first MPD has plays.

    Reads in a log line as `happy or moodbox-happy` (`none` when the mood leaves the music alone).
    """

    def __str__(self) -> str:
        return " or ".join(self) if self else "none"


def candidates(names: str | Sequence[str]) -> Candidates:
    """One name ("" = none) or several, best first, as Candidates without blanks or repeats."""
    given = (names,) if isinstance(names, str) else names
    return Candidates(dict.fromkeys(name for name in given if name))


@dataclass(frozen=True)
class PlaylistChoice:
    """What `moodbox check` says about one mood: the playlist it would play now and what is wrong with it."""

    names: Candidates  # what the mood looks for, best first
    chosen: str  # the first of them MPD has; "" if none (or the mood leaves the music alone)
    problem: str  # "" if it plays: else missing, empty, or naming songs MPD does not have


class Player:
    """Plays the playlist of the current mood on MPD, surviving MPD restarts and dropped sockets."""

    POLL_EVERY = 0.5  # seconds between status polls: quick enough to notice people, never hammering MPD
    LOOK_AGAIN = 60.0  # seconds between looks for a playlist while the mood has none (the first scan may write it)

    def __init__(
        self,
        settings: MpdSettings,
        playlists: Mapping[str, str | Sequence[str]],
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        claim: bool = True,
    ) -> None:
        self.mpd = MpdConnection(settings, clock, claim)
        self._clock = clock
        # mood -> the playlists to try, best first (a single name is one candidate; "" none)
        self.playlists = {mood: candidates(names) for mood, names in playlists.items()}
        self._next_poll = 0.0
        self._random = random.Random(seed)
        self._recent: deque[tuple[str, str]] = deque(maxlen=RECENTLY_HEARD)  # (songid, file) of songs heard
        self._missing_said: dict[str, frozenset[str]] = {}  # playlist -> the missing songs already logged
        self._undecodable_said: set[str] = set()  # playlists already said to name a file that is not UTF-8
        self._chosen: dict[str, str] = {}  # mood -> the playlist its candidates last resolved to ("" none)
        self.mood: str | None = None  # the mood the music should follow
        self.playlist: str | None = None  # the playlist moodbox last queued
        self._applied: str | None = None  # the mood whose music (or away action) is in effect
        self._ours: tuple[str, str] | None = None  # (queue version, state) right after our last change
        self._yield_until = -1.0
        self._look_again_at: float | None = None  # when to look again for the playlist of a mood that had none
        self.songs = SongTracker(clock)  # switches and each song's fate, told to `songs.on_event`

    # ---- the connection, as the worker and `moodbox check` see it ---------------------------

    @property
    def settings(self) -> MpdSettings:
        return self.mpd.settings

    @settings.setter
    def settings(self, settings: MpdSettings) -> None:
        self.mpd.settings = settings

    @property
    def connected(self) -> bool:
        return self.mpd.connected

    @property
    def address(self) -> str:
        return self.mpd.address

    @property
    def last_error(self) -> str:
        return self.mpd.last_error

    @property
    def problem(self) -> PlayerError | None:
        return self.mpd.problem

    @property
    def hung(self) -> bool:
        return self.mpd.hung

    def connect(self) -> bool:
        """Connect now (see MpdConnection.connect): True, False while unreachable, PlayerError if refused."""
        return self.mpd.connect()

    def unusable(self) -> PlayerError:
        """Why MPD cannot be used now, as one line naming the fix."""
        return self.mpd.unusable()

    def _safely(self, action: Callable[[], None]) -> None:
        """Run one of the service's calls; an MPD error that is neither lost nor refused is logged, not raised."""
        try:
            action()
        except mpd.CommandError as e:
            # e.g. another client changed the queue between our status and our edit ("Bad song index").
            # Not retried on every poll: the next mood change tries again.
            self._applied = self.mood
            log.warning("MPD at %s rejected %s (%s); moodbox carries on", self.address, e.command, e.msg)

    # ---- what the service calls -------------------------------------------------------------

    def follow(self, mood: str, why: str = "") -> None:
        """The mood changed: play its music (or the away action) unless a person is in charge; `why`: for the switch."""
        self.mood = mood
        self.songs.why = why
        if self._yielding():
            log.info("not switching to %s: someone else changed playback recently", mood)
            return
        self._safely(partial(self._apply, self.settings.transition))

    def poll(self) -> None:
        """Call often (every frame is fine): reconnects, notices other clients, remembers played songs."""
        now = self._clock()
        if now < self._next_poll:
            return
        self._next_poll = now + self.POLL_EVERY
        self._safely(self._poll)

    def skip(self) -> None:
        """Next song (the skip button): one song, even when MPD's reply is lost and the command is sent again."""
        self._safely(lambda: self._change(NextOnce(), skipped=True))

    def pause(self, on: bool) -> None:
        """Pause or resume the music (the page's control): our change, not taken for a person's."""
        self._safely(lambda: self._change(lambda c: c.pause(int(on))))

    @property
    def song(self) -> str | None:
        """The song heard last (the one playing while music plays), as MPD names it."""
        return self._recent[-1][1] or None if self._recent else None

    def recently_played(self) -> list[str]:
        return [file for _, file in self._recent if file]

    def close(self) -> None:
        self.mpd.close()

    # ---- internals --------------------------------------------------------------------------

    def _poll(self) -> None:
        status = self.mpd.status()
        if status is None:
            return
        if self.mpd.reconnected:
            self.mpd.reconnected = False
            self.songs.moving_on("stopped", by="")  # a song lost to an MPD restart: no verdict on it
            if status.get("state") != "play" and self._applied != AWAY:
                self._applied = None  # MPD restarted or was stopped while we were away: start our music again
            self._ours = (status.get("playlist", ""), status.get("state", ""))
        elif self._ours is not None and (status.get("playlist"), status.get("state")) != self._ours:
            self._yield_to_person()
            return
        self._remember_song(status)
        if self.mood is not None and self._applied != self.mood and not self._yielding():
            self._apply("now")
        elif self._look_again_at is not None and self._clock() >= self._look_again_at and not self._yielding():
            self.songs.why = "the mood's playlist was written since"
            self._applied = None  # as if the mood just came: should MPD be away now, poll() tries again
            self._apply(self.settings.transition)  # the playlists may have been written since: a new user's music

    def _change(self, command: Callable[[mpd.MPDClient], object], skipped: bool = False) -> None:
        if self.mpd.do(command):
            if skipped:
                self.songs.moving_on("skipped", by="button")
            self._remember_our_change()

    def _yielding(self) -> bool:
        return self._clock() < self._yield_until

    def _yield_to_person(self) -> None:
        log.info("another MPD client changed playback; leaving the music to them for %.0f s", self.settings.yield_for)
        self._yield_until = self._clock() + self.settings.yield_for
        self._applied = self.mood  # their music now; ours again on the next mood change after the pause
        self._look_again_at = None
        self._ours = None

    def _remember_song(self, status: dict[str, str]) -> None:
        songid = status.get("songid") if status.get("state") in ("play", "pause") else None
        new = songid is not None and songid != self.songs.songid  # the tracker needs its file
        heard = status.get("state") == "play" and not (self._recent and self._recent[-1][0] == songid)
        file = self._current_file() if new or heard else None
        if heard and songid is not None and file is not None:
            self._recent.append((songid, file))
        self.songs.observe(status, file)

    def _current_file(self) -> str | None:
        try:
            return (self.mpd.run(lambda c: c.currentsong()) or {}).get("file")
        except UndecodableReply:
            return ""  # heard, but its name cannot be read

    def _apply(self, transition: Transition) -> None:
        self._look_again_at = None
        mood = self.mood
        if mood is None:
            return
        if mood == AWAY:
            self._apply_away()
            return
        names = self.playlists.get(mood, Candidates())
        if not names:
            log.info("no playlist for %s; the music stays as it is", mood)
            self._applied = mood
            return
        status = self.mpd.status()
        if status is None:
            return  # unreachable or refused: poll() applies it once MPD is back
        name = _choose(self.mpd, self._chosen, mood, names)
        if name is None:
            return
        if not name:
            self._applied, self._look_again_at = mood, self._clock() + self.LOOK_AGAIN
            return
        if self.playlist == name and status.get("state") == "play":
            self._applied, self._ours = mood, (status.get("playlist", ""), "play")  # already playing
            return
        try:
            listing = self.mpd.run(partial(list_playlist, name=name))
        except mpd.CommandError as e:
            if e.errno != FailureResponseCode.NO_EXIST:
                raise
            log.error("playlist '%s' for %s: %s; create it in MPD or fix playlists.%s", name, mood, e.msg, mood)
            self._applied = mood
            return
        except UndecodableReply:
            self._apply_loaded(name, mood, transition)
            return
        if listing is None:
            return
        songs, missing = listing
        if not songs and not missing:
            log.warning("playlist '%s' for %s is empty; the music stays as it is", name, mood)
            self._applied = mood
            return
        queued: list[str] = []
        if songs:
            shuffled = _shuffled(self._random, songs, set(self.recently_played()))
            edit = partial(requeue, songs=shuffled, after_song=transition == "after_song")
            result = self.mpd.run(edit)
            if result is None:
                return
            queued, gone = result
            missing = missing + gone
        _report_missing(self._missing_said, name, mood, missing, len(queued))
        self._applied = mood
        if queued:
            if transition == "after_song" and status.get("state") == "play":  # not playing yet: say so
                log.info("%s: playlist '%s' queued; it starts when the song playing now ends", mood, name)
            self.playlist = name
            self.songs.switched(mood, name, transition, queued)
            self._remember_our_change()

    def _apply_loaded(self, name: str, mood: str, transition: Transition) -> None:
        """A playlist naming a file that is not UTF-8 cannot be listed here: MPD queues it itself (`load`)."""
        queued = self.mpd.run(partial(load_shuffled, name=name, after_song=transition == "after_song"))
        if queued is None:
            return
        if name not in self._undecodable_said:
            self._undecodable_said.add(name)
            log.warning(
                "playlist '%s' for %s names a file whose name is not UTF-8, which moodbox cannot read; MPD queued "
                "the playlist itself (%d songs, shuffled); rename the file to UTF-8 (convmv -f latin1 -t utf8)",
                name,
                mood,
                queued,
            )
        self._applied = mood
        if queued:
            self.playlist = name
            self.songs.switched(mood, name, transition, None)
            self._remember_our_change()

    def _apply_away(self) -> None:
        action = self.settings.away
        done = True
        if action == "pause":
            done = self.mpd.do(lambda c: c.pause(1))
        elif action == "stop":
            done = self.mpd.do(lambda c: c.stop())
        if done:
            self._applied = AWAY
            self._remember_our_change()

    def _remember_our_change(self) -> None:
        status = self.mpd.status()
        if status is not None:
            self._ours = (status.get("playlist", ""), status.get("state", ""))
            self._remember_song(status)  # the song our change started, known at once (a skip may follow at once)

    def check_playlists(self) -> dict[str, str]:
        """For `moodbox check`: mood -> problem, for moods whose playlist is missing, empty or names missing songs.

        Raises PlayerError if MPD is unreachable or refuses us.
        """
        return {mood: choice.problem for mood, choice in self.survey().items() if choice.problem}

    def survey(self) -> dict[str, PlaylistChoice]:
        """For `moodbox check`: per mood, the playlist a switch would play now and what is wrong with it.

        Raises PlayerError if MPD is unreachable or refuses us.
        """
        present = self.mpd.run(partial(existing, names=[n for names in self.playlists.values() for n in names]))
        if present is None:
            raise self.mpd.unusable()
        listings: dict[str, tuple[list[str], list[str]]] = {}
        survey = {}
        for mood, names in self.playlists.items():
            name = next((n for n in names if n in present), "")
            survey[mood] = PlaylistChoice(names, name, _problem(self.mpd, names, name, listings))
        return survey


def _problem(
    connection: MpdConnection, names: Candidates, name: str, listings: dict[str, tuple[list[str], list[str]]]
) -> str:
    """What keeps playlist `name` (chosen from `names`) from playing; "" if nothing does."""
    if not names:
        return ""
    if not name:
        if len(names) == 1:
            return f"playlist '{names[0]}' does not exist in MPD"
        return f"none of {', '.join(repr(n) for n in names)} exists in MPD"
    if name not in listings:
        try:
            listing = connection.run(partial(list_playlist, name=name))
        except UndecodableReply:
            return (
                f"playlist '{name}' names a file whose name is not UTF-8 (MPD plays it, moodbox cannot list it); "
                "rename the file to UTF-8 (convmv -f latin1 -t utf8)"
            )
        if listing is None:
            raise connection.problem or PlayerError(
                f"MPD at {connection.address} went away ({connection.last_error}); try again"
            )
        listings[name] = listing
    songs, missing = listings[name]
    if not songs and not missing:
        return f"playlist '{name}' is empty"
    if missing:
        shown = ", ".join(map(printable, missing[:3])) + (" ..." if len(missing) > 3 else "")
        return (
            f"playlist '{name}' names {len(missing)} song(s) MPD does not have ({shown}; "
            "mpc update if the files are there, else re-save the playlist)"
        )
    return ""


def _shuffled(rng: random.Random, songs: list[str], heard: set[str]) -> list[str]:
    """Random order, with songs heard recently moved to the back."""
    fresh, again = [s for s in songs if s not in heard], [s for s in songs if s in heard]
    rng.shuffle(fresh)
    rng.shuffle(again)
    return fresh + again


def _choose(connection: MpdConnection, chosen: dict[str, str], mood: str, names: Candidates) -> str | None:
    """The first of `names` MPD has now: "" if none (said once per mood: `chosen` keeps the last), None if MPD
    cannot be asked.

    A single name is taken as it is: if MPD lacks it, listing it says so, as it always did.
    """
    if len(names) == 1:
        return names[0]
    stored = connection.run(partial(existing, names=names))
    if stored is None:
        return None
    name = next((n for n in names if n in stored), "")
    if name != chosen.get(mood):
        if name:
            log.info("%s: playlist '%s' (the first MPD has of %s)", mood, name, names)
        else:
            log.warning(
                "no playlist for %s in MPD (looked for %s); the music stays as it is; run `moodbox library "
                "playlists` (the nightly timer does) or create a playlist named %s",
                mood,
                ", ".join(names),
                names[0],
            )
    chosen[mood] = name
    return name


def _report_missing(
    said_before: dict[str, frozenset[str]], name: str, mood: str, missing: list[str], playing: int
) -> None:
    """One line per playlist and set of missing songs (kept in `said_before`): not on every switch, not per song."""
    said = frozenset(missing)
    if said_before.get(name, frozenset()) == said:
        return
    said_before[name] = said
    if not missing:
        return
    ordered = sorted(said)
    shown = ", ".join(map(printable, ordered[:3])) + (f" and {len(ordered) - 3} more" if len(ordered) > 3 else "")
    fix = "if the files are there, update MPD's database (mpc update); otherwise re-save the playlist without them"
    if playing:
        log.warning(
            "playlist '%s' for %s names %d song(s) MPD does not have (%s); playing the other %d; %s",
            name,
            mood,
            len(ordered),
            shown,
            playing,
            fix,
        )
    else:
        log.warning(
            "playlist '%s' for %s names only songs MPD does not have (%s); the music stays as it is; %s",
            name,
            mood,
            shown,
            fix,
        )
