"""config.yaml into typed, validated objects.

The schema is the dataclasses below: each field's type and metadata say what a
value may be, so the loader can reject a bad value with one line that names the
key path and how to fix it, before any hardware is touched. Relative paths are
resolved against the config file's folder, so a config works from any cwd; the
default model is the one installed with moodbox (or the repo's, in a checkout).

The file itself is read defensively: only a regular file of at most 1 MB (never
a FIFO or a device, which would hang), UTF-8 only, duplicate keys refused (YAML
would silently keep the last one), numbers finite.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import reprlib
import stat
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from moodbox.base.errors import Explained
from moodbox.history.settings import HistorySettings
from moodbox.music.library import AUTO, LibrarySettings
from moodbox.playback.connection import MpdSettings
from moodbox.vision.mood import MoodSettings
from moodbox.vision.settings import CameraSettings, DetectorSettings, ModelSettings

DEFAULT_PATH = Path("config.yaml")
MAX_BYTES = 1_000_000  # a commented config is ~5 kB; anything near this is not a config


class ConfigError(Explained, ValueError):
    """A config file that cannot be used; the message is one line naming the key and the fix."""


def _range(low: float, high: float) -> dict[str, Any]:
    return {"min": low, "max": high}


@dataclass(frozen=True)
class PlaylistConfig:
    """The stored MPD playlist for each mood ("" = leave the music as it is for that mood).

    `auto` (the default) plays a playlist named after the mood if MPD has one (a person's own choice,
    and what moodbox asked for before the library could be sorted), else `moodbox-<mood>` from
    `moodbox library playlists`: a new user gets their own music sorted by mood, an existing user
    keeps theirs.
    """

    angry: str = AUTO
    disgust: str = AUTO
    fear: str = AUTO
    happy: str = AUTO
    sad: str = AUTO
    surprise: str = AUTO
    neutral: str = AUTO


# What `uplift.<mood>` named before `auto` existed, so hand-made playlists keep playing: the rest kept their own.
HAND_UPLIFT = {"angry": "neutral", "disgust": "neutral", "fear": "neutral", "sad": "happy"}


@dataclass(frozen=True)
class UpliftConfig:
    """With `policy: uplift`, the playlist played for each mood instead ("" = the mood's own).

    `auto` (the default) tries the hand-made playlist of HAND_UPLIFT (the mood's own where uplift
    leaves it), then `moodbox-<mood>-uplift`, then the mood's own playlists.
    """

    angry: str = AUTO
    disgust: str = AUTO
    fear: str = AUTO
    happy: str = AUTO
    sad: str = AUTO
    surprise: str = AUTO
    neutral: str = AUTO


PIN_KEYS = ("skip_button", "lock_button", "led", "rgb_red", "rgb_green", "rgb_blue")


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

    def __post_init__(self) -> None:
        """Refuse one pin for two parts here, not later as gpiozero's GPIOPinInUse."""
        users: dict[int, str] = {}
        for f in dataclasses.fields(self):
            pin = getattr(self, f.name)
            if f.name in PIN_KEYS and pin is not None:
                if pin in users:
                    raise ConfigError(
                        f"gpio.{users[pin]} and gpio.{f.name} both use pin {pin}; give each part its own pin"
                    )
                users[pin] = f.name


@dataclass(frozen=True)
class ControlConfig:
    """The service's local control socket (`moodbox status`, the web page): a unix socket, never a network port."""

    socket: Path = Path("/run/moodbox/control.sock")  # in the unit's RuntimeDirectory


@dataclass(frozen=True)
class WebConfig:
    """The page on the local network (`moodbox web`, its own process and unit)."""

    enabled: bool = True
    host: str = "0.0.0.0"  # every interface of this machine; the unit keeps it to the local network
    port: int = field(default=8080, metadata=_range(1, 65535))
    password_file: Path = Path("/etc/moodbox/web-password")  # the password's scrypt hash, 0640


@dataclass(frozen=True)
class Config:
    model: ModelSettings = field(default_factory=ModelSettings)
    camera: CameraSettings = field(default_factory=CameraSettings)
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    mood: MoodSettings = field(default_factory=MoodSettings)
    mpd: MpdSettings = field(default_factory=MpdSettings)
    playlists: PlaylistConfig = field(default_factory=PlaylistConfig)
    policy: Literal["match", "uplift"] = "match"
    uplift: UpliftConfig = field(default_factory=UpliftConfig)
    gpio: GpioConfig | None = None
    library: LibrarySettings = field(default_factory=LibrarySettings)
    control: ControlConfig = field(default_factory=ControlConfig)
    web: WebConfig = field(default_factory=WebConfig)
    history: HistorySettings = field(default_factory=HistorySettings)

    def playlist_for(self) -> dict[str, tuple[str, ...]]:
        """Mood -> the stored playlists to try under the chosen policy, best first: the Player plays the first
        MPD has when the mood comes (not now: the nightly scan may write them later). Empty: leave the music."""
        own = {mood: self._own(mood, name) for mood, name in dataclasses.asdict(self.playlists).items()}
        if self.policy == "match":
            return own
        lifted = dataclasses.asdict(self.uplift)
        return {mood: self._lifted(mood, lifted[mood], names) for mood, names in own.items()}

    def _own(self, mood: str, name: str) -> tuple[str, ...]:
        if name == AUTO:
            return (mood, self.library.playlist(mood))  # a person's playlist beats the machine's guess
        return (name,) if name else ()

    def _lifted(self, mood: str, name: str, own: tuple[str, ...]) -> tuple[str, ...]:
        if name != AUTO:
            return (name,) if name else own
        if mood not in HAND_UPLIFT and not own:
            return ()  # uplift leaves this mood as it is, and its own says: leave the music alone
        first = (HAND_UPLIFT[mood],) if mood in HAND_UPLIFT else own[:1]
        return tuple(dict.fromkeys((*first, self.library.uplift_playlist(mood), *own)))


def load(path: Path | str | None = None, *, whole: bool = False) -> Config:
    """Read and validate a config file; None reads ./config.yaml if present, else the defaults.

    `whole` (a reload of a running service) also refuses a file that looks caught in the middle of being
    rewritten: empty, changing size while read, or ending mid-line. Taken as it is, it would be the
    defaults or half a config, and the service would drop `mpd.password` or switch cameras.
    """
    if path is None:
        if not DEFAULT_PATH.is_file():
            return Config()
        path = DEFAULT_PATH
    path = Path(path)
    text = _read_text(path, whole)
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except _DuplicateKey as e:
        raise ConfigError(
            f"{path}: key '{e.key}' appears twice (lines {e.first} and {e.line}); keep one of them"
        ) from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a moodbox config; fix the file") from None
    except ValueError:  # an integer longer than Python's 4300-digit limit
        raise ConfigError(f"{path}: a number in it is too long; fix the file") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}; fix the syntax there") from None
    if data is None:
        if whole:
            raise ConfigError(
                f"config {path} is empty (still being written?); save the whole file, or `{{}}` for all the"
                " defaults, and reload again"
            )
        data = {}
    cfg: Config = _build(Config, data, "", path.resolve().parent)
    expand_user(cfg.camera.source, "camera.source")
    return cfg


