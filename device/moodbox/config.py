"""config.yaml into typed, validated objects.

The schema is the dataclasses below: each field's type and metadata say what a
value may be, so the loader can reject a bad value with one line that names the
key path and how to fix it, before any hardware is touched. Relative paths are
resolved against the config file's folder, so a config works from any cwd.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from moodbox.mood import MoodSettings
from moodbox.player import MpdSettings

DEFAULT_PATH = Path("config.yaml")


class ConfigError(ValueError):
    """A config file that cannot be used; the message is one line naming the key and the fix."""


def _range(low: float, high: float) -> dict[str, Any]:
    return {"min": low, "max": high}


@dataclass(frozen=True)
class ModelConfig:
    """The emotion model."""

    path: Path = Path("models/emotion.tflite")
    threads: int = field(default=1, metadata=_range(1, 8))


@dataclass(frozen=True)
class CameraConfig:
    """Where frames come from."""

    source: str = "picamera2"  # picamera2, a V4L2 device index, a video file or a folder of images
    fps: float = field(default=10.0, metadata=_range(0.1, 120))  # frame rate of an image folder
    give_up_after: float = field(default=30.0, metadata=_range(1, 3600))  # seconds without a frame
    analyse_fps: float = field(default=8.0, metadata=_range(0.5, 60))  # frames analysed a second by `run`


@dataclass(frozen=True)
class DetectorConfig:
    """How faces are found and cropped."""

    kind: Literal["haar", "yunet"] = "haar"
    model: Path | None = None  # YuNet ONNX file, needed for kind: yunet
    policy: Literal["largest", "centre"] = "largest"
    scan_width: int = field(default=320, metadata=_range(120, 1920))
    min_face: float = field(default=0.12, metadata=_range(0.02, 1.0))
    full_scan_every: int = field(default=10, metadata=_range(1, 1000))
    crop_margin: float = field(default=0.02, metadata=_range(0.0, 1.0))


@dataclass(frozen=True)
class PlaylistConfig:
    """The stored MPD playlist for each mood ("" = leave the music as it is for that mood)."""

    angry: str = "angry"
    disgust: str = "disgust"
    fear: str = "fear"
    happy: str = "happy"
    sad: str = "sad"
    surprise: str = "surprise"
    neutral: str = "neutral"


@dataclass(frozen=True)
class UpliftConfig:
    """With `policy: uplift`, the playlist played for each mood instead ("" = the mood's own)."""

    angry: str = "neutral"
    disgust: str = "neutral"
    fear: str = "neutral"
    happy: str = ""
    sad: str = "happy"
    surprise: str = ""
    neutral: str = ""


@dataclass(frozen=True)
class GpioConfig:
    """Buttons and LEDs by BCM pin number; leave a pin out to go without that part."""

    skip_button: int | None = field(default=None, metadata=_range(0, 27))
    lock_button: int | None = field(default=None, metadata=_range(0, 27))
    led: int | None = field(default=None, metadata=_range(0, 27))
    rgb_red: int | None = field(default=None, metadata=_range(0, 27))
    rgb_green: int | None = field(default=None, metadata=_range(0, 27))
    rgb_blue: int | None = field(default=None, metadata=_range(0, 27))
    hold_time: float = field(default=1.5, metadata=_range(0.3, 10))  # seconds that make a press a hold
    bounce_time: float = field(default=0.05, metadata=_range(0.0, 1.0))


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    mood: MoodSettings = field(default_factory=MoodSettings)
    mpd: MpdSettings = field(default_factory=MpdSettings)
    playlists: PlaylistConfig = field(default_factory=PlaylistConfig)
    policy: Literal["match", "uplift"] = "match"
    uplift: UpliftConfig = field(default_factory=UpliftConfig)
    gpio: GpioConfig | None = None

    def playlist_for(self) -> dict[str, str]:
        """Mood -> MPD playlist under the chosen policy."""
        own = dataclasses.asdict(self.playlists)
        if self.policy == "match":
            return own
        lifted = dataclasses.asdict(self.uplift)
        return {mood: lifted[mood] or name for mood, name in own.items()}


def load(path: Path | str | None = None) -> Config:
    """Read and validate a config file; None reads ./config.yaml if present, else the defaults."""
    if path is None:
        if not DEFAULT_PATH.is_file():
            return Config()
        path = DEFAULT_PATH
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}; pass --config PATH to a readable file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}; fix the syntax there") from None
    if data is None:
        data = {}
    return _build(Config, data, "", path.resolve().parent)


def _build(cls: Any, data: Any, prefix: str, base: Path) -> Any:
    where = prefix.rstrip(".") or "the top level"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping of keys, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f"did you mean '{prefix}{close[0]}'?" if close else f"known keys: {', '.join(fields)}"
            raise ConfigError(f"unknown config key '{prefix}{key}'; {hint}")
    values = {
        name: _value(hints[name], data[name], f, f"{prefix}{name}", base) for name, f in fields.items() if name in data
    }
    return cls(**values)


def _value(kind: Any, raw: Any, f: dataclasses.Field, key: str, base: Path) -> Any:
    if dataclasses.is_dataclass(kind):
        return _build(kind, raw, f"{key}.", base)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if raw is None:
            return None
        (kind,) = (a for a in typing.get_args(kind) if a is not type(None))
        return _value(kind, raw, f, key, base)
    if origin is typing.Literal:
        choices = typing.get_args(kind)
        if raw not in choices:
            raise ConfigError(f"{key} must be one of {', '.join(map(str, choices))}; got {raw!r}")
        return raw
    if kind is Path:
        if not isinstance(raw, str) or not raw:
            raise ConfigError(f"{key} must be a file path; got {raw!r}")
        p = Path(raw).expanduser()
        return p if p.is_absolute() else base / p
    if kind is bool:
        if not isinstance(raw, bool):
            raise ConfigError(f"{key} must be true or false; got {raw!r}")
        return raw
    if kind in (int, float):
        ok = isinstance(raw, int | float) and not isinstance(raw, bool) and (kind is float or isinstance(raw, int))
        if not ok:
            raise ConfigError(f"{key} must be {'an integer' if kind is int else 'a number'}; got {raw!r}")
        low, high = f.metadata.get("min"), f.metadata.get("max")
        if (low is not None and raw < low) or (high is not None and raw > high):
            raise ConfigError(f"{key} must be between {low} and {high}; got {raw!r}")
        return kind(raw)
    if kind is str:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return str(raw)  # YAML reads `source: 0` as a number
        if not isinstance(raw, str):
            raise ConfigError(f"{key} must be text; got {raw!r}")
        return raw
    raise TypeError(f"config schema: unsupported type {kind!r} for {key}")
