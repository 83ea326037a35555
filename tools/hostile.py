"""A hostile corpus against the real `moodbox` commands (issue 21): no traceback, no hang, no data lost.

    python tools/hostile.py                    # every category; exit status 1 if any input fails
    python tools/hostile.py --only audio --keep --jobs 2 --timeout 60
    python tools/hostile.py --only camera --all   # every input with its output, not only the failing ones

Generates, in a temporary folder and from a fixed seed (nothing is downloaded), at least 300 hostile
inputs in five categories and runs `python -m moodbox ...` on them as a person or a unit would:

* config:  broken config files (every key of config.yaml with a wrong type or value, encodings,
           YAML bombs, deep nesting, config.yaml truncated at 40 offsets) for `classify` (a NUL
           byte in a host, path or playlist name, and a gpio section off a Pi, for `check`);
* audio:   one folder of broken, truncated, huge-headed, silent and oddly named audio files, links
           and FIFOs for one `library scan FOLDER --json` (each file one input);
* camera:  broken clips, images, folders, FIFOs and devices for `watch SOURCE`;
* cache:   `library.cache` naming foreign files, damaged caches, folders, links (and, as root, a
           cache the user `nobody` may not write) for `library scan`;
* mpd:     a real private MPD per input (tools/mpd_sandbox.py) holding a hostile stored playlist,
           song name or permission, for `library scan`, `library playlists` and `check` (skipped
           when mpd is not installed).

Each input is judged: a traceback (or death by a signal), a hang (past --timeout; a command over a
batch of inputs gets four times as long), data lost (a file moodbox must not change, hashed before
and after), a refusal that is not exactly one line naming its cause (stderr, without control
characters), and a bad input silently accepted. A table per category and the totals are printed,
then every failing input with its command and output.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "emotion.tflite"
FACES = ROOT / "tests" / "fixtures" / "faces"
FACE = sorted((FACES / "happy").glob("*.png"))[0]
MUSIC = ROOT / "tests" / "fixtures" / "music"
SEED = 21
CATEGORIES = ("config", "audio", "camera", "cache", "mpd")
KINDS = ("traceback", "hang", "lost", "refusal", "accepted")
BATCH_FACTOR = 4  # a command over a batch of inputs gets this many times --timeout


# ---------------------------------------------------------------------------------------------------
# Running and judging


@dataclass
class Result:
    argv: list[str]
    rc: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool


@dataclass
class Outcome:
    category: str
    name: str
    failures: list[tuple[str, str]] = field(default_factory=list)  # (kind, detail)
    output: str = ""
    counted: bool = True  # False: a whole command's own failure, not one of the inputs

    def fail(self, kind: str, detail: str) -> None:
        self.failures.append((kind, detail))


@dataclass
class Command:
    category: str
    label: str
    argv: list[str]
    check: Callable[[Result], list[Outcome]]
    pre: Callable[[], object] | None = None  # runs just before; what it returns is handed to post
    post: Callable[[object], None] | None = None  # runs after the check, even if the command failed
    timeout_factor: float = 1.0
    then: list[Command] = field(default_factory=list)  # run after this one, in order, in the same job


def moodbox(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "moodbox", *(os.fspath(a) for a in args)]


def execute(argv: list[str], timeout: float) -> Result:
    """Run argv in its own process group; on timeout the whole group is killed."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("JOURNAL_STREAM", None)
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return Result(
        argv,
        proc.returncode,
        out.decode("utf-8", "backslashreplace"),
        err.decode("utf-8", "backslashreplace"),
        time.monotonic() - started,
        timed_out,
    )


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def lines(text: str) -> list[str]:
    """Lines split at \\n only (a \\r or other control character stays visible inside its line)."""
    return [line for line in text.split("\n") if line.strip()]


def crashed(res: Result) -> str | None:
    """Why the process counts as a traceback: a Python traceback or death by a signal."""
    if "Traceback (most recent call last)" in res.stderr or "Traceback (most recent call last)" in res.stdout:
        return "Traceback in the output"
    if res.rc is not None and res.rc < 0 and not res.timed_out:
        return f"killed by signal {-res.rc} ({signal.Signals(-res.rc).name})"
    return None


def whole_failures(out: Outcome, res: Result, timeout: float) -> None:
    """Traceback and hang, for a command judged as one input."""
    why = crashed(res)
    if why:
        out.fail("traceback", why)
    if res.timed_out:
        out.fail("hang", f"still running after {timeout:.0f} s; killed")


def one_line_refusal(out: Outcome, res: Result, names: Iterable[str] = (), cause: str | None = None) -> None:
    """stderr is exactly one line, without control characters, naming one of `names` and matching `cause`."""
    err = lines(res.stderr)
    if len(err) != 1:
        out.fail("refusal", f"exit {res.rc} with {len(err)} lines on stderr (one expected)")
        return
    line = err[0]
    if CONTROL.search(line):
        out.fail("refusal", "raw control characters in the line")
    names = [n for n in names if n]
    if names and not any(n.lower() in line.lower() for n in names):
        out.fail("refusal", f"names none of {names!r}")
    if cause and not re.search(cause, line, re.IGNORECASE):
        out.fail("refusal", f"does not give the cause (/{cause}/)")


