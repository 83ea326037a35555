"""Writing the mood playlists into MPD as stored playlists, for `moodbox library playlists`.

Only the playlists moodbox names (`moodbox-<mood>`) are written; a person's own are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import mpd


def known_files(client: mpd.MPDClient) -> set[str]:
    """Every song file in MPD's database, so a playlist never names a file MPD cannot play."""
    return {entry["file"] for entry in client.listall() if "file" in entry}


def write(client: mpd.MPDClient, playlists: Mapping[str, Sequence[str]]) -> None:
    """Replace each stored playlist's contents in one command list.

    MPD runs a command list without serving other clients in between, so the player never reads a
    half-written playlist, and a playlist that exists is never removed (a playing mood keeps it).
    """
    stored = {p["playlist"] for p in client.listplaylists()}
    for name, files in playlists.items():
        client.command_list_ok_begin()
        if name in stored:
            client.playlistclear(name)
        for file in files:
            client.playlistadd(name, file)
        client.command_list_end()
