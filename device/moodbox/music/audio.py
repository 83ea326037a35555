"""A music file in, float32 mono samples at the analysis rate out.

soundfile (libsndfile >= 1.1) decodes mp3, ogg/vorbis/opus, flac and wav and seeks into them, so
only the excerpt that is analysed is ever decoded. Anything libsndfile cannot open (m4a/aac, wma,
...) goes through ffmpeg when it is installed. Channels are mixed by averaging, as musicnn's
training pipeline (librosa) did: the tagger's outputs depend on level, and ffmpeg's own `-ac 1`
downmix is 3 dB louder. Resampling uses soxr, whose anti-alias roll-off keeps the 7.5-8 kHz
bands the tagger listens to clean of folded-back energy.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile
import soxr

from moodbox.base.native import native_stderr_silenced

FFMPEG_TIMEOUT_S = 120
# What libsndfile >= 1.1 reads; a failure on one of these is a damaged file, not a missing decoder.
SNDFILE_SUFFIXES = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".caf"}


MAX_CHANNELS = 8  # 7.1 surround; a header claiming more is not music this analysis reads (1024 asked 5.5 GiB)
MAX_RATE = 384_000  # the highest sample rate a music format uses


class AudioError(RuntimeError):
    """A file that cannot be decoded; the message is one line naming the file and the reason."""


def decode(
    path: str | Path, rate: int = 16000, offset: float | None = None, duration: float | None = None
) -> np.ndarray:
    """Samples of `path` from `offset` seconds for `duration` seconds, mono float32 at `rate` Hz.

    Raises AudioError (one line) when the file is missing, unreadable or holds no audio.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    try:
        samples, native_rate = _decode_soundfile(path, offset, duration)
    except AudioError:
        raise  # refused on its header: not a case for ffmpeg
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as e:
        if shutil.which("ffmpeg") is None:
            raise _undecodable(path, e) from None
        samples, native_rate = _decode_ffmpeg(path, offset, duration)
    if samples.size == 0:
        raise AudioError(f"{path}: no audio in the requested range")
    if not np.all(np.isfinite(samples)):
        raise AudioError(f"{path}: decoded to non-finite samples; the file is damaged")
    if native_rate != rate:
        samples = soxr.resample(samples, native_rate, rate, quality="HQ")
    return np.ascontiguousarray(samples, dtype=np.float32)