def shown(res: Result, limit: int = 1500) -> str:
    def cut(text: str) -> str:
        text = text.strip("\n")
        return text if len(text) <= limit else text[: limit // 2] + "\n  [...]\n" + text[-limit // 2 :]

    parts = [
        f"$ {shlex.join(res.argv)}",
        f"exit {res.rc}, {res.seconds:.1f} s" + (", TIMED OUT" if res.timed_out else ""),
    ]
    if res.stdout.strip():
        parts.append("stdout: " + ascii_visible(cut(res.stdout)))
    if res.stderr.strip():
        parts.append("stderr: " + ascii_visible(cut(res.stderr)))
    return "\n".join(parts)


def ascii_visible(text: str) -> str:
    """Control characters shown as escapes, so the report itself cannot be forged by what it quotes."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def sha256(path: Path) -> str | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return "link:" + os.readlink(path)
    if not stat.S_ISREG(st.st_mode):
        return f"mode:{stat.S_IFMT(st.st_mode):o}"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def printable(text: str) -> str:
    """How moodbox promises to print a name (base/text.py): control and undecodable bytes escaped."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch.isprintable():
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def mkfifo(path: Path) -> bool:
    if not hasattr(os, "mkfifo"):
        return False
    os.mkfifo(path)
    return True


# ---------------------------------------------------------------------------------------------------
# 1. Config files, for `moodbox --config F classify FACE`

ENUMS = {"detector.kind", "detector.policy", "mpd.transition", "mpd.away", "policy"}
BOUNDED = {  # keys with an upper bound or a fixed range: a huge value must be refused
    "model.threads",
    "detector.min_face",
    "detector.crop_margin",
    "mood.min_confidence",
    "mpd.port",
    "gpio.skip_button",
    "gpio.lock_button",
    "gpio.led",
}
CORE = ("model", "camera", "detector", "mood", "mpd", "policy", "gpio")  # two values each; the rest one
NAN, INF = float("nan"), float("inf")


def leaves(tree: object, prefix: str = "") -> Iterable[tuple[str, object]]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [(f"{prefix}{key}", value)]
    else:
        yield prefix.rstrip("."), tree


def hostile_values(key: str, value: object) -> list[tuple[str, object, bool]]:
    """(label, value, must be refused) for a leaf of config.yaml."""
    coordinate = key.startswith(("library.moods.", "library.uplift."))
    if isinstance(value, bool):
        return [("a word", "maybe", True), ("the number 2", 2, True), ("a list", [True], True), ("null", None, False)]
    if isinstance(value, (int, float)):
        huge = 10**30 if isinstance(value, int) else 1.0e308
        return [
            ("a string", "abc", True),
            ("NaN", NAN, True),
            ("inf", INF, True),
            ("-inf", -INF, True),
            ("a list", [1, 2], True),
            ("a dict", {"a": 1}, True),
            ("negative", -5 if coordinate else -1, key != "detector.crop_margin"),
            ("huge", huge, coordinate or key in BOUNDED),
            ("null", None, False),
            ("true", True, False),
            ("zero", 0, False),
        ]
    if value is None:
        return [
            ("a number", 5, key.startswith("library.uplift.")),
            ("a list", [1], True),
            ("a word", "up", key.startswith("library.uplift.")),
            ("a NaN point", {"valence": NAN, "arousal": 0.0}, key.startswith("library.uplift.")),
        ]
    values = [
        ("a list", ["a"], True),
        ("a dict", {"a": "b"}, True),
        ("a number", 5, key in ENUMS),
        ("null", None, False),
        ("empty", "", key in ENUMS),
        ("5000 characters", "x" * 5000, key in ENUMS),
        ("a NUL byte", "a\0b", key in ENUMS),
        ("true", True, key in ENUMS),
    ]
    if key in ENUMS:
        values.append(("an unknown word", "bogus", True))
    return values


def set_leaf(tree: dict, key: str, value: object) -> dict:
    tree = json.loads(json.dumps(tree))  # a deep copy
    node = tree
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return tree


def base_config_text() -> str:
    """config.yaml with the model as an absolute path (the corpus lives elsewhere)."""
    text = (ROOT / "config.yaml").read_text()
    return text.replace("path: models/emotion.tflite", f"path: {MODEL}")


@dataclass
class ConfigCase:
    name: str
    path: Path
    must_refuse: bool
    names: tuple[str, ...] = ()
    cause: str | None = None
    canary: Path | None = None  # must not exist afterwards (a YAML tag that would run code)
    command: str = "classify"  # or "check" (exit 1: a part failed; 2: the config was refused)


def laughs(depth: int = 9, width: int = 9) -> str:
    text = 'a0: &a0 ["lol"]\n'
    for i in range(1, depth + 1):
        text += f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]\n"
    return text


