"""Writing the mood playlists into MPD as stored playlists, for `moodbox library playlists`.

Only the playlists moodbox names (`moodbox-<mood>`) are written; a person's own are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import mpd

from moodbox.playback.connection import MpdSettings, close_quietly, open_client
from moodbox.playback.queue_edits import existing

WINDOW = 1000  # songs per `find` reply: a few hundred kB, far below MPD's 8 MB max_output_buffer_size
EVERY_SONG = "(file != '')"


@dataclass
class KnownFiles:
    """The songs in MPD's database, as far as python-mpd2 can read their names."""

    files: set[str] = field(default_factory=set)
    undecodable: int = 0  # songs whose file name is not UTF-8: MPD lists them, python-mpd2 cannot read them


def known_files(settings: MpdSettings, window: int = WINDOW) -> KnownFiles:
    """Every song file in MPD's database, so a playlist never names a file MPD cannot play.

    Asked in windows of `window` songs (`find ... window`): one `listall` of a large library (48,000
    songs with long paths) overflows MPD's output buffer and MPD drops the client. A name that is not
    UTF-8 makes python-mpd2 fail in the middle of a reply, which leaves the connection out of step:
    that window is asked again on a new connection in halves, down to the one song, which is counted
    and left out.
    """
    found = KnownFiles()
    client = open_client(settings)
    try:
        total = int(client.count(EVERY_SONG).get("songs", 0))
        pending = [(start, min(start + window, total)) for start in range(0, total, window)]
        while pending:
            start, end = pending.pop(0)
            try:
                found.files.update(song["file"] for song in client.find(EVERY_SONG, "window", f"{start}:{end}"))
            except UnicodeDecodeError:
                close_quietly(client)
                client = open_client(settings)
                if end - start == 1:
                    found.undecodable += 1
                else:
                    middle = (start + end) // 2
                    pending[:0] = [(start, middle), (middle, end)]
    finally:
        close_quietly(client)
    return found


def write(client: mpd.MPDClient, playlists: Mapping[str, Sequence[str]]) -> None:
    """Replace each stored playlist's contents in one command list.

    MPD runs a command list without serving other clients in between, so the player never reads a
    half-written playlist, and a playlist that exists is never removed (a playing mood keeps it).
    """
    stored = existing(client, playlists)
    for name, files in playlists.items():
        client.command_list_ok_begin()
        if name in stored:
            client.playlistclear(name)
        for file in files:
            client.playlistadd(name, file)
        client.command_list_end()
