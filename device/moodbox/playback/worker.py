"""The player on a thread of its own, so nothing MPD does can stall the frame loop.

MPD may hang (a frozen process, a stuck NFS library, a full disk) and every
python-mpd2 call then waits for its `mpd.timeout`. Were those calls made from
the frame loop, the watchdog pings, the buttons, the LED and SIGTERM would all
wait with them. So one thread owns the `Player`: the service hands it requests
(follow a mood, skip, new settings) through a queue and reads a `PlayerState`
snapshot the thread publishes after every step, which never blocks.

Errors are kept on this side of the queue:

* a `PlayerError` that is fatal (`AnotherInstance`: another moodbox already
  steers this MPD), raised or kept in the player's `problem`, stops the thread
  and is handed to the service in the snapshot, to end the run with one line;
* any other `PlayerError`, or an unforeseen error from python-mpd2, is handed
  to the player's connection as a refusal: the connection's one refusal policy
  says it once, keeps it as `problem` (the snapshot's too) and tries MPD again
  every `MpdConnection.RETRY_REFUSED` seconds, until MPD answers again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from moodbox.playback.connection import AnotherInstance, MpdSettings, PlayerError, away
from moodbox.playback.player import Player, candidates
from moodbox.playback.songs import PlaybackEvent

log = logging.getLogger(__name__)

Request = Callable[[], None]
PlayerFactory = Callable[[MpdSettings, Mapping[str, str | Sequence[str]]], Player]


def is_fatal(error: PlayerError) -> bool:
    """A PlayerError that must end the run: `AnotherInstance` (another moodbox steers this MPD)."""
    return isinstance(error, AnotherInstance)


@dataclass(frozen=True)
class PlayerState:
    """What the service may know about the player, read without waiting for MPD."""

    address: str
    tried: bool = False  # a first connection attempt has been made
    connected: bool = False
    playlist: str | None = None
    song: str | None = None  # the song heard last, as MPD names it
    last_error: str = ""  # why MPD is unreachable, while it is
    hung: bool = False  # MPD takes connections but answers nothing: restarting it is the fix
    problem: str = ""  # a reachable MPD that refuses us, with the fix, while it does
    fatal: PlayerError | None = None  # ends the run

    @property
    def ok(self) -> bool:
        return self.connected and not self.problem and self.fatal is None

    def describe(self) -> str:
        """One phrase for STATUS= and the log: the playlist, or what is wrong with MPD."""
        if self.fatal is not None:
            return str(self.fatal)
        if self.problem:
            return self.problem
        if self.connected:
            return f"playlist {self.playlist}" if self.playlist else "MPD connected, no mood playlist played yet"
        if not self.tried:
            return f"connecting to MPD at {self.address}"
        if self.hung:
            return f"{away(self.address, self.last_error, hung=True)}; retrying"
        return f"MPD at {self.address} unreachable ({self.last_error or 'no answer'}); retrying"


class PlayerWorker:
    """Runs a `Player` on its own thread; `follow`, `skip` and `reconfigure` return at once."""

    TICK = 0.25  # seconds between polls when no request comes; Player.poll asks MPD every 0.5 s at most

    def __init__(
        self,
        settings: MpdSettings,
        playlists: Mapping[str, str | Sequence[str]],
        make_player: PlayerFactory = Player,
        on_event: Callable[[PlaybackEvent], None] | None = None,
    ) -> None:
        """on_event: told each switch and each song's fate (`playback.songs`), on this worker's thread; it must
        not block (the service's history queues them)."""
        self._make_player = make_player
        self._on_event = on_event
        self._player = self._new_player(settings, playlists)
        self._requests: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self._fatal: PlayerError | None = None
        self.state = PlayerState(address=self._player.address)
        self._thread = threading.Thread(target=self._run, name="moodbox-player", daemon=True)

    # ---- what the service calls (any thread, never blocks) ----------------------------------

    def start(self) -> None:
        self._thread.start()

    def follow(self, mood: str, why: str = "") -> None:
        """Play `mood`'s music; `why` goes with the switch it makes (see `playback.songs.SwitchEvent`)."""
        self._requests.put(lambda: self._player.follow(mood, why))

    def skip(self) -> None:
        self._requests.put(lambda: self._player.skip())

    def pause(self, on: bool) -> None:
        self._requests.put(lambda: self._player.pause(on))

    def reconfigure(self, settings: MpdSettings, playlists: Mapping[str, str | Sequence[str]]) -> None:
        """New `mpd:` settings or playlists, applied without stopping the music where they allow."""
        self._requests.put(lambda: self._reconfigure(settings, dict(playlists)))

    def close(self, timeout: float = 0.5) -> None:
        """Stop the thread; one blocked on a hung MPD is left behind (a daemon) after `timeout`."""
        self._requests.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.info("MPD at %s does not answer; leaving its connection behind", self._player.address)
        else:
            self._player.close()

    # ---- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        request: Request | None = self._player.poll  # connect at once
        try:
            while request is not None and self._fatal is None:
                self._guarded(request)
                self._publish()
                try:
                    request = self._requests.get(timeout=self.TICK)
                except queue.Empty:
                    request = self._player.poll
        finally:
            self._player.close()

    def _guarded(self, request: Request) -> None:
        try:
            request()
        except PlayerError as e:
            if is_fatal(e):
                self._fatal = e
                return
            self._player.mpd.refused(e)
        except Exception as e:  # python-mpd2's protocol errors and anything unforeseen: the music thread lives on
            self._player.mpd.refused(
                PlayerError(
                    f"MPD at {self._player.address} answered with an error ({e}); check mpd.password and MPD's log"
                )
            )

    def _publish(self) -> None:
        p = self._player
        refusal = p.problem  # what the player keeps while MPD refuses us
        if refusal is not None and is_fatal(refusal):
            self._fatal = refusal
        self.state = PlayerState(
            address=p.address,
            tried=True,
            connected=p.connected,
            playlist=p.playlist,
            song=p.song,
            last_error=p.last_error,
            hung=p.hung,
            problem=str(refusal) if refusal is not None else "",
            fatal=self._fatal,
        )

    def _new_player(self, settings: MpdSettings, playlists: Mapping[str, str | Sequence[str]]) -> Player:
        player = self._make_player(settings, playlists)
        if self._on_event is not None:
            player.songs.on_event = self._on_event
        return player

    def _reconfigure(self, settings: MpdSettings, playlists: Mapping[str, str | Sequence[str]]) -> None:
        old = self._player
        mood = old.mood
        before = old.playlists.get(mood) if mood else None
        if _connection(settings) == _connection(old.settings):
            old.settings, old.playlists = settings, {m: candidates(names) for m, names in playlists.items()}
            if mood and playlists.get(mood) != before:
                old.follow(mood, "the config changed")
            return
        log.info("MPD settings changed: connecting to %s", settings.address)
        new = self._new_player(settings, playlists)
        new.playlist = old.playlist if playlists.get(mood or "") == before else None  # same music: left playing
        self._player = new
        old.close()
        if mood:
            new.follow(mood, "the config changed")


def _connection(s: MpdSettings) -> tuple[str, int, str, float]:
    return (s.host, s.port, s.password, s.timeout)