def inline_laughs(depth: int = 9, width: int = 9) -> str:
    """The bomb as one value: a list whose last item refers to every level below it (10**9 strings)."""
    items = ['&a0 ["lol"]'] + [f"&a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth + 1)]
    return "[" + ", ".join(items) + "]"


def config_cases(corpus: Path, rng: random.Random) -> list[ConfigCase]:
    folder = corpus / "config"
    folder.mkdir()
    base_text = base_config_text()
    base = yaml.safe_load(base_text)
    base["gpio"] = {"skip_button": 17, "lock_button": 27, "led": 22, "hold_time": 1.5}
    cases: list[ConfigCase] = []
    n = 0

    def add(name: str, content: bytes | str | None, must_refuse: bool, names=(), cause=None, **kw) -> ConfigCase:
        nonlocal n
        n += 1
        path = folder / f"c{n:03d}.yaml"
        if content is not None:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        case = ConfigCase(name, path, must_refuse, tuple(names), cause, **kw)
        cases.append(case)
        return case

    for key, value in leaves(base):
        options = hostile_values(key, value)
        refused = [o for o in options if o[2]]
        picks = [rng.choice(refused or options)]
        if key.split(".")[0] in CORE:
            picks.append(rng.choice([o for o in options if o is not picks[0]]))
        for label, bad, must in picks:
            text = yaml.safe_dump(set_leaf(base, key, bad), sort_keys=False, allow_unicode=False)
            add(f"{key} = {label}", text, must, names=(key, key.split(".")[-1]))

    def edited(old: str, new: str) -> str:
        assert old in base_text, old
        return base_text.replace(old, new, 1)

    cfg = "config|yaml|utf-8|text"
    add("an unknown top-level key", base_text + "colour: blue\n", True, ["colour"])
    add("a misspelt section", edited("\ndetector:", "\ndetecter:"), True, ["detecter"])
    add("a misspelt key", edited("  min_confidence:", "  min_confidance:"), True, ["min_confidance"])
    add("an unknown nested key", edited("\nmpd:\n", "\nmpd:\n  hostname: x\n"), True, ["hostname"])
    add("a section given twice", base_text + "mood:\n  dwell: 2.0\n", True, ["mood"], "twice|duplicate")
    add("a key given twice", edited("  port: 6600\n", "  port: 6600\n  port: 6601\n"), True, ["port"], "twice|dupl")
    add("an empty file", b"", False, [cfg])
    add("whitespace only", b"  \n\n   \n", False, [cfg])
    add("comments only", b"# nothing here\n# at all\n", False)
    add("4 KB of random bytes", rng.randbytes(4096), True, [], "utf-8|text|binary")
    add("a NUL byte in valid UTF-8", b"model:\n  threads: 1\x00\n", True, [], "nul|control|text|character|yaml")
    add("UTF-16 with a BOM", base_text.encode("utf-16"), True, [], "utf-8|utf-16|text")
    add("UTF-8 with a BOM", "\ufeff" + base_text, False)
    add("a Latin-1 byte", b'mpd:\n  password: "caf\xe9"\n', True, [], "utf-8")
    add("CRLF line ends", base_text.replace("\n", "\r\n"), False)
    add("tabs for indentation", "mpd:\n\tport: 6600\n", True, [], "tab|yaml|indent|line")
    add("an unterminated quote", 'mpd:\n  host: "localhost\n', True, [], "yaml|quot|line|scan")
    add("a top-level list", "- model\n- camera\n", True, [], "mapping|list")
    add("a top-level word", "hello\n", True, [], "mapping|hello")
    add("two YAML documents", base_text + "---\nmpd: {port: 1}\n", True, [], "document|yaml|one")
    add("a section left empty", "camera:\nmood:\n  dwell: 1.0\n", False, ["camera"])
    add("a number as a key", "5: x\n", True, ["5"])
    add("null as a key", "~: x\n", True, ["none", "null", "~", "key"])
    add("a legitimate alias", "mood: &m {dwell: 1.5}\n", False)
    add("one 900 KB line", "mpd:\n  host: " + "a" * 900_000 + "\n", False, ["mpd.host", "host"])
    add("2 MB of comments", ("# " + "x" * 98 + "\n") * 20_000, True, [], "MB|large|big|size")
    add("a list nested 20000 deep", "mpd:\n  host: " + "[" * 20_000 + "]" * 20_000 + "\n", True, [])
    add("a dict nested 5000 deep", "x: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n", True, [])
    add("blocks nested 500 deep", "".join("  " * i + f"k{i}:\n" for i in range(500)) + "  " * 500 + "1\n", True, [])
    add("a billion laughs under an unknown key", laughs() + "\n", True, [])
    add("a billion laughs as mpd.host", f"mpd:\n  host: {inline_laughs()}\n", True, ["mpd.host", "host"])
    add("a billion laughs as a mood's point", f"library:\n  moods:\n    happy: {inline_laughs()}\n", True, ["happy"])
    add("a billion laughs as a playlist", f"playlists:\n  sad: {inline_laughs()}\n", True, ["playlists.sad", "sad"])
    add("a billion laughs as an unknown key's value", f"colour: {inline_laughs()}\n", True, ["colour"])
    # A NUL byte is never part of a path, host, password or playlist name. Run with `check`, which uses every
    # section (camera: the face fixtures; MPD: a closed port, so it fails at once), so what it prints is seen too.
    checked = {key: value for key, value in base.items() if key != "gpio"}
    checked = set_leaf(set_leaf(checked, "camera.source", str(FACES / "happy")), "mpd.port", 9)
    add(
        "a gpio section off a Pi (check)",
        yaml.safe_dump(set_leaf(checked, "gpio", base["gpio"])),
        False,
        command="check",
    )
    for key in ("model.path", "detector.model", "camera.source", "mpd.host", "mpd.password", "playlists.happy"):
        add(
            f"{key} with a NUL byte (check)",
            yaml.safe_dump(set_leaf(checked, key, "x\0y")),
            True,
            [key],
            command="check",
        )
    for key in ("library.cache", "library.music_dir"):
        add(f"{key} with a NUL byte", yaml.safe_dump(set_leaf(base, key, "/tmp/x\0y")), True, [key])
    add("a billion laughs merged into a section", laughs(6, 9) + "mood:\n  <<: *a6\n", True, [])
    canary = folder / "CANARY-code-ran"
    add(
        "a python/object tag that would run code",
        f"mpd:\n  host: !!python/object/apply:os.system ['touch {canary}']\n",
        True,
        [],
        canary=canary,
    )
    add("two buttons on one pin", yaml.safe_dump(set_leaf(base, "gpio.led", 17)), True, ["17", "pin"])
    add("the shipped model's json missing", yaml.safe_dump(set_leaf(base, "model.path", str(folder))), True, [])
    fifo = add("a FIFO", None, True, [], "fifo|pipe|regular|not a file")
    if not mkfifo(fifo.path):
        cases.remove(fifo)
    add("a folder", None, True, [], "folder|directory|regular|not a file")
    cases[-1].path.mkdir()
    cases.append(ConfigCase("/dev/zero", Path("/dev/zero"), True, (), "regular|MB|text|device|not a file"))
    add("a path that does not exist", None, True, [], "not found|no such|exist")

    raw = base_text.encode()
    for i in range(40):
        cut = 1 + (len(raw) - 2) * i // 39
        add(f"config.yaml cut at byte {cut} of {len(raw)}", raw[:cut], False)
    return cases


def config_commands(corpus: Path, rng: random.Random) -> list[Command]:
    commands = []
    for case in config_cases(corpus, rng):

        def check(res: Result, case: ConfigCase = case) -> list[Outcome]:
            out = Outcome("config", case.name, output=shown(res))
            whole_failures(out, res, TIMEOUT)
            if res.timed_out:
                return [out]
            used = (0, 1) if case.command == "check" else (0,)
            if res.rc not in (*used, 2):
                out.fail("refusal", f"exit {res.rc} ({', '.join(map(str, used))} or 2 expected)")
            if res.rc == 2 or res.rc not in used:
                one_line_refusal(out, res, case.names, case.cause)
            elif case.must_refuse:
                out.fail("accepted", f"exit {res.rc}: the bad value was used")
            elif case.command == "check" and lines(res.stderr):
                out.fail("refusal", f"{len(lines(res.stderr))} lines on stderr beside check's one line a part")
            if any(CONTROL.search(line) for line in lines(res.stdout)):
                out.fail("refusal", "raw control characters on stdout")
            if case.canary and case.canary.exists():
                out.fail("lost", f"the YAML tag ran code: {case.canary} exists")
            return [out]

        argv = moodbox("--config", case.path, "classify", FACE) if case.command == "classify" else None
        argv = argv or moodbox("--config", case.path, case.command)
        commands.append(Command("config", case.name, argv, check))
    return commands


# ---------------------------------------------------------------------------------------------------
# 2. Audio files, in one folder for one `library scan FOLDER --json`


def wav_header(channels: int, rate: int, bits: int, data_bytes: int, riff_bytes: int | None = None) -> bytes:
    block = channels * bits // 8
    riff = riff_bytes if riff_bytes is not None else min(36 + data_bytes, 0xFFFFFFFF)
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + (struct.pack("<I", min(data_bytes, 0xFFFFFFFF)))
    )


def write_wav(path: Path, samples: np.ndarray, rate: int = 22050) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())


@dataclass
class AudioInput:
    name: str  # relative to the folder, as moodbox names it (str, surrogateescape for bytes)
    expect: str  # "track": in the JSON; "line": exactly one stderr line; "any": one of the two; "quiet": at most one


