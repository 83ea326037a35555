"""Today and this week, as the page shows them: the moods over the hours, each mood's share, songs played and skipped.

Read from the service's history (read-only, while the service writes it: WAL). A mood lasts from
its decision to the next one, or to the service's stop, and at most until now; `away` is time
nobody was in view, counted apart from the moods.
"""

from __future__ import annotations

import time
from typing import Any

from moodbox.history.settings import HistorySettings
from moodbox.history.store import HistoryError, HistoryStore

DAY = 86400.0


def summary(settings: HistorySettings, days: int, now: float | None = None) -> dict[str, Any]:
    """The moods of the last `days` days as segments, their shares (seconds) and the songs' fates."""
    now = time.time() if now is None else now
    since = _midnight(now) - (days - 1) * DAY
    if not settings.enabled:
        return {"error": "the history is off (history.enabled: false)", "segments": [], "shares": {}, "songs": {}}
    try:
        with HistoryStore(settings.path, write=False) as store:
            events = store.events(since=since - DAY, kinds=("mood", "service", "song"))
    except (HistoryError, OSError) as e:
        return {"error": str(e), "segments": [], "shares": {}, "songs": {}}
    segments: list[dict[str, Any]] = []
    mood, start = None, since
    songs: dict[str, int] = {}
    for event in events:
        if event.kind == "song":
            if event.t >= since and event.outcome in ("played", "skipped"):
                songs[event.outcome] = songs.get(event.outcome, 0) + 1
            continue
        if mood is not None:
            _add(segments, mood, max(start, since), min(event.t, now))
        mood, start = (event.mood, event.t) if event.kind == "mood" else (None, event.t)  # a stop ends the mood
    if mood is not None:
        _add(segments, mood, max(start, since), now)
    shares: dict[str, float] = {}
    for segment in segments:
        shares[segment["mood"]] = shares.get(segment["mood"], 0.0) + segment["end"] - segment["start"]
    return {"since": since, "now": now, "days": days, "segments": segments, "shares": shares, "songs": songs}


def _add(segments: list[dict[str, Any]], mood: str, start: float, end: float) -> None:
    if end > start:
        segments.append({"mood": mood, "start": round(start, 1), "end": round(end, 1)})


def _midnight(t: float) -> float:
    local = time.localtime(t)
    return time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
