"""The listener's music as the page shows it: every scanned track on the valence/arousal plane.

Read from the scan cache (read-only, as `moodbox library playlists` reads it): where the last
whole-library scan placed each track, what its analysis found, and the mood points the listener's
skips moved at the last `library playlists`. Nothing is computed here, so the page's process needs
no numpy; it reads again only when the cache file changed.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from moodbox.base.moods import MOODS
from moodbox.music.library import LibrarySettings
from moodbox.music.scancache import CacheError, ScanCache

TOP_TAGS = 5


class LibraryView:
    def __init__(self, settings: LibrarySettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._seen: tuple[float, ...] | None = None
        self._tracks: dict[str, dict[str, Any]] = {}
        self._moved: dict[str, tuple[float, float]] = {}
        self._error = ""

    def points(self) -> dict[str, Any]:
        """Tracks as {file, valence, arousal}; each mood's own and uplift point, and where the listener's skips
        moved its own (`learned`, null where they did not); and why there is nothing to show, if so."""
        self._refresh()
        moods = {
            mood: {
                "point": self.settings.point(mood),
                "uplift": self.settings.uplift_point(mood),
                "learned": self._moved.get(self.settings.playlist(mood)),
            }
            for mood in MOODS
        }
        tracks = [{"file": f, "valence": t["valence"], "arousal": t["arousal"]} for f, t in self._tracks.items()]
        return {"tracks": tracks, "moods": moods, "error": self._error}

    def why(self, file: str) -> dict[str, Any] | None:
        """Where one track sits and the measurements that put it there."""
        self._refresh()
        track = self._tracks.get(file)
        if track is None:
            return None
        evidence = track["evidence"]
        tags = sorted(((k[4:], v) for k, v in evidence.items() if k.startswith("tag:")), key=lambda kv: -kv[1])
        # The signal cues; the tagger's 200 inner units (nn:*) say nothing a person reads.
        measured = {k: round(v, 3) for k, v in evidence.items() if not k.startswith(("tag:", "nn:"))}
        return {
            "file": file,
            "valence": track["valence"],
            "arousal": track["arousal"],
            "tags": [[name, round(p, 3)] for name, p in tags[:TOP_TAGS]],
            "measured": measured,
        }

    def _refresh(self) -> None:
        stamp = self._stamp()
        with self._lock:
            if stamp == self._seen:
                return
            self._seen = stamp
            if not self.settings.cache.is_file():
                self._tracks, self._error = (
                    {},
                    "no scan yet: the nightly scan (sudo systemctl start moodbox-library) fills it",
                )
                return
            try:
                with ScanCache(self.settings.cache, self.settings.music_dir.resolve(), write=False) as cache:
                    places = cache.places()
                    evidence = cache.evidence(places)
                    self._moved = cache.mood_points()
            except CacheError as e:
                self._tracks, self._moved, self._error = {}, {}, str(e)
                return
            self._tracks = {
                f: {"valence": round(v, 3), "arousal": round(a, 3), "evidence": evidence.get(f, {})}
                for f, (v, a) in places.items()
            }
            self._error = "" if places else "the scan placed no music yet; check library.music_dir"

    def _stamp(self) -> tuple[float, ...]:
        stamps = []
        for suffix in ("", "-wal"):
            try:
                stamps.append(os.stat(f"{self.settings.cache}{suffix}").st_mtime_ns)
            except OSError:
                stamps.append(0)
        return tuple(stamps)