def audio_corpus(folder: Path, rng: random.Random) -> list[AudioInput]:
    folder.mkdir()
    inputs: list[AudioInput] = []
    n = 0

    def path_for(label: str, suffix: str) -> tuple[str, Path]:
        nonlocal n
        n += 1
        name = f"h{n:03d}_{label}{suffix}"
        return name, folder / name

    def add(label: str, suffix: str, content: bytes, expect: str) -> None:
        name, path = path_for(label, suffix)
        path.write_bytes(content)
        inputs.append(AudioInput(name, expect))

    for fixture in (MUSIC / "feelings.ogg", MUSIC / "metal_madness.mp3"):
        data = fixture.read_bytes()
        add(f"{fixture.stem}-whole", fixture.suffix, data, "track")
        cuts = sorted({1, 10, 100, 1000} | {max(1, int(len(data) * f)) for f in np.linspace(0.02, 0.98, 18)})
        for cut in cuts:
            add(f"{fixture.stem}-cut{cut}", fixture.suffix, data[:cut], "any")
    for suffix in (".mp3", ".ogg", ".flac", ".wav", ".m4a"):
        for size in (17, 4096, 200_000):
            add(f"random{size}", suffix, rng.randbytes(size), "line")
        add("empty", suffix, b"", "line")
    tone = np.zeros(22050)
    add("1024-channels", ".wav", wav_header(1024, 44100, 16, 4_000_000_000) + tone.astype("<i2").tobytes(), "line")
    add("4GB-claimed", ".wav", wav_header(2, 44100, 16, 0xFFFFFFF0) + rng.randbytes(88200), "any")
    add("10MHz", ".wav", wav_header(1, 10_000_000, 16, 2_000_000) + rng.randbytes(20_000), "line")
    add("0-channels", ".wav", wav_header(0, 44100, 16, 1000) + bytes(1000), "line")
    add("0-Hz", ".wav", wav_header(1, 0, 16, 1000) + bytes(1000), "line")
    add("3-bit", ".wav", wav_header(1, 44100, 3, 1000) + bytes(1000), "line")
    add("header-only", ".wav", wav_header(1, 44100, 16, 88200), "line")
    add("riff-size-0", ".wav", wav_header(1, 22050, 16, 44100, riff_bytes=0) + rng.randbytes(44100), "any")
    add("riff-then-junk", ".wav", b"RIFF\xff\xff\xff\xffWAVE" + rng.randbytes(5000), "line")
    t = np.arange(22050 * 20) / 22050
    for label, samples in (
        ("silence-20s", np.zeros_like(t)),
        ("1Hz-tone", 30000 * np.sin(2 * np.pi * 1 * t)),
        ("near-silence", rng.choice([-1, 0, 1]) * np.ones_like(t)),
        ("dc-full-scale", 32767 * np.ones_like(t)),
        ("square-clipped", 32767 * np.sign(np.sin(2 * np.pi * 55 * t))),
        ("white-noise", np.random.default_rng(SEED).normal(0, 8000, t.size)),
    ):
        name, path = path_for(label, ".wav")
        write_wav(path, samples)
        inputs.append(AudioInput(name, "any"))
    garbage = rng.randbytes(3000)
    song = (MUSIC / "feelings.ogg").read_bytes()
    for label, content, expect in (
        ("new\nline", garbage, "line"),
        ("forged\nskipped h999_other.mp3: fine", garbage, "line"),
        ("carriage\rreturn", garbage, "line"),
        ("\x1b[2J\x1b[31mescape", garbage, "line"),
        ("tab\there", garbage, "line"),
        ("rtl\u202eogg.exe", garbage, "line"),
        ("bell\x07del\x7f", garbage, "line"),
        ("good-song\nwith-newline", song, "track"),
        ('quotes "and" spaces', garbage, "line"),
        ("long-" + "x" * 200, garbage, "line"),
    ):
        add(label, ".mp3", content, expect)
    for label, content in ((b"latin1-caf\xe9", song), (b"bad-utf8-\xff\xfe", garbage)):
        n += 1
        raw = f"h{n:03d}_".encode() + label + b".ogg"
        with open(os.path.join(os.fsencode(folder), raw), "wb") as f:
            f.write(content)
        inputs.append(AudioInput(os.fsdecode(raw), "line"))
    add("UPPER", ".MP3", garbage, "line")
    hidden = folder / f".h{n + 1:03d}_hidden.mp3"
    n += 1
    hidden.write_bytes(garbage)
    inputs.append(AudioInput(hidden.name, "quiet"))
    name, path = path_for("a-folder", ".mp3")
    path.mkdir()
    inputs.append(AudioInput(name, "quiet"))
    name, path = path_for("folder-with-garbage", ".ogg")
    path.mkdir()
    (path / "inside.ogg").write_bytes(garbage)
    inputs.append(AudioInput(f"{name}/inside.ogg", "line"))
    name, path = path_for("fifo", ".wav")
    if mkfifo(path):
        inputs.append(AudioInput(name, "quiet"))
    for label, target, expect in (
        ("loop", None, "any"),
        ("broken", "/nonexistent/song.mp3", "line"),
        ("to-dev-zero", "/dev/zero", "quiet"),
        ("to-dev-urandom", "/dev/urandom", "quiet"),
    ):
        name, path = path_for(label, ".mp3")
        os.symlink(target or name, path)
        inputs.append(AudioInput(name, expect))
    name, path = path_for("ping", ".mp3")
    pong = folder / f"h{n + 1:03d}_pong.mp3"
    n += 1
    os.symlink(pong.name, path)
    os.symlink(name, pong)
    inputs += [AudioInput(name, "any"), AudioInput(pong.name, "any")]
    for label, target in (("root", "/"), ("parent", ".."), ("self", "."), ("etc", "/etc")):
        name, path = path_for(f"link-to-{label}", "")
        os.symlink(target, path)
        inputs.append(AudioInput(name, "quiet"))
    name, path = path_for("deep", "")
    deep = path.joinpath(*["d"] * 120)
    deep.mkdir(parents=True)
    (deep / "bottom.mp3").write_bytes(garbage)
    inputs.append(AudioInput(name + "/d" * 120 + "/bottom.mp3", "quiet"))
    return inputs


def tree_hashes(folder: Path) -> dict[str, str | None]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):  # links are not followed
        for name in filenames + dirnames:
            path = Path(dirpath) / name
            found[os.fsdecode(path.relative_to(folder))] = sha256(path)
    return found


def scan_config(path: Path, music: Path, cache: Path) -> Path:
    path.write_text(
        yaml.safe_dump({"model": {"path": str(MODEL)}, "library": {"music_dir": str(music), "cache": str(cache)}})
    )
    return path


def parse_json_lines(out: Outcome, stdout: str) -> list[dict]:
    parsed = []
    for line in lines(stdout):
        try:
            parsed.append(json.loads(line, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c))))
        except ValueError as e:
            out.fail("refusal", f"stdout line is not strict JSON ({e}): {line[:200]!r}")
    return parsed


AUDIO_CAUSE = (
    "damaged|not audio|not music|cannot decode|too short|no audio|not utf-8|link|silence|no such|permission|"
    "cannot read|not a regular"
)


def audio_commands(corpus: Path, rng: random.Random) -> list[Command]:
    folder = corpus / "audio"
    inputs = audio_corpus(folder, rng)
    cfg = scan_config(corpus / "audio.yaml", folder, corpus / "audio-cache" / "library.sqlite")
    before = tree_hashes(folder)

    def check(res: Result, rescan: bool = False) -> list[Outcome]:
        whole = Outcome("audio", "(the scan itself" + (", run again)" if rescan else ")"), counted=False)
        whole.output = shown(res, 3000)
        whole_failures(whole, res, TIMEOUT * BATCH_FACTOR)
        if res.rc != 0 and not res.timed_out:
            whole.fail("refusal", f"exit {res.rc} (0 expected: bad files are skipped)")
        records = parse_json_lines(whole, res.stdout)
        tracks = {r.get("file") for r in records if "file" in r}
        if not records or "tracks" not in records[-1]:
            whole.fail("refusal", "no summary line on stdout")
        err = lines(res.stderr)
        for line in err:
            if CONTROL.search(line):
                whole.fail("refusal", f"raw control characters in {ascii_visible(line)!r}")
        after = tree_hashes(folder)
        lost = [k for k, v in before.items() if after.get(k) != v]
        if lost:
            whole.fail("lost", f"changed or removed: {lost[:5]}")
        if rescan:
            return [whole]
        outcomes = []
        for item in inputs:
            mine = [line for line in err if printable(item.name) in line]
            out = Outcome("audio", printable(item.name), output="\n".join(ascii_visible(m) for m in mine))
            in_json = item.name in tracks
            if len(mine) > 1:
                out.fail("refusal", f"{len(mine)} lines name it (one expected)")
            for line in mine:
                if not re.search(AUDIO_CAUSE, line, re.IGNORECASE):
                    out.fail("refusal", f"the line gives no cause a person can act on (/{AUDIO_CAUSE}/)")
            if item.expect == "track" and not in_json:
                out.fail("refusal", "a playable file is not among the tracks")
            if item.expect == "line" and in_json:
                out.fail("accepted", "placed as a track")
            if item.expect in ("line", "any") and not in_json and not mine and not res.timed_out:
                out.fail("refusal", "neither a track nor a line naming it")
            outcomes.append(out)
        if whole.failures:
            outcomes.append(whole)
        return outcomes

    rescan = Command("audio", "rescan", moodbox("--config", cfg, "library", "scan", folder, "--json"), check)
    rescan.check = lambda res: check(res, rescan=True)
    rescan.timeout_factor = BATCH_FACTOR
    first = Command(
        "audio",
        "scan",
        moodbox("--config", cfg, "library", "scan", folder, "--json"),
        check,
        timeout_factor=BATCH_FACTOR,
        then=[rescan],
    )
    return [first]


