"""What the service records in the history: the glue between the frame loop, the player and `moodbox.history`.

The frame loop tells it each mood decision, lock and privacy change; the player's thread tells it each
switch and each song's fate (`playback.songs`); every error line moodbox logs goes in too. Each call
puts one event on the history writer's queue and returns: nothing here waits for the disk. Never a
frame, a crop or a face: a mood, a number, names of playlists and songs.
"""

from __future__ import annotations

import logging

from moodbox.base.moods import AWAY
from moodbox.history.settings import HistorySettings
from moodbox.history.writer import HistoryWriter
from moodbox.playback.songs import PlaybackEvent, SongEvent, SwitchEvent
from moodbox.vision.mood import Decision

ROOT_LOGGER = "moodbox"


class Recorder:
    """The service's history: start, record from any thread without waiting, close."""

    def __init__(self, settings: HistorySettings, policy: str) -> None:
        self.writer = HistoryWriter(settings)
        self.policy = policy
        self._errors = _ErrorsToHistory(self)
        self._last_mood: str | None = None

    def start(self) -> None:
        self.writer.start()
        logging.getLogger(ROOT_LOGGER).addHandler(self._errors)
        self.writer.record("service", outcome="start")

    def close(self) -> None:
        self.writer.record("service", outcome="stop")
        logging.getLogger(ROOT_LOGGER).removeHandler(self._errors)
        self.writer.close()

    def reconfigure(self, settings: HistorySettings, policy: str) -> None:
        """New `history:` settings (a new file, or off) or a new policy, after a reload."""
        self.policy = policy
        if settings != self.writer.settings:
            self.writer.close()
            self.writer = HistoryWriter(settings)
            self.writer.start()

    # ---- the frame loop -----------------------------------------------------------------------

    def mood(self, decision: Decision, locked: bool) -> None:
        came_back = self._last_mood == AWAY and decision.mood != AWAY
        self._last_mood = decision.mood
        self.writer.record(
            "mood",
            mood=decision.mood,
            confidence=round(float(decision.confidence), 3),
            outcome="away" if decision.mood == AWAY else ("back" if came_back else None),
            detail={"locked": True} if locked else {},
        )

    def lock(self, locked: bool) -> None:
        self.writer.record("lock", outcome="locked" if locked else "unlocked")

    def privacy(self, on: bool) -> None:
        self.writer.record("privacy", outcome="on" if on else "off")

    # ---- the player's thread ------------------------------------------------------------------

    def playback(self, event: PlaybackEvent) -> None:
        if isinstance(event, SwitchEvent):
            self.writer.record(
                "switch",
                mood=event.mood,
                playlist=event.playlist,
                policy=self.policy,
                detail={"why": event.why, "transition": event.transition},
            )
        elif isinstance(event, SongEvent):
            detail = {"elapsed": event.elapsed, "duration": event.duration} | ({"by": event.by} if event.by else {})
            self.writer.record(
                "song",
                mood=event.mood,
                playlist=event.playlist,
                policy=self.policy if event.mood is not None else None,
                file=event.file,
                outcome=event.outcome,
                detail=detail,
            )


class _ErrorsToHistory(logging.Handler):
    """Each error line moodbox logs, as an `error` event (the history's own lines stay out of it)."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__(logging.ERROR)
        self.recorder = recorder

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("moodbox.history"):
            return
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call: its raw text will do
            message = str(record.msg)
        self.recorder.writer.record("error", detail={"message": message, "logger": record.name})
