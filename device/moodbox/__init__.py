"""moodbox: a Raspberry Pi that reads the listener's expression and plays music to fit the mood."""

__version__ = "0.1.0"
