"""Steering a local MPD server to the playlist of the decided mood (python-mpd2).

Design notes, from how MPD and python-mpd2 behave in practice:

* MPD closes idle client sockets after its `connection_timeout` (60 s by
  default), and a restart drops every client. python-mpd2 then raises
  `ConnectionError("Connection lost while reading line")` on the first call and
  `BrokenPipeError` or "Not connected" on later ones, while still believing it
  is connected. Every command therefore goes through `_run`, which on any
  connection error disconnects cleanly, reconnects once at once (the common
  idle-timeout case), and otherwise backs off (0.5 s doubling to 2 s) without
  ever raising into the caller.
* An MPD that is down is said once (a warning), then summarised every
  `SUMMARY_EVERY` seconds ("still unreachable after 20 min (600 attempts)"),
  and its return is said once ("MPD at X is back after 42 s"): a month of a
  switched-off MPD is a few thousand lines, not millions.
* An MPD that refuses moodbox is a person's to fix, so it is one clear line
  naming the fix, never a traceback: a wrong `mpd.password` (ACK 3), or a
  password or permission missing (ACK 4; checked at each connect with MPD's
  `commands`, which lists what this client may run). `follow`, `poll` and `skip`
  never raise for it: the line goes to the log, `last_error` and `problem`,
  `connected` stays False (the service shows its error LED) and the connection
  is retried every `RETRY_REFUSED` seconds, in case MPD's configuration is
  fixed and MPD restarted. `connect()` and `check_playlists()` raise it as a
  `PlayerError`, for `moodbox check` and for a service that wants to stop.
* One moodbox per MPD: two would fight over the queue. A steering Player
  subscribes, on each connection, to its own client-to-client channel
  `moodbox:<host>:<pid>:<tag>` (MPD's `subscribe`; it needs no file and works
  across hosts). If another such channel exists when it connects, another
  moodbox steers this MPD: that is `AnotherInstance`, raised by `connect()` and
  otherwise kept as `problem` and retried like a refusal, so the instance that
  was there first keeps the music. A subscription dies with its connection, so
  a crashed instance frees MPD at once (one on a host that lost power, when
  MPD's connection_timeout drops it); our own stale subscription (a socket MPD
  has not noticed is gone yet) carries our own tag and is not a rival.
  `moodbox check` uses `claim=False`: looking is not steering.
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
  writes). Which one plays is decided at each switch from MPD's `listplaylists`
  (one cheap command), not once at start: the nightly scan may write its
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
import os
import random
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import mpd
from mpd.base import FailureResponseCode

from moodbox.mood import AWAY

log = logging.getLogger(__name__)

Transition = Literal["after_song", "now"]
AwayAction = Literal["keep", "pause", "stop"]
# A protocol error means the byte stream is out of step: a new connection is the cure, as for a lost one.
CONNECTION_ERRORS = (mpd.ConnectionError, mpd.ProtocolError, OSError, socket.timeout, EOFError)
# What steering needs; MPD's `commands` lists only what this client may run, so a gap is a permission missing.
NEEDED = frozenset(
    {
        "status",
        "currentsong",
        "listplaylists",
        "listplaylistinfo",
        "add",
        "delete",
        "play",
        "pause",
        "stop",
        "next",
        "repeat",
        "random",
    }
)
CHANNEL = "moodbox"  # prefix of each instance's client-to-client channel


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


class PlayerError(RuntimeError):
    """MPD is unusable in a way a person must fix (wrong password, missing permission, missing playlist)."""


class AnotherInstance(PlayerError):
    """Another moodbox already steers this MPD."""


@dataclass(frozen=True)
class MpdSettings:
    """The `mpd:` section of config.yaml."""

    host: str = "localhost"  # host name, or the path of MPD's unix socket
    port: int = field(default=6600, metadata={"min": 1, "max": 65535})
    password: str = ""
    transition: Transition = "after_song"
    away: AwayAction = "keep"
    yield_for: float = field(default=600.0, metadata={"min": 0, "max": 86400})  # seconds to back off from a person
    timeout: float = field(default=5.0, metadata={"min": 0.5, "max": 60})

    @property
    def address(self) -> str:
        """Where MPD is, as log lines and fixes name it: host:port, or the socket's path."""
        return self.host if self.host.startswith("/") else f"{self.host}:{self.port}"


