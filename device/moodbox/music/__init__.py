"""The music path: audio files in, each track's place on the valence/arousal plane and mood playlists out.

Owns decoding (`audio`), the mel spectrogram and music tagger (`melspec`, `tagger`), the analysis
and placement of a track (`musicmood`; the fitted mood head in `moodhead`), the scan cache
(`scancache`), the library walk and scan (`library`), the plan of one playlist per mood
(`mood_playlists`), the listener's skips and play-throughs moving songs in it (`feedback`: plain
numbers in, handed over by the appliance) and why a track sits where it does (`explain`). It may use
moodbox.base only: writing the playlists into MPD is playback's, the command that does both is the
appliance's.
"""
