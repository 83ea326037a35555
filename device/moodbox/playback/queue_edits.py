"""Edits of MPD's queue and reads of its stored playlists that never leave the queue cut.

New songs are appended first and only then are the old ones removed ("now": play the first new
song, then drop the old ones; "after the song": drop all but the playing song, so MPD moves on to
the new songs by itself, gaplessly). A failure at any point leaves music playing. Each function
takes a connected python-mpd2 client; `moodbox.playback.player` decides when to call them.

Each is safe to run again after a reply that never came (`MpdConnection.run` retries once on a new
connection, and MPD may have carried out the first try): `requeue` queues afresh and drops whatever came
before, and `NextOnce` skips one song however often it is tried.
"""

from __future__ import annotations

from collections.abc import Iterable

import mpd
from mpd.base import FailureResponseCode


def requeue(client: mpd.MPDClient, songs: list[str], after_song: bool) -> tuple[list[str], list[str]]:
    """Append the new songs, then remove the old ones: (songs queued, songs MPD does not have).

    after_song (and music playing): the playing song stays and MPD moves on to the new songs when
    it ends. Otherwise the first new song plays at once. Nothing is removed before the new songs
    are in, so a failure at any point leaves music in the queue.
    """
    queued, gone = append_songs(client, songs)
    if queued:
        drop_old(client, len(queued), after_song)
    return queued, gone


def load_shuffled(client: mpd.MPDClient, name: str, after_song: bool) -> int:
    """Queue a stored playlist by MPD's own `load` (which skips songs it lacks), shuffled; then as `requeue`.

    For a playlist whose listing python-mpd2 cannot read: no name passes through the client. Returns the
    number of songs queued.
    """
    before = int(client.status().get("playlistlength", 0))
    client.load(name)
    after = int(client.status().get("playlistlength", 0))
    if after > before:
        client.shuffle(f"{before}:{after}")
        drop_old(client, after - before, after_song)
    return after - before


def drop_old(client: mpd.MPDClient, new: int, after_song: bool) -> None:
    """Remove the songs queued before the `new` ones at the end (all but a playing song under after_song)."""
    # Read after appending, just before the edit: the playing song can hardly move on in between.
    status = client.status()
    length = int(status.get("playlistlength", 0)) - new  # the old songs, before the new ones
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


class NextOnce:
    """MPD's `next`, skipping one song however often it is run.

    A `next` whose reply was lost may have been carried out (MPD 0.23.12 can leave a command unanswered on a
    busy machine). Run again, it would skip a second song: so each try first reads which song plays, and a
    try that finds another one playing than the try before found has nothing left to do.
    """

    def __init__(self) -> None:
        self._tried_at: str | None = None  # the song playing when `next` was last sent

    def __call__(self, client: mpd.MPDClient) -> None:
        playing = client.status().get("songid", "")
        if self._tried_at is not None and playing != self._tried_at:
            return
        self._tried_at = playing
        client.next()


def list_playlist(client: mpd.MPDClient, name: str) -> tuple[list[str], list[str]]:
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


def append_songs(client: mpd.MPDClient, songs: list[str]) -> tuple[list[str], list[str]]:
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


def existing(client: mpd.MPDClient, names: Iterable[str]) -> set[str]:
    """Which of these stored playlists MPD has, asked one by one with `load NAME 0:0` (it queues nothing).

    Not `listplaylists`: one playlist anywhere whose name is not UTF-8 makes python-mpd2 fail on that
    reply, and the moods would lose their music for someone else's oddly named playlist.
    """
    found = set()
    for name in dict.fromkeys(names):
        try:
            client.load(name, "0:0")
        except mpd.CommandError as e:
            if e.errno != FailureResponseCode.NO_EXIST:
                raise
        else:
            found.add(name)
    return found