# ---------------------------------------------------------------------------------------------------
# 3. Camera sources, for `moodbox watch SOURCE`


@dataclass
class Source:
    name: str
    path: str
    expect: str  # "frames": exit 0 with frames; "refuse": said (one line), never silent; "any"
    cause: str | None = None


def write_clip(path: Path, fourcc: str, frames: int, size: tuple[int, int] = (320, 240)) -> None:
    import cv2

    face = cv2.resize(cv2.imread(str(FACE)), (size[1], size[1]))
    canvas = np.full((size[1], size[0], 3), 90, np.uint8)
    x = (size[0] - size[1]) // 2
    canvas[:, x : x + size[1]] = face
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 15.0, size)
    for _ in range(frames):
        writer.write(canvas)
    writer.release()


def camera_sources(folder: Path, rng: random.Random) -> list[Source]:
    import cv2

    folder.mkdir()
    sources: list[Source] = []
    not_video = "video|image|decode|damaged|read|open|frame"

    def add(name: str, path: Path | str, expect: str, cause: str | None = not_video) -> None:
        sources.append(Source(name, os.fspath(path), expect, cause))

    for suffix, fourcc in ((".avi", "MJPG"), (".mp4", "mp4v")):
        clip = folder / f"good{suffix}"
        write_clip(clip, fourcc, 45)
        add(f"a good {suffix} clip", clip, "frames")
        data = clip.read_bytes()
        for cut in (16, 200, len(data) // 10, len(data) // 3, len(data) // 2, len(data) - 100):
            path = folder / f"cut{cut}{suffix}"
            path.write_bytes(data[:cut])
            add(f"{suffix} clip cut at byte {cut} of {len(data)}", path, "any")
        middle = bytearray(data)
        middle[len(data) // 3 : len(data) // 3 + 4096] = rng.randbytes(4096)
        (folder / f"damaged{suffix}").write_bytes(bytes(middle))
        add(f"{suffix} clip with 4 KB of noise inside", folder / f"damaged{suffix}", "any")
        for size in (0, 100, 100_000):
            path = folder / f"garbage{size}{suffix}"
            path.write_bytes(rng.randbytes(size))
            add(f"{size} random bytes named {suffix}", path, "refuse")
        empty = folder / f"zero-frames{suffix}"
        write_clip(empty, fourcc, 0)
        add(f"a {suffix} clip with 0 frames", empty, "refuse", "0 frames|no frame|empty|frame")
    huge = folder / "8000x7000.avi"
    write_clip(huge, "MJPG", 1, (8000, 7000))
    add("an 8000x7000 Motion-JPEG clip", huge, "refuse", "8000|pixel|large|size|MP")
    png = cv2.imencode(".png", cv2.imread(str(FACE)))[1].tobytes()
    jpg = cv2.imencode(".jpg", cv2.imread(str(FACE)))[1].tobytes()
    for suffix, data in ((".png", png), (".jpg", jpg)):
        good = folder / f"face{suffix}"
        good.write_bytes(data)
        add(f"a single {suffix} image", good, "any")
        for label, content in (
            ("empty", b""),
            ("truncated to half", data[: len(data) // 2]),
            ("truncated to 20 bytes", data[:20]),
            ("header then noise", data[:40] + rng.randbytes(2000)),
        ):
            path = folder / f"{label.replace(' ', '-')}{suffix}"
            path.write_bytes(content)
            add(f"a {label} {suffix}", path, "any" if label == "truncated to half" else "refuse")
    empty_folder = folder / "empty-folder"
    empty_folder.mkdir()
    add("an empty folder", empty_folder, "refuse", "no image|empty|image")
    junk = folder / "junk-images"
    junk.mkdir()
    for i in range(30):
        (junk / f"{i:02d}.{['png', 'jpg', 'bmp', 'webp'][i % 4]}").write_bytes(rng.randbytes(rng.choice([0, 50, 5000])))
    add("a folder of 30 garbage images", junk, "refuse", "image|skip|usable")
    many = folder / "1000-empty-pngs"
    many.mkdir()
    for i in range(1000):
        (many / f"{i:04d}.png").write_bytes(b"")
    add("a folder of 1000 empty PNGs", many, "refuse", "image|skip|usable|empty")
    mixed = folder / "mixed-images"
    mixed.mkdir()
    for i in range(6):
        (mixed / f"{i:02d}.png").write_bytes(png if i % 2 else rng.randbytes(300))
    add("a folder of good and garbage images", mixed, "frames")
    notimages = folder / "text-files"
    notimages.mkdir()
    for i in range(5):
        (notimages / f"note{i}.txt").write_text("hello\n")
    add("a folder of text files", notimages, "refuse", "no image|image")
    fifo_folder = folder / "folder-with-fifo"
    fifo_folder.mkdir()
    (fifo_folder / "01.png").write_bytes(png)
    if mkfifo(fifo_folder / "02.png"):
        add("a folder with a FIFO named 02.png", fifo_folder, "any")
    nested = folder / "only-subfolders"
    (nested / "inner").mkdir(parents=True)
    (nested / "inner" / "face.png").write_bytes(png)
    add("a folder holding only a folder of images", nested, "refuse", "no image|image")
    fifo = folder / "stream.avi"
    if mkfifo(fifo):
        add("a FIFO named .avi", fifo, "refuse", "fifo|pipe|regular|not a (video )?file")
    add("/dev/zero", "/dev/zero", "refuse", "regular|device|not a (video )?file")
    add("/dev/null", "/dev/null", "refuse", "regular|device|not a (video )?file|empty|frame")
    add("a path that does not exist", folder / "nope.mp4", "refuse", "not found|no such|exist")
    add("a name with a newline that does not exist", folder / "new\nline.mp4", "refuse", "not found|no such|exist")
    os.symlink("loop.avi", folder / "loop.avi")
    add("a symlink loop", folder / "loop.avi", "refuse", "link|loop|not found|read|open")
    broken = folder / "broken.avi"
    os.symlink("/nonexistent/clip.avi", broken)
    add("a broken link", broken, "refuse", "not found|no such|link|exist")
    unreadable = folder / "no-read.avi"
    shutil.copy(folder / "good.avi", unreadable)
    unreadable.chmod(0)
    add("a clip with mode 000 (root reads it anyway)", unreadable, "any")
    add("the root folder /proc/self/fd", "/proc/self/fd", "refuse", "image")
    add("camera index 99 (no such camera)", "99", "refuse", "camera|video99|/dev/video")
    add("an empty source string", "", "refuse", None)
    add("~nosuchuser/clip.avi", "~nosuchuser/clip.avi", "refuse", None)
    return sources


def camera_commands(corpus: Path, rng: random.Random) -> list[Command]:
    cfg = corpus / "camera.yaml"
    cfg.write_text(yaml.safe_dump({"model": {"path": str(MODEL)}, "camera": {"give_up_after": 3.0}}))
    commands = []
    for source in camera_sources(corpus / "camera", rng):

        def check(res: Result, source: Source = source) -> list[Outcome]:
            out = Outcome("camera", source.name, output=shown(res))
            whole_failures(out, res, TIMEOUT)
            if res.timed_out:
                return [out]
            if res.rc not in (0, 1, 2):
                out.fail("refusal", f"exit {res.rc} (0, 1 or 2 expected)")
            records = parse_json_lines(out, res.stdout)
            frames = records[-1].get("frames") if records and isinstance(records[-1], dict) else None
            if res.rc != 0:
                names = [printable(source.path), printable(os.path.basename(source.path.rstrip("/")))]
                one_line_refusal(out, res, names if source.path else [], source.cause)
                if source.expect == "frames":
                    out.fail("refusal", "a usable source was refused")
            elif (source.expect == "refuse" or not frames) and not lines(res.stderr):
                out.fail("accepted", f"exit 0 with {frames} frames and nothing said")
            if len(lines(res.stderr)) > 20:
                out.fail("refusal", f"{len(lines(res.stderr))} lines on stderr: not summarised")
            elif source.expect == "frames" and not frames:
                out.fail("refusal", "a usable source gave no frames")
            for line in lines(res.stderr):
                if CONTROL.search(line):
                    out.fail("refusal", "raw control characters on stderr")
                    break
            return [out]

        argv = moodbox("--config", cfg, "watch", source.path)
        commands.append(Command("camera", source.name, argv, check))
    return commands


# ---------------------------------------------------------------------------------------------------
# 4. Scan caches, for `moodbox library scan` with library.cache pointing somewhere hostile


@dataclass
class CacheCase:
    name: str
    cache: Path
    expect: str  # "refuse" | "scan" (exit 0) | "any"
    guarded: list[Path] = field(default_factory=list)  # must be byte-identical afterwards
    cause: str | None = None
    as_nobody: bool = False
    pre: Callable[[], object] | None = None
    post: Callable[[object], None] | None = None


def damage(path: Path, how: str, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    pages = len(data) // page
    if how == "middle page zeroed":
        mid = pages // 2
        data[mid * page : (mid + 1) * page] = bytes(page)
    elif how == "middle page noise":
        mid = pages // 2
        data[mid * page : (mid + 1) * page] = rng.randbytes(page)
    elif how == "cut in half":
        data = data[: len(data) // 2]
    elif how == "header noise":
        data[:100] = rng.randbytes(100)
    elif how == "last page noise":
        data[(pages - 1) * page :] = rng.randbytes(len(data) - (pages - 1) * page)
    path.write_bytes(bytes(data))


def cache_cases(corpus: Path, rng: random.Random, base_cache: Path) -> list[CacheCase]:
    folder = corpus / "cache"
    folder.mkdir()
    cases: list[CacheCase] = []
    foreign = "another program|not ours|not a|recognis|not moodbox|sqlite|database"

    def guarded_file(name: str, content: bytes) -> Path:
        path = folder / name
        path.write_bytes(content)
        Path(f"{path}.lock").write_bytes(b"someone else's lock file\n")
        return path

    text = guarded_file("notes.txt", b"my notes, years of them\n" * 200)
    cases.append(CacheCase("a text file", text, "refuse", [text, Path(f"{text}.lock")], foreign))
    db = folder / "other.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE recipes (name TEXT, body TEXT)")
    con.executemany("INSERT INTO recipes VALUES (?, ?)", [(f"r{i}", "x" * 500) for i in range(100)])
    con.commit()
    con.close()
    Path(f"{db}.lock").write_bytes(b"someone else's lock file\n")
    cases.append(CacheCase("another program's SQLite database", db, "refuse", [db, Path(f"{db}.lock")], foreign))
    song = guarded_file("song.ogg", (MUSIC / "feelings.ogg").read_bytes())
    cases.append(CacheCase("a music file", song, "refuse", [song, Path(f"{song}.lock")], foreign))
    empty_sqlite = folder / "empty-other.sqlite"
    sqlite3.connect(empty_sqlite).execute("PRAGMA user_version = 7").connection.commit()
    cases.append(CacheCase("another program's empty SQLite database", empty_sqlite, "any", [empty_sqlite]))
    link = folder / "link-to-notes.sqlite"
    os.symlink(text, link)
    cases.append(CacheCase("a symlink to a text file", link, "refuse", [text, Path(f"{text}.lock")], foreign))
    dangling = folder / "dangling.sqlite"
    os.symlink(folder / "nowhere" / "x.sqlite", dangling)
    cases.append(CacheCase("a dangling symlink", dangling, "any"))
    a_folder = folder / "a-folder.sqlite"
    a_folder.mkdir()
    cases.append(CacheCase("a folder", a_folder, "refuse", [], "folder|directory|regular|not a"))
    cases.append(CacheCase("a file under a file", text / "library.sqlite", "refuse", [text], "not a directory|folder"))
    cases.append(CacheCase("a folder that does not exist yet", folder / "new" / "deeper" / "library.sqlite", "scan"))
    cases.append(CacheCase("/dev/null", Path("/dev/null"), "refuse", [], "regular|not a|device"))
    fifo = folder / "cache.fifo"
    if mkfifo(fifo):
        cases.append(CacheCase("a FIFO", fifo, "refuse", [], "regular|not a|fifo|pipe"))
    zero = folder / "zero-bytes.sqlite"
    zero.write_bytes(b"")
    cases.append(CacheCase("an empty file", zero, "any"))
    for how in ("middle page zeroed", "middle page noise", "cut in half", "header noise", "last page noise"):
        path = folder / f"damaged-{how.replace(' ', '-')}.sqlite"
        shutil.copy(base_cache, path)
        damage(path, how, rng)
        cases.append(CacheCase(f"our cache, {how}", path, "any", [], "damaged|corrupt|malformed|rebuil|unreadable"))
    held = folder / "held.sqlite"
    shutil.copy(base_cache, held)

    def hold() -> object:
        f = open(f"{held}.lock", "a")  # noqa: SIM115 - held until post
        fcntl.flock(f, fcntl.LOCK_EX)
        return f

    def release(f: object) -> None:
        f.close()  # type: ignore[attr-defined]

    cases.append(
        CacheCase(
            "our cache while another scan holds its lock",
            held,
            "refuse",
            [],
            "another|running|lock",
            pre=hold,
            post=release,
        )
    )
    if os.geteuid() == 0 and shutil.which("setpriv"):
        owned = folder / "root-owned"
        owned.mkdir()
        ro = owned / "library.sqlite"
        shutil.copy(base_cache, ro)
        ro.chmod(0o644)
        cases.append(
            CacheCase(
                "root's read-only cache, run as nobody",
                ro,
                "refuse",
                [ro],
                "permission|read-only|owner|write",
                as_nobody=True,
            )
        )
        closed = folder / "root-folder"
        closed.mkdir(mode=0o755)
        cases.append(
            CacheCase(
                "a new cache in root's folder, run as nobody",
                closed / "library.sqlite",
                "refuse",
                [],
                "permission|write|owner",
                as_nobody=True,
            )
        )
        unread = folder / "unreadable"
        unread.mkdir()
        hidden = unread / "library.sqlite"
        shutil.copy(base_cache, hidden)
        hidden.chmod(0o600)
        cases.append(
            CacheCase(
                "root's cache, mode 600, run as nobody",
                hidden,
                "refuse",
                [hidden],
                "permission|read|owner",
                as_nobody=True,
            )
        )
    return cases


def build_base_cache(corpus: Path) -> Path:
    """A real cache of a dozen tracks (a few SQLite pages) for the damaged copies."""
    music = corpus / "cache-base-music"
    music.mkdir()
    for i in range(6):
        for fixture in (MUSIC / "feelings.ogg", MUSIC / "metal_madness.mp3"):
            shutil.copy(fixture, music / f"{i}-{fixture.name}")
    cache = corpus / "cache-base" / "library.sqlite"
    cfg = scan_config(corpus / "cache-base.yaml", music, cache)
    res = execute(moodbox("--config", cfg, "library", "scan"), TIMEOUT * BATCH_FACTOR)
    if res.rc != 0 or not cache.is_file():
        raise SystemExit(f"could not build a real scan cache to damage:\n{shown(res)}")
    return cache


def cache_commands(corpus: Path, rng: random.Random) -> list[Command]:
    os.chmod(corpus, 0o755)  # the user nobody walks in
    base_cache = build_base_cache(corpus)
    music = corpus / "cache-base-music"  # what the base cache holds: a damaged copy is read, not only opened
    commands = []
    for i, case in enumerate(cache_cases(corpus, rng, base_cache)):
        cfg = scan_config(corpus / f"cache{i:02d}.yaml", music, case.cache)
        hashes = {p: sha256(p) for p in case.guarded}
        argv = moodbox("--config", cfg, "library", "scan", "--json")
        if case.as_nobody:
            argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
            for path in (cfg, music, *music.iterdir()):
                path.chmod(0o755 if path.is_dir() else 0o644)

        def check(res: Result, case: CacheCase = case, hashes: dict = hashes) -> list[Outcome]:
            out = Outcome("cache", case.name, output=shown(res))
            whole_failures(out, res, TIMEOUT)
            changed = [str(p) for p, h in hashes.items() if sha256(p) != h]
            if changed:
                out.fail("lost", f"changed: {changed}")
            if res.timed_out:
                return [out]
            if res.rc != 0:
                one_line_refusal(out, res, [printable(str(case.cache)), case.cache.name], case.cause)
                if case.expect == "scan":
                    out.fail("refusal", "a usable cache path was refused")
            elif case.expect == "refuse":
                out.fail("accepted", "exit 0: the scan went ahead")
            return [out]

        commands.append(Command("cache", case.name, argv, check, pre=case.pre, post=case.post))
    return commands


# ---------------------------------------------------------------------------------------------------
# 5. MPD: hostile stored playlists, for `check` and `library playlists`


@dataclass
class MpdInput:
    name: str
    playlist: bytes | None = None  # a stored playlist of this name ...
    contents: bytes = b""  # ... holding these lines
    song: bytes | None = None  # a song file of this name under music/weird/
    password: str = ""  # MPD wants this password (the config gives none)
    permissions: str | None = None  # what MPD grants a client without a password
    cause: str | None = None  # what a refusal of `library playlists` must say


def mpd_inputs(rng: random.Random) -> list[MpdInput]:
    return [
        MpdInput(
            "a playlist naming a non-UTF-8 file", b"happy", b"weird/caf\xe9.wav\nhappy/happy-1.wav\n", b"caf\xe9.wav"
        ),
        MpdInput("a playlist of files that are gone", b"sad", b"sad/gone-1.wav\nsad/gone-2.wav\n"),
        MpdInput("a playlist of URLs", b"angry", b"http://127.0.0.1:9/stream.mp3\nftp://x/y.ogg\n"),
        MpdInput("a playlist of 5000 entries", b"neutral", b"neutral/neutral-1.wav\n" * 5000),
        MpdInput("an empty playlist", b"surprise", b""),
        MpdInput("a playlist of binary junk", b"fear", rng.randbytes(3000).replace(b"\n", b"") + b"\n"),
        MpdInput("a playlist naming an escape-coded file", b"disgust", b"weird/\x1b[31mred.wav\n", b"\x1b[31mred.wav"),
        MpdInput("a playlist whose name is not UTF-8", b"mix\xff", b"happy/happy-1.wav\n"),
        MpdInput("a playlist with a newline in its name", b"two\nlines", b"happy/happy-1.wav\n"),
        MpdInput("a playlist named with escape codes", b"\x1b[2Jclear", b"happy/happy-1.wav\n"),
        MpdInput("a hand-made moodbox-sad of absolute paths", b"moodbox-sad", b"/etc/passwd\n/dev/zero\n"),
        MpdInput("a 250-byte playlist name", b"p" * 250, b"happy/happy-1.wav\n"),
        MpdInput("a song file whose name is not UTF-8", song=b"bad-\xff\xfe.wav"),
        MpdInput("a song file with a newline in its name", song=b"new\nline.wav"),
        MpdInput("an MPD that wants a password", password="secret", cause="password"),
        MpdInput(
            "an MPD that lets a client only read", password="secret", permissions="read", cause="password|permission"
        ),
    ]


def mpd_commands(corpus: Path, rng: random.Random) -> list[Command]:
    """Each input in a real MPD of its own (tools/mpd_sandbox.py), judged over `library scan`, `library
    playlists` and `check`: no traceback or hang in any, no raw control characters, `library playlists`
    exit 0 or one line (naming the cause, where one is given), `check` one line a part, and a hand-made
    stored playlist byte-identical afterwards."""
    if shutil.which("mpd") is None:
        print("mpd is not installed: the mpd category is skipped", file=sys.stderr)
        return []
    sys.path.insert(0, str(ROOT / "tools"))
    from mpd_sandbox import MpdSandbox

    commands = []
    for i, item in enumerate(mpd_inputs(rng)):
        sandbox = MpdSandbox(songs_per_mood=1, song_seconds=2, password=item.password)
        sandbox.default_permissions = item.permissions
        MPD_SANDBOXES.append(sandbox)
        music, playlists = sandbox.root / "music", sandbox.root / "playlists"
        if item.song is not None:
            (music / "weird").mkdir(exist_ok=True)
            with open(os.path.join(os.fsencode(music / "weird"), item.song), "wb") as f:
                f.write((music / "happy" / "happy-1.wav").read_bytes())
        guarded: dict[bytes, str] = {}
        if item.playlist is not None:
            path = os.path.join(os.fsencode(playlists), item.playlist + b".m3u")
            with open(path, "wb") as f:
                f.write(item.contents)
            if not item.playlist.startswith(b"moodbox-"):
                guarded[path] = hashlib.sha256(item.contents).hexdigest()
        cfg = corpus / f"mpd{i:02d}.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "model": {"path": str(MODEL)},
                    "camera": {"source": str(FACES / "happy")},
                    "mpd": {"host": sandbox.address, "port": sandbox.port, "timeout": 5.0},
                    "library": {"music_dir": str(music), "cache": str(corpus / f"mpd{i:02d}" / "library.sqlite")},
                }
            )
        )
        results: list[Result] = []

        def keep(res: Result, results: list[Result] = results) -> list[Outcome]:
            results.append(res)
            return []

        def judge(
            res: Result, item: MpdInput = item, results: list[Result] = results, guarded=guarded
        ) -> list[Outcome]:
            results.append(res)
            out = Outcome("mpd", item.name, output="\n".join(shown(r, 1500) for r in results))
            for r in results:
                what = " ".join(r.argv[5:])
                why = crashed(r)
                if why:
                    out.fail("traceback", f"{what}: {why}")
                if r.timed_out:
                    out.fail("hang", f"{what}: still running after {TIMEOUT * BATCH_FACTOR:.0f} s")
                for line in lines(r.stdout) + lines(r.stderr):
                    if CONTROL.search(line):
                        out.fail("refusal", f"{what}: raw control characters in {ascii_visible(line)[:160]!r}")
                        break
                if len(r.stdout + r.stderr) > 20_000:
                    out.fail("refusal", f"{what}: {len(r.stdout + r.stderr)} characters of output")
            scan, playlists_run, check = (results + [None, None, None])[:3]
            if scan and not scan.timed_out and scan.rc != 0:
                out.fail("refusal", f"library scan: exit {scan.rc} (0 expected)")
            if playlists_run and not playlists_run.timed_out and playlists_run.rc != 0:
                one_line_refusal(out, playlists_run, (), item.cause)
            elif item.cause and playlists_run and playlists_run.rc == 0:
                out.fail("accepted", "library playlists: exit 0 though MPD refuses it")
            if check and not check.timed_out and check.rc not in (0, 1):
                out.fail("refusal", f"check: exit {check.rc} (0 or 1 expected)")
            for path, digest in guarded.items():
                if sha256(Path(os.fsdecode(path))) != digest:
                    out.fail("lost", "the hand-made playlist was changed or removed")
            return [out]

        def start(sandbox: MpdSandbox = sandbox) -> object:
            sandbox.start()
            return None

        def stop(_: object, sandbox: MpdSandbox = sandbox) -> None:
            sandbox.close()

        scan = Command("mpd", item.name, moodbox("--config", cfg, "library", "scan"), keep, pre=start)
        scan.timeout_factor = BATCH_FACTOR
        scan.then = [
            Command("mpd", item.name, moodbox("--config", cfg, "library", "playlists"), keep),
            Command("mpd", item.name, moodbox("--config", cfg, "check"), judge, post=stop),
        ]
        commands.append(scan)
    return commands


MPD_SANDBOXES: list = []


# ---------------------------------------------------------------------------------------------------
# The run and the report

TIMEOUT = 60.0
BUILDERS = {
    "config": config_commands,
    "audio": audio_commands,
    "camera": camera_commands,
    "cache": cache_commands,
    "mpd": mpd_commands,
}


def run_chain(command: Command, timeout: float, lock: threading.Lock, done: list[Outcome]) -> None:
    token = command.pre() if command.pre else None
    try:
        res = execute(command.argv, timeout * command.timeout_factor)
        outcomes = command.check(res)
    finally:
        if command.post:
            command.post(token)
    with lock:
        done.extend(outcomes)
        for out in outcomes:
            if out.failures:
                print(f"  FAIL {out.category}: {ascii_visible(out.name)[:100]}", file=sys.stderr, flush=True)
    for then in command.then:
        run_chain(then, timeout, lock, done)


def report(outcomes: list[Outcome], categories: list[str], seconds: float, every: bool = False) -> int:
    header = f"{'category':<10}{'inputs':>8}{'failing':>9}" + "".join(f"{k:>11}" for k in KINDS)
    print("\n" + header)
    print("-" * len(header))
    totals = {k: 0 for k in ("inputs", "failing", *KINDS)}
    for category in [*categories, "total"]:
        mine = [o for o in outcomes if category == "total" or o.category == category]
        row = {
            "inputs": sum(o.counted for o in mine),
            "failing": sum(bool(o.failures) for o in mine),
            **{k: sum(any(f[0] == k for f in o.failures) for o in mine) for k in KINDS},
        }
        if category == "total":
            print("-" * len(header))
            totals = row
        print(f"{category:<10}{row['inputs']:>8}{row['failing']:>9}" + "".join(f"{row[k]:>11}" for k in KINDS))
    print(
        f"\n{seconds:.0f} s. 'failing' counts inputs (and whole commands) with any failure; a row may fail in several"
    )
    print("ways. lost: a file that must not change did; accepted: a bad input was used without a word.")
    failing = [o for o in outcomes if o.failures]
    if failing:
        print(f"\n{len(failing)} failing:\n")
    for out in outcomes if every else failing:
        print(f"[{out.category}] {ascii_visible(out.name)[:160]}")
        for kind, detail in out.failures:
            print(f"    {kind}: {ascii_visible(detail)}")
        if out.output:
            print("    " + out.output.replace("\n", "\n    "))
        print()
    return 1 if failing or totals["inputs"] == 0 else 0


def main(argv: list[str] | None = None) -> int:
    global TIMEOUT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=CATEGORIES, action="append", help="run only this category (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the corpus folder and print where it is")
    parser.add_argument("--jobs", type=int, default=2, help="commands run at once (default 2)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per command before it is a hang")
    parser.add_argument("--all", action="store_true", help="list every input with its output, not only failing ones")
    args = parser.parse_args(argv)
    TIMEOUT = args.timeout
    categories = list(args.only or CATEGORIES)
    probe = execute(moodbox("--help"), TIMEOUT)
    if probe.rc != 0:
        print(f"{sys.executable} cannot run moodbox (run this with the venv's python: make hostile)", file=sys.stderr)
        return 2
    corpus = Path(tempfile.mkdtemp(prefix="moodbox-hostile-"))
    started = time.monotonic()
    outcomes: list[Outcome] = []
    try:
        commands: list[Command] = []
        for category in categories:
            print(f"generating {category} ...", file=sys.stderr, flush=True)
            made = BUILDERS[category](corpus, random.Random(f"{SEED}-{category}"))
            commands += made
        print(f"running {len(commands)} commands, {args.jobs} at a time", file=sys.stderr, flush=True)
        lock = threading.Lock()
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            # the batched commands first: they take longest
            for future in [
                pool.submit(run_chain, c, TIMEOUT, lock, outcomes)
                for c in sorted(commands, key=lambda c: -c.timeout_factor)
            ]:
                future.result()
    finally:
        for sandbox in MPD_SANDBOXES:
            sandbox.close()
        if args.keep:
            print(f"corpus kept in {corpus}", file=sys.stderr)
        else:
            for path in corpus.rglob("*"):  # mode 000 and read-only folders must not stop the clean-up
                if not path.is_symlink():
                    with contextlib.suppress(OSError):
                        path.chmod(0o700 if path.is_dir() else 0o600)
            shutil.rmtree(corpus, ignore_errors=True)
    return report(outcomes, categories, time.monotonic() - started, args.all)


if __name__ == "__main__":
    sys.exit(main())