class Player:
    """Plays the playlist of the current mood on MPD, surviving MPD restarts and dropped sockets."""

    POLL_EVERY = 0.5  # seconds between status polls: quick enough to notice people, never hammering MPD
    RETRY_REFUSED = 30.0  # seconds between tries while MPD refuses us: a person must fix it, no need to hammer
    LOOK_AGAIN = 60.0  # seconds between looks for a playlist while the mood has none (the first scan may write it)
    SUMMARY_EVERY = 600.0  # seconds between "still unreachable" lines while MPD stays away

    def __init__(
        self,
        settings: MpdSettings,
        playlists: Mapping[str, str | Sequence[str]],
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        claim: bool = True,
    ) -> None:
        self.settings, self._clock = settings, clock
        # mood -> the playlists to try, best first (a single name is one candidate; "" none)
        self.playlists = {mood: candidates(names) for mood, names in playlists.items()}
        self.claim = claim  # steer MPD alone: refuse to work beside another moodbox (False for `moodbox check`)
        self._client = mpd.MPDClient()
        self._client.timeout = settings.timeout
        self._channel = f"{CHANNEL}:{_channel_safe(socket.gethostname())}:{os.getpid()}:{secrets.token_hex(2)}"
        self._connected = False
        self._ever_connected = False
        self._reconnected = False
        self._retry_at = 0.0
        self._backoff = 0.0
        self._trouble: _Trouble | None = None  # what keeps MPD from us, since when, how often tried
        self._quiet = False  # inside connect(): failures go to its caller, not the log
        self._next_poll = 0.0
        self._random = random.Random(seed)
        self._recent: deque[tuple[str, str]] = deque(maxlen=200)  # (songid, file) of songs heard
        self._missing_said: dict[str, frozenset[str]] = {}  # playlist -> the missing songs already logged
        self._chosen: dict[str, str] = {}  # mood -> the playlist its candidates last resolved to ("" none)
        self.mood: str | None = None  # the mood the music should follow
        self.playlist: str | None = None  # the playlist moodbox last queued
        self._applied: str | None = None  # the mood whose music (or away action) is in effect
        self._ours: tuple[str, str] | None = None  # (queue version, state) right after our last change
        self._yield_until = -1.0
        self._look_again_at: float | None = None  # when to look again for the playlist of a mood that had none
        self.last_error = ""  # why MPD is not usable now: the connection error, or the refusal's line; "" if it is
        self.problem: PlayerError | None = None  # set while MPD refuses us (a person must fix it), else None

    # ---- connection -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def address(self) -> str:
        return self.settings.address

    def connect(self) -> bool:
        """Connect now: True on success, False if MPD cannot be reached (retried with backoff later).

        Raises PlayerError (AnotherInstance when another moodbox steers this MPD) when MPD refuses
        us in a way a person must fix; that is also kept in `problem` and retried slowly. Nothing is
        logged here: the caller has the answer (the background retries log what persists).
        """
        self._quiet = True
        try:
            if self._open():
                return True
        finally:
            self._quiet = False
        if self.problem is not None:
            raise self.problem
        return False

    def _open(self) -> bool:
        """Connect, authenticate, check permissions, claim MPD; False (said in the log) if any of it fails."""
        self._drop()
        try:
            if self.settings.host.startswith("/"):
                self._client.connect(self.settings.host)
            else:
                self._client.connect(self.settings.host, self.settings.port)
            if self.settings.password:
                self._client.password(self.settings.password)
            allowed = set(self._client.commands())
            self._check_permissions(allowed)
            if self.claim and {"channels", "subscribe"} <= allowed:
                self._claim()
        except mpd.CommandError as e:
            self._refused(self._refusal(e))
            return False
        except PlayerError as e:
            self._refused(e)
            return False
        except CONNECTION_ERRORS as e:
            self._unreachable(e)
            return False
        self._back()
        return True

    def _check_permissions(self, allowed: set[str]) -> None:
        missing = sorted(NEEDED - allowed)
        if not missing:
            return
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        if self.settings.password:
            raise PlayerError(
                f"MPD at {self.address} does not let the password in mpd.password run {shown}; give it "
                'read,add,control in MPD\'s mpd.conf (password "...@read,add,control")'
            )
        raise PlayerError(
            f"MPD at {self.address} wants a password (it does not let moodbox run {shown} without one); "
            "set mpd.password in the config to MPD's password, or grant read,add,control in its default_permissions"
        )

    def _refusal(self, error: mpd.CommandError) -> PlayerError:
        if error.errno == FailureResponseCode.PASSWORD:
            return PlayerError(
                f"MPD refused the password in mpd.password ({error.msg}) at {self.address}; "
                "set mpd.password to the password in MPD's mpd.conf"
            )
        if error.errno == FailureResponseCode.PERMISSION:
            return PlayerError(
                f"MPD at {self.address} does not let moodbox run {error.command} ({error.msg}); set mpd.password "
                "in the config to MPD's password, or grant read,add,control in MPD's mpd.conf"
            )
        return PlayerError(f"MPD at {self.address} refused {error.command} ({error.msg})")

    def _claim(self) -> None:
        """Subscribe to our channel unless another moodbox has one: then raise AnotherInstance."""
        rivals = self._rivals()
        if not rivals:
            self._client.subscribe(self._channel)
            # Two instances connecting in the same instant both found none: the lowest channel name steers.
            rivals = [r for r in self._rivals() if r < self._channel]
            if not rivals:
                return
        _, host, pid, _ = (rivals[0].split(":") + ["?"] * 4)[:4]
        raise AnotherInstance(
            f"another moodbox (pid {pid} on {host}) already steers MPD at {self.address}; stop it first "
            "(sudo systemctl stop moodbox) or point mpd.host at another MPD"
        )

    def _rivals(self) -> list[str]:
        return sorted(c for c in self._client.channels() if c.startswith(CHANNEL + ":") and c != self._channel)

    def _drop(self) -> None:
        try:
            self._client.disconnect()
        except (*CONNECTION_ERRORS, mpd.MPDError):
            pass
        self._connected = False

    def _unreachable(self, error: BaseException) -> None:
        self._drop()
        self._backoff = min(max(self._backoff * 2, 0.5), 2.0)
        why = str(error) or type(error).__name__
        self._troubled("unreachable", why, f"MPD at {self.address} unreachable ({why})", self._backoff, None)

    def _refused(self, problem: PlayerError) -> None:
        self._drop()
        self._troubled(str(problem), str(problem), str(problem), self.RETRY_REFUSED, problem)

    def _troubled(self, kind: str, why: str, what: str, retry_in: float, problem: PlayerError | None) -> None:
        """Note a failed connection: `why` in short, `what` as a line for the log; `kind` tells a new trouble
        from the same one again."""
        now = self._clock()
        self.last_error, self.problem, self._retry_at = why, problem, now + retry_in
        trouble = self._trouble
        if trouble is None or trouble.kind != kind:
            since = trouble.since if trouble is not None else now
            level = logging.WARNING if problem is None else logging.ERROR  # a person must act on a refusal
            trouble = self._trouble = _Trouble(kind, since, retry_in, level)
        else:
            trouble.attempts += 1
        trouble.what, trouble.why = what, why
        if not self._quiet:
            self._say(trouble)

    def _say(self, trouble: _Trouble) -> None:
        """Say a trouble once, then summarise it every SUMMARY_EVERY seconds while it lasts.

        connect() says nothing (its caller hears it); the next background call says it instead.
        """
        now = self._clock()
        if not trouble.said:
            trouble.said, trouble.next_summary = True, now + self.SUMMARY_EVERY
            if trouble.kind == "unreachable":
                log.log(
                    trouble.level,
                    "%s; retrying every %.0f s and reporting every %.0f min until it is back; "
                    "start MPD (sudo systemctl start mpd) or fix mpd.host/mpd.port",
                    trouble.what,
                    max(trouble.retry_in, 2.0),
                    self.SUMMARY_EVERY / 60,
                )
            else:
                log.log(trouble.level, "%s (retrying every %.0f s)", trouble.what, trouble.retry_in)
        elif now >= trouble.next_summary:
            trouble.next_summary = now + self.SUMMARY_EVERY
            log.log(
                trouble.level,
                "MPD at %s %s after %s (%d attempts): %s",
                self.address,
                "still unreachable" if trouble.kind == "unreachable" else "still refusing moodbox",
                _duration(now - trouble.since),
                trouble.attempts,
                trouble.why,
            )

    def _back(self) -> None:
        trouble = self._trouble
        if trouble is not None and trouble.said:
            again = "is back" if trouble.kind == "unreachable" else "lets moodbox steer again"
            log.info("MPD at %s %s after %s", self.address, again, _duration(self._clock() - trouble.since))
        # A reconnection (not the first connection) may find a restarted MPD: poll() looks at it afresh.
        self._reconnected = self._ever_connected
        self._connected, self._ever_connected, self._backoff = True, True, 0.0
        self._trouble, self.last_error, self.problem = None, "", None

    def _run(self, command: Callable[[mpd.MPDClient], Any]) -> Any:
        """Run `command(client)`; None if MPD cannot be reached or refuses us. Raises other CommandErrors."""
        if not self._connected:
            if self._clock() < self._retry_at:
                if self._trouble is not None:
                    self._say(self._trouble)
                return None
            if not self._open():
                return None
        try:
            try:
                return command(self._client)
            except CONNECTION_ERRORS:
                # A socket MPD closed while we were quiet fails on first use: one new connection, one retry.
                if not self._open():
                    return None
                try:
                    return command(self._client)
                except CONNECTION_ERRORS as e:
                    self._unreachable(e)
                    return None
        except mpd.CommandError as e:
            if e.errno not in (FailureResponseCode.PASSWORD, FailureResponseCode.PERMISSION):
                raise
            self._refused(self._refusal(e))
            return None

    def _do(self, command: Callable[[mpd.MPDClient], Any]) -> bool:
        """Run a command whose reply carries nothing (python-mpd2 returns None); True if MPD took it."""
        return self._run(lambda c: command(c) or True) is not None

    def _status(self) -> dict[str, str] | None:
        return self._run(lambda c: c.status())

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

    def follow(self, mood: str) -> None:
        """The mood changed: play its music (or apply the away action) unless a person is in charge."""
        self.mood = mood
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
        """Next song (the skip button)."""
        self._safely(self._skip)

    def recently_played(self) -> list[str]:
        return [file for _, file in self._recent]

    def close(self) -> None:
        self._drop()

    # ---- internals --------------------------------------------------------------------------

    def _poll(self) -> None:
        status = self._status()
        if status is None:
            return
        if self._reconnected:
            self._reconnected = False
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
            self._applied = None  # as if the mood just came: should MPD be away now, poll() tries again
            self._apply(self.settings.transition)  # the playlists may have been written since: a new user's music

    def _skip(self) -> None:
        if self._do(lambda c: c.next()):
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
        songid = status.get("songid")
        if status.get("state") != "play" or songid is None or (self._recent and self._recent[-1][0] == songid):
            return
        song = self._run(lambda c: c.currentsong()) or {}
        if "file" in song:
            self._recent.append((songid, song["file"]))

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
        status = self._status()
        if status is None:
            return  # unreachable or refused: poll() applies it once MPD is back
        name = self._choose(mood, names)
        if name is None:
            return
        if not name:
            self._applied, self._look_again_at = mood, self._clock() + self.LOOK_AGAIN
            return
        if self.playlist == name and status.get("state") == "play":
            self._applied, self._ours = mood, (status.get("playlist", ""), "play")  # already playing
            return
        try:
            listing = self._run(partial(_list_playlist, name=name))
        except mpd.CommandError as e:
            if e.errno != FailureResponseCode.NO_EXIST:
                raise
            log.error("playlist '%s' for %s: %s; create it in MPD or fix playlists.%s", name, mood, e.msg, mood)
            self._applied = mood
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
            requeue = partial(self._requeue, songs=self._shuffled(songs), after_song=transition == "after_song")
            result = self._run(requeue)
            if result is None:
                return
            queued, gone = result
            missing = missing + gone
        self._report_missing(name, mood, missing, len(queued))
        self._applied = mood
        if queued:
            self.playlist = name
            self._remember_our_change()

    def _choose(self, mood: str, names: Candidates) -> str | None:
        """The first of `names` MPD has now: "" if none (said once per mood), None if MPD cannot be asked.

        A single name is taken as it is: if MPD lacks it, listing it says so, as it always did.
        """
        if len(names) == 1:
            return names[0]
        stored = self._run(lambda c: {p["playlist"] for p in c.listplaylists()})
        if stored is None:
            return None
        name = next((n for n in names if n in stored), "")
        if name != self._chosen.get(mood):
            if name:
                log.info("%s plays playlist '%s' (the first MPD has of %s)", mood, name, names)
            else:
                log.warning(
                    "no playlist for %s in MPD (looked for %s); the music stays as it is; run `moodbox library "
                    "playlists` (the nightly timer does) or create a playlist named %s",
                    mood,
                    ", ".join(names),
                    names[0],
                )
        self._chosen[mood] = name
        return name

    def _apply_away(self) -> None:
        action = self.settings.away
        done = True
        if action == "pause":
            done = self._do(lambda c: c.pause(1))
        elif action == "stop":
            done = self._do(lambda c: c.stop())
        if done:
            self._applied = AWAY
            self._remember_our_change()

    def _shuffled(self, songs: list[str]) -> list[str]:
        """Random order, with songs heard recently moved to the back."""
        heard = set(self.recently_played())
        fresh, again = [s for s in songs if s not in heard], [s for s in songs if s in heard]
        self._random.shuffle(fresh)
        self._random.shuffle(again)
        return fresh + again

    def _requeue(self, client: mpd.MPDClient, songs: list[str], after_song: bool) -> tuple[list[str], list[str]]:
        """Append the new songs, then remove the old ones: (songs queued, songs MPD does not have).

        after_song (and music playing): the playing song stays and MPD moves on to the new songs when
        it ends. Otherwise the first new song plays at once. Nothing is removed before the new songs
        are in, so a failure at any point leaves music in the queue.
        """
        queued, gone = _append(client, songs)
        if not queued:
            return queued, gone
        # Read after appending, just before the edit: the playing song can hardly move on in between.
        status = client.status()
        length = int(status.get("playlistlength", 0)) - len(queued)  # the old songs, before the new ones
        keep = int(status["song"]) if after_song and status.get("state") == "play" and "song" in status else None
        client.command_list_ok_begin()
        client.repeat(1)  # the mood's playlist loops until the mood changes
        client.random(0)
        if keep is None:
            client.play(length)  # the first new song
        if keep is None or keep >= length:  # (keep >= length: the old songs ran out meanwhile, a new one plays)
            if length:
                client.delete((0, length))
        else:
            if keep + 1 < length:
                client.delete((keep + 1, length))
            if keep > 0:
                client.delete((0, keep))
        client.command_list_end()
        return queued, gone

    def _report_missing(self, name: str, mood: str, missing: list[str], playing: int) -> None:
        """One line per playlist and set of missing songs: not on every switch, not one per song."""
        said = frozenset(missing)
        if self._missing_said.get(name, frozenset()) == said:
            return
        self._missing_said[name] = said
        if not missing:
            return
        ordered = sorted(said)
        shown = ", ".join(ordered[:3]) + (f" and {len(ordered) - 3} more" if len(ordered) > 3 else "")
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

    def _remember_our_change(self) -> None:
        status = self._status()
        if status is not None:
            self._ours = (status.get("playlist", ""), status.get("state", ""))

    def check_playlists(self) -> dict[str, str]:
        """For `moodbox check`: mood -> problem, for moods whose playlist is missing, empty or names missing songs.

        Raises PlayerError if MPD is unreachable or refuses us.
        """
        return {mood: choice.problem for mood, choice in self.survey().items() if choice.problem}

    def survey(self) -> dict[str, PlaylistChoice]:
        """For `moodbox check`: per mood, the playlist a switch would play now and what is wrong with it.

        Raises PlayerError if MPD is unreachable or refuses us.
        """
        stored = self._run(lambda c: c.listplaylists())
        if stored is None:
            if self.problem is not None:
                raise self.problem
            raise PlayerError(f"MPD at {self.address} is unreachable ({self.last_error}); start MPD or fix mpd.host")
        present = {p["playlist"] for p in stored}
        listings: dict[str, tuple[list[str], list[str]]] = {}
        survey = {}
        for mood, names in self.playlists.items():
            name = next((n for n in names if n in present), "")
            survey[mood] = PlaylistChoice(names, name, self._problem(names, name, listings))
        return survey

    def _problem(self, names: Candidates, name: str, listings: dict[str, tuple[list[str], list[str]]]) -> str:
        """What keeps playlist `name` (chosen from `names`) from playing; "" if nothing does."""
        if not names:
            return ""
        if not name:
            if len(names) == 1:
                return f"playlist '{names[0]}' does not exist in MPD"
            return f"none of {', '.join(repr(n) for n in names)} exists in MPD"
        if name not in listings:
            listing = self._run(partial(_list_playlist, name=name))
            if listing is None:
                raise self.problem or PlayerError(f"MPD at {self.address} went away ({self.last_error}); try again")
            listings[name] = listing
        songs, missing = listings[name]
        if not songs and not missing:
            return f"playlist '{name}' is empty"
        if missing:
            shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
            return (
                f"playlist '{name}' names {len(missing)} song(s) MPD does not have ({shown}; "
                "mpc update if the files are there, else re-save the playlist)"
            )
        return ""


