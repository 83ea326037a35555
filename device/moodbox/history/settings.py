"""The `history:` section of config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class HistorySettings:
    """Where the service keeps its history, and for how long."""

    enabled: bool = True
    # In the service's StateDirectory (systemd/moodbox.service), beside the library scan's cache.
    path: Path = Path("/var/lib/moodbox/history.sqlite")
    keep_days: int = field(default=90, metadata={"min": 1, "max": 3650})  # older events are pruned
