"""The moods, the one vocabulary the face path decides in and the music path plays by.

The seven are FER2013's expression classes, in the emotion model's usual output order (its
emotion.json names the order it really has); `AWAY` is the mood of an empty room.
"""

MOODS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
AWAY = "away"