class _Trouble:
    """What keeps MPD from us (`kind`, in words `what` and `why`), since when, how often tried, what was said."""

    def __init__(self, kind: str, since: float, retry_in: float, level: int) -> None:
        self.kind, self.since, self.retry_in, self.level, self.attempts = kind, since, retry_in, level, 1
        self.what = self.why = ""
        self.said, self.next_summary = False, 0.0


def _list_playlist(client: mpd.MPDClient, name: str) -> tuple[list[str], list[str]]:
    """A stored playlist's songs as (those MPD has, those it does not).

    MPD lists a song it has with its tags and one it does not with its file name alone; a URL (a
    radio stream) has no tags either and is MPD's to fetch.
    """
    songs, missing = [], []
    for entry in client.listplaylistinfo(name):
        if len(entry) > 1 or "://" in entry["file"]:
            songs.append(entry["file"])
        else:
            missing.append(entry["file"])
    return songs, missing


def _append(client: mpd.MPDClient, songs: list[str]) -> tuple[list[str], list[str]]:
    """Add songs to the end of the queue, skipping those MPD no longer has: (added, skipped).

    A command list stops at its first failing command and says which one (`[50@offset]`): the songs
    before it are in, so the rest is sent again without the missing one. That covers a song removed
    between listing the playlist and queueing it.
    """
    added: list[str] = []
    skipped: list[str] = []
    rest = songs
    while rest:
        client.command_list_ok_begin()
        for song in rest:
            client.add(song)
        try:
            client.command_list_end()
        except mpd.CommandError as e:
            if e.errno != FailureResponseCode.NO_EXIST or e.offset is None:
                raise
            added += rest[: e.offset]
            skipped.append(rest[e.offset])
            rest = rest[e.offset + 1 :]
        else:
            added += rest
            break
    return added, skipped


def _channel_safe(name: str) -> str:
    """MPD channel names take letters, digits and _-. only (':' separates our fields)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name) or "host"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