def expand_user(value: str, key: str) -> Path:
    """`~/x` or `~user/x` as a path; a user with no account here is a ConfigError, not a RuntimeError."""
    try:
        return Path(value).expanduser()
    except RuntimeError:
        raise ConfigError(f"{key}: no user with a home for {_show(value)}; give the full path") from None


def _read_text(path: Path, whole: bool = False) -> str:
    """The file's text, refusing what would hang (a FIFO, /dev/zero), flood memory or is not UTF-8; `whole`:
    also a file whose size changes while it is read or that ends mid-line (a writer not done with it)."""
    fix = "pass --config PATH to a readable config file"
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}; {fix}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(f"config {path} is not a regular file; {fix}")
    with os.fdopen(fd, "rb") as f:
        try:
            data = f.read(MAX_BYTES + 1)
            size_after = os.fstat(f.fileno()).st_size
        except OSError as e:
            raise ConfigError(f"cannot read config {path}: {e.strerror}; {fix}") from None
    if whole and len(data) <= MAX_BYTES:
        again = "; reload again once it is saved"
        if size_after != len(data):
            raise ConfigError(f"config {path} changed while it was read (still being written?){again}")
        if data.strip() and not data.endswith(b"\n"):
            raise ConfigError(
                f"config {path} ends mid-line (still being written?); end its last line with a newline{again}"
            )
    if len(data) > MAX_BYTES:
        raise ConfigError(f"config {path} is larger than {MAX_BYTES // 1_000_000} MB, so not a moodbox config; {fix}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config {path} is not UTF-8 text (byte {e.start}); save it as UTF-8 (plain text) and try again"
        ) from None


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: object, first: int, line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key, self.first, self.line = key, first, line


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a key given twice in one mapping (YAML itself keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise _DuplicateKey(key, seen[key], line)
            seen[key] = line
        return super().construct_mapping(node, deep)


_SHORT = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 3, 4, 4, 50, 50


def _show(raw: Any) -> str:
    """A value for an error line, cut short: one line stays one short line, and a "billion laughs" of
    YAML aliases is never expanded (reprlib stops at a few levels and items)."""
    text = _SHORT.repr(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def _build(cls: Any, data: Any, prefix: str, base: Path) -> Any:
    where = prefix.rstrip(".") or "the top level"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping of keys, got {_show(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f"did you mean '{prefix}{close[0]}'?" if close else f"known keys: {', '.join(fields)}"
            name = str(key) if len(str(key)) <= 40 else str(key)[:37] + "..."
            raise ConfigError(f"unknown config key '{prefix}{name}'; {hint}")
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
            raise ConfigError(f"{key} must be one of {', '.join(map(str, choices))}; got {_show(raw)}")
        return raw
    if kind is Path:
        if not isinstance(raw, str) or not raw or "\0" in raw:
            raise ConfigError(f"{key} must be a file path; got {_show(raw)}")
        p = expand_user(raw, key)
        return p if p.is_absolute() else base / p
    if kind is bool:
        if not isinstance(raw, bool):
            raise ConfigError(f"{key} must be true or false; got {_show(raw)}")
        return raw
    if kind in (int, float):
        ok = isinstance(raw, int | float) and not isinstance(raw, bool) and (kind is float or isinstance(raw, int))
        if not ok:
            raise ConfigError(f"{key} must be {'an integer' if kind is int else 'a number'}; got {_show(raw)}")
        if not math.isfinite(raw):
            raise ConfigError(f"{key} must be a finite number; got {raw!r}")
        low, high = f.metadata.get("min"), f.metadata.get("max")
        if (low is not None and raw < low) or (high is not None and raw > high):
            raise ConfigError(f"{key} must be between {low} and {high}; got {_show(raw)}")
        return kind(raw)
    if kind is str:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return str(raw)  # YAML reads `source: 0` as a number
        if not isinstance(raw, str):
            raise ConfigError(f"{key} must be text; got {_show(raw)}")
        if any(ch < " " and ch != "\t" for ch in raw):  # a NUL or a newline in a host, a password, a name
            raise ConfigError(f"{key} must be one line of text without control characters; got {_show(raw)}")
        return raw
    raise TypeError(f"config schema: unsupported type {kind!r} for {key}")
