"""What every path stands on: the mood vocabulary, LiteRT model loading and quieting native libraries.

Owns `moods` (the seven moods and "away"), `litert` (the TFLite interpreter and `ModelError`) and
`native` (muting C libraries' own stderr lines). It imports no other moodbox package: vision, music
and playback all use it, and it uses none of them.
"""
