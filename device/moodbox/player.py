"""Steering a local MPD server to the playlist of the decided mood (python-mpd2).

Design notes, from how MPD and python-mpd2 behave in practice:

* MPD closes idle client sockets after its `connection_timeout` (60 s by
  default), and a restart drops every client. python-mpd2 then raises
  `ConnectionError("Connection lost while reading line")` on the first call and
  `BrokenPipeError` or "Not connected" on later ones, while still believing it
  is connected. Every command therefore goes through `_run`, which on any
  connection error disconnects cleanly, reconnects once at once (the common
  idle-timeout case), and otherwise backs off (0.5 s doubling to 2 s) without
  ever raising into the frame loop.
* "After the song" is done the MPD way: the queue is cut down to the playing
  song and the new mood's songs are appended behind it, so MPD itself moves on
  when the song ends, gaplessly, with no polling at the boundary.
* Songs are shuffled with recently played ones moved to the back.
* If another client (a phone app, mpc) changes the queue or pauses/stops,
  moodbox stops switching automatically for `yield_for` seconds instead of
  fighting the person.
"""

from __future__ import annotations

import logging
import random
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import mpd

from moodbox.mood import AWAY

log = logging.getLogger(__name__)

Transition = Literal["after_song", "now"]
AwayAction = Literal["keep", "pause", "stop"]
CONNECTION_ERRORS = (mpd.ConnectionError, OSError, socket.timeout, EOFError)


class PlayerError(RuntimeError):
    """MPD is unusable in a way a person must fix (wrong password, missing playlist)."""


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