def duration_s(path: str | Path) -> float:
    """The length of the file in seconds (from its header; ffprobe for formats libsndfile lacks)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    try:
        with _quiet():
            info = soundfile.info(str(path))
        return float(info.frames) / info.samplerate
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as e:
        if shutil.which("ffprobe") is None:
            raise _undecodable(path, e) from None
        try:
            return float(_ffprobe(path).get("duration") or 0.0)
        except ValueError:  # "N/A": a stream that does not know its length
            return 0.0


def _decode_soundfile(path: Path, offset: float | None, duration: float | None) -> tuple[np.ndarray, int]:
    with _quiet(), soundfile.SoundFile(str(path)) as f:
        rate = f.samplerate
        _bounded(path, f.channels, rate)
        if offset:
            f.seek(min(int(offset * rate), f.frames) if f.frames > 0 else int(offset * rate))
        frames = -1 if duration is None else int(round(duration * rate))
        block = f.read(frames, dtype="float32", always_2d=True)
    return block.mean(axis=1), rate


def _ffprobe(path: Path) -> dict[str, str]:
    """The first audio stream's channels, sample_rate and duration (the container's when the stream has none)."""
    entries = "stream=channels,sample_rate,duration:format=duration"
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", entries, "-of", "json"]
    try:
        done = subprocess.run([*cmd, _ffmpeg_url(path)], capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
        probed = json.loads(done.stdout or b"{}")
    except ValueError:  # ffprobe gave up half-way through its answer: its stderr says why
        raise _damaged(path, _ffmpeg_reason(done.stderr) or "no audio stream") from None
    except (subprocess.TimeoutExpired, OSError) as e:
        raise AudioError(f"{path}: ffprobe failed ({_first_line(e)})") from None
    streams = probed.get("streams") or []
    if done.returncode != 0 or not streams:
        raise _damaged(path, _ffmpeg_reason(done.stderr) or "no audio stream")
    stream = dict(streams[0])
    if not stream.get("duration"):
        stream["duration"] = (probed.get("format") or {}).get("duration") or ""
    return stream


def _ffmpeg_url(path: Path) -> str:
    """An explicit file: URL, so a name like "AC:DC.m4a" or "-live.m4a" is not read as a protocol or an option."""
    return "file:" + str(path.absolute())


def _decode_ffmpeg(path: Path, offset: float | None, duration: float | None) -> tuple[np.ndarray, int]:
    """Native rate and channels from ffmpeg as raw float32; the mix and the resampling stay ours."""
    stream = _ffprobe(path)
    channels, rate = int(stream.get("channels") or 0), int(stream.get("sample_rate") or 0)
    if channels < 1 or rate < 1:
        raise _damaged(path, "no audio stream")
    _bounded(path, channels, rate)
    cmd = ["ffmpeg", "-nostdin", "-v", "error"]
    if offset:
        cmd += ["-ss", f"{offset:.3f}"]
    if duration is not None:
        cmd += ["-t", f"{duration:.3f}"]
    cmd += ["-i", _ffmpeg_url(path), "-map", "0:a:0", "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
    except (subprocess.TimeoutExpired, OSError) as e:
        raise AudioError(f"{path}: ffmpeg failed ({_first_line(e)})") from None
    if done.returncode != 0:
        raise _damaged(path, _ffmpeg_reason(done.stderr) or f"ffmpeg exit status {done.returncode}")
    raw = np.frombuffer(done.stdout, dtype="<f4")
    raw = raw[: raw.size - raw.size % channels]
    return raw.reshape(-1, channels).mean(axis=1), rate


def _bounded(path: Path, channels: int, rate: int) -> None:
    """Refuse, before decoding, a header that asks for more than music needs: memory is channels x rate x time."""
    if channels > MAX_CHANNELS or rate > MAX_RATE:
        raise AudioError(
            f"{path}: its header claims {channels} channels at {rate} Hz, more than music has (at most "
            f"{MAX_CHANNELS} channels, {MAX_RATE} Hz); the file is damaged or not music; skipped"
        )


def _quiet() -> contextlib.AbstractContextManager[None]:
    """Mute libsndfile's decoders (mpg123 prints "Note: Illegal Audio-MPEG-Header" on damaged mp3s to fd 2).

    Their failures still reach us as exceptions; Python's own pending stderr output is flushed first.
    """
    sys.stderr.flush()
    return native_stderr_silenced()


def _undecodable(path: Path, error: Exception) -> AudioError:
    """One line: the file, libsndfile's reason without its repetition of the path, and the fix."""
    reason = re.sub(r"^Error opening .*?: ", "", _first_line(error)).rstrip(".")
    if "does not exist" in reason:  # libsndfile's words for an mp3 whose frames it cannot find
        reason = "no audio frames found"
    if path.suffix.lower() in SNDFILE_SUFFIXES:
        return _damaged(path, reason)
    return AudioError(f"{path}: cannot decode ({reason}); install ffmpeg to read {path.suffix or 'such'} files")


def _damaged(path: Path, reason: str) -> AudioError:
    return AudioError(f"{path}: cannot decode ({reason}); the file is damaged or not audio")


def _ffmpeg_reason(stderr: bytes) -> str:
    """ffmpeg's first complaint without its "[mp3 @ 0x55...]" prefix."""
    return re.sub(r"^\[[^\]]*\]\s*", "", _first_line(stderr.decode(errors="replace")) if stderr.strip() else "").rstrip(
        "."
    )


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
