"""The music path: audio files in, each track's place on the valence/arousal plane and mood playlists out.

Owns decoding (`audio`), the mel spectrogram and music tagger (`melspec`, `tagger`), the analysis
and placement of a track (`musicmood`), the scan cache (`scancache`), the library walk and scan
(`library`) and the plan of one playlist per mood (`mood_playlists`). It may use moodbox.base only:
writing the playlists into MPD is playback's, the command that does both is the appliance's.
"""
