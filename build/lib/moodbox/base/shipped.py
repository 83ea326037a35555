"""Where the shipped models are: one answer for the face model and the music tagger alike."""

from __future__ import annotations

import sys
from pathlib import Path

INSTALLED_MODELS = Path("/opt/moodbox/models")  # tools/install.sh's default --prefix


def model_folders() -> list[Path]:
    """Where the shipped models may be, most specific first.

    A repo checkout (an editable install) has models/ beside device/, three levels above this file;
    tools/install.sh puts them in PREFIX/models beside PREFIX/venv, the running venv.
    """
    here = Path(__file__).resolve().parents[3] / "models"
    beside_venv = Path(sys.prefix).resolve().parent / "models"
    return list(dict.fromkeys((here, beside_venv, INSTALLED_MODELS)))


def shipped_model(name: str) -> Path:
    """The shipped model file `name` wherever it was installed; in the install location if it is nowhere."""
    for folder in model_folders():
        if (folder / name).is_file():
            return folder / name
    return INSTALLED_MODELS / name