class Player:
    """Plays the playlist of the current mood on MPD, surviving MPD restarts and dropped sockets."""

    POLL_EVERY = 0.5  # seconds between status polls: quick enough to notice people, never hammering MPD

    def __init__(
        self,
        settings: MpdSettings,
        playlists: Mapping[str, str],
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        self.settings, self.playlists, self._clock = settings, dict(playlists), clock
        self._client = mpd.MPDClient()
        self._client.timeout = settings.timeout
        self._connected = False
        self._ever_connected = False
        self._reconnected = False
        self._retry_at = 0.0
        self._backoff = 0.0
        self._next_poll = 0.0
        self._random = random.Random(seed)
        self._recent: deque[tuple[str, str]] = deque(maxlen=200)  # (songid, file) of songs heard
        self.mood: str | None = None  # the mood the music should follow
        self.playlist: str | None = None  # the playlist moodbox last queued
        self._applied: str | None = None  # the mood whose music (or away action) is in effect
        self._ours: tuple[str, str] | None = None  # (queue version, state) right after our last change
        self._yield_until = -1.0
        self.last_error = ""

    # ---- connection -------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def address(self) -> str:
        s = self.settings
        return s.host if s.host.startswith("/") else f"{s.host}:{s.port}"

    def connect(self) -> bool:
        """Try to connect now; True on success. A failure is remembered and retried with backoff."""
        self._drop()
        try:
            if self.settings.host.startswith("/"):
                self._client.connect(self.settings.host)
            else:
                self._client.connect(self.settings.host, self.settings.port)
            if self.settings.password:
                self._client.password(self.settings.password)
        except mpd.CommandError as e:
            self._drop()
            raise PlayerError(f"MPD refused the password ({e}); set mpd.password to MPD's password") from None
        except CONNECTION_ERRORS as e:
            self._failed(e)
            return False
        if self.last_error:
            log.info("connected to MPD at %s again", self.address)
        # A reconnection (not the first connection) may find a restarted MPD: poll() looks at it afresh.
        self._reconnected = self._ever_connected
        self._connected, self._ever_connected, self._backoff, self.last_error = True, True, 0.0, ""
        return True

    def _drop(self) -> None:
        try:
            self._client.disconnect()
        except (*CONNECTION_ERRORS, mpd.MPDError):
            pass
        self._connected = False

    def _failed(self, error: BaseException) -> None:
        self._drop()
        self.last_error = str(error) or type(error).__name__
        self._backoff = min(max(self._backoff * 2, 0.5), 2.0)
        self._retry_at = self._clock() + self._backoff
        log.warning("MPD at %s unreachable (%s); retrying in %.1f s", self.address, self.last_error, self._backoff)

    def _run(self, command: Callable[[mpd.MPDClient], Any]) -> Any:
        """Run `command(client)`; None if MPD cannot be reached. Never raises a connection error."""
        if not self._connected and (self._clock() < self._retry_at or not self.connect()):
            return None
        try:
            return command(self._client)
        except CONNECTION_ERRORS:
            # A socket MPD closed while we were quiet fails on first use: one new connection, one retry.
            if not self.connect():
                return None
            try:
                return command(self._client)
            except CONNECTION_ERRORS as e:
                self._failed(e)
                return None

    def _do(self, command: Callable[[mpd.MPDClient], Any]) -> bool:
        """Run a command whose reply carries nothing (python-mpd2 returns None); True if MPD took it."""
        return self._run(lambda c: command(c) or True) is not None

    def _status(self) -> dict[str, str] | None:
        return self._run(lambda c: c.status())

    # ---- what the service calls -------------------------------------------------------------

    def follow(self, mood: str) -> None:
        """The mood changed: play its music (or apply the away action) unless a person is in charge."""
        self.mood = mood
        if self._yielding():
            log.info("not switching to %s: someone else changed playback recently", mood)
            return
        self._apply(self.settings.transition)

    def poll(self) -> None:
        """Call often (every frame is fine): reconnects, notices other clients, remembers played songs."""
        now = self._clock()
        if now < self._next_poll:
            return
        self._next_poll = now + self.POLL_EVERY
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

    def skip(self) -> None:
        """Next song (the skip button)."""
        if self._do(lambda c: c.next()):
            self._remember_our_change()

    def recently_played(self) -> list[str]:
        return [file for _, file in self._recent]

    def close(self) -> None:
        self._drop()

    # ---- internals --------------------------------------------------------------------------

    def _yielding(self) -> bool:
        return self._clock() < self._yield_until

    def _yield_to_person(self) -> None:
        log.info("another MPD client changed playback; leaving the music to them for %.0f s", self.settings.yield_for)
        self._yield_until = self._clock() + self.settings.yield_for
        self._applied = self.mood  # their music now; ours again on the next mood change after the pause
        self._ours = None

    def _remember_song(self, status: dict[str, str]) -> None:
        songid = status.get("songid")
        if status.get("state") != "play" or songid is None or (self._recent and self._recent[-1][0] == songid):
            return
        song = self._run(lambda c: c.currentsong()) or {}
        if "file" in song:
            self._recent.append((songid, song["file"]))

    def _apply(self, transition: Transition) -> None:
        mood = self.mood
        if mood is None:
            return
        if mood == AWAY:
            self._apply_away()
            return
        name = self.playlists.get(mood)
        if not name:
            log.info("no playlist for %s; the music stays as it is", mood)
            self._applied = mood
            return
        try:
            songs = self._run(partial(_list_playlist, name=name))
        except mpd.CommandError as e:
            log.error("playlist '%s' for %s: %s; create it in MPD or fix playlists.%s", name, mood, e, mood)
            self._applied = mood
            return
        status = self._status()
        if songs is None or status is None:
            return  # unreachable: poll() applies it once MPD is back
        if not songs:
            log.warning("playlist '%s' for %s is empty; the music stays as it is", name, mood)
            self._applied = mood
            return
        ordered = self._shuffled(songs)
        playing = status.get("state") == "play" and "song" in status
        if transition == "after_song" and playing and self.playlist != name:
            queued = self._queue_after_current(int(status["song"]), int(status.get("playlistlength", 0)), ordered)
        elif self.playlist != name or not playing:
            queued = self._replace_queue(ordered)
        else:
            queued = True
        if queued:
            self.playlist, self._applied = name, mood
            self._remember_our_change()

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

    def _replace_queue(self, songs: list[str]) -> bool:
        def replace(c: mpd.MPDClient) -> bool:
            c.command_list_ok_begin()
            c.clear()
            for song in songs:
                c.add(song)
            c.repeat(1)  # the mood's playlist loops until the mood changes
            c.random(0)
            c.play(0)
            c.command_list_end()
            return True

        return bool(self._run(replace))

    def _queue_after_current(self, current: int, length: int, songs: list[str]) -> bool:
        """Keep only the playing song and queue the new songs behind it: MPD moves on by itself."""

        def requeue(c: mpd.MPDClient) -> bool:
            c.command_list_ok_begin()
            if current + 1 < length:
                c.delete((current + 1, length))
            if current > 0:
                c.delete((0, current))
            for song in songs:
                c.add(song)
            c.repeat(1)
            c.random(0)
            c.command_list_end()
            return True

        return bool(self._run(requeue))

    def _remember_our_change(self) -> None:
        status = self._status()
        if status is not None:
            self._ours = (status.get("playlist", ""), status.get("state", ""))

    def check_playlists(self) -> dict[str, str]:
        """For `moodbox check`: mood -> problem, for playlists that are missing or empty."""
        stored = self._run(lambda c: c.listplaylists())
        if stored is None:
            raise PlayerError(f"MPD at {self.address} is unreachable ({self.last_error}); start MPD or fix mpd.host")
        names = {p["playlist"] for p in stored}
        problems = {}
        for mood, name in self.playlists.items():
            if name not in names:
                problems[mood] = f"playlist '{name}' does not exist in MPD"
            elif not self._run(partial(_list_playlist, name=name)):
                problems[mood] = f"playlist '{name}' is empty"
        return problems


def _list_playlist(client: mpd.MPDClient, name: str) -> list[str]:
    return client.listplaylist(name)
