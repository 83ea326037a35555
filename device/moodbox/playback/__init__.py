"""Playback: MPD, steered to the mood's playlist.

Owns the connection to MPD (`connection`: the one connect path, refusals, one moodbox per MPD,
reconnecting), steering its queue (`player`), telling each switch and each song's fate: started,
played to its end, skipped, cut (`songs`), the thread that runs the player off the frame loop
(`worker`) and writing stored playlists (`stored_playlists`). It may use moodbox.base only: it is
told a mood and the playlists to try, and knows nothing of faces or audio analysis.
"""
