"""Decoding music files: real fixtures, synthetic tones for the resampler, damaged files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from moodbox.music.audio import AudioError, decode, duration_s

MUSIC = Path(__file__).parent / "fixtures" / "music"


def tone(freq: float, rate: int, seconds: float = 2.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def level_db(samples: np.ndarray, amplitude: float = 0.5) -> float:
    """Level of a (resampled) tone relative to `amplitude`, away from the edges."""
    middle = samples[len(samples) // 4 : -len(samples) // 4]
    return 20 * np.log10(np.sqrt(2) * middle.std() / amplitude + 1e-12)


@pytest.mark.parametrize("name", ["feelings.ogg", "metal_madness.mp3"])
def test_real_music_decodes_to_16k_mono_float32(name: str) -> None:
    samples = decode(MUSIC / name)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.size - 6 * 16000) <= 16  # 6 s excerpts
    assert np.all(np.isfinite(samples))
    assert 0.05 < float(np.sqrt(np.mean(samples**2))) < 0.7  # music, not silence or noise at full scale


def test_offset_and_duration_read_only_that_part(tmp_path: Path) -> None:
    # one second of each of three tones: the middle second must be the 1 kHz one alone
    rate = 44100
    signal = np.concatenate([tone(300, rate, 1.0), tone(1000, rate, 1.0), tone(3000, rate, 1.0)])
    path = tmp_path / "three.flac"
    soundfile.write(path, signal, rate)
    part = decode(path, 16000, offset=1.0, duration=1.0)
    assert part.size == 16000
    spectrum = np.abs(np.fft.rfft(part[1000:-1000]))
    freqs = np.fft.rfftfreq(part.size - 2000, 1 / 16000)
    assert abs(freqs[np.argmax(spectrum)] - 1000) < 5
    assert duration_s(path) == pytest.approx(3.0)


def test_mp3_seeks(tmp_path: Path) -> None:
    whole = decode(MUSIC / "metal_madness.mp3")
    part = decode(MUSIC / "metal_madness.mp3", offset=2.0, duration=1.0)
    assert part.size == 16000
    # the same music as the whole file at 2 s (mp3 decoders may shift by a few samples)
    best = max(np.corrcoef(part[2000:14000], whole[32000 + d + 2000 : 32000 + d + 14000])[0, 1] for d in range(-64, 65))
    assert best > 0.99


def test_channels_are_averaged_not_summed(tmp_path: Path) -> None:
    """The tags are level-sensitive: a tone on the left channel only comes out at half amplitude (-6 dB)."""
    left = tone(1000, 16000)
    path = tmp_path / "left.wav"
    soundfile.write(path, np.stack([left, np.zeros_like(left)], axis=1), 16000)
    assert level_db(decode(path)) == pytest.approx(-6.02, abs=0.05)


def test_resampler_keeps_the_top_of_the_passband(tmp_path: Path) -> None:
    """A 7.3 kHz tone at 44.1 kHz keeps its level at 16 kHz (musicnn's top mel bands reach 8 kHz)."""
    path = tmp_path / "tone.wav"
    soundfile.write(path, tone(7300, 44100), 44100, subtype="FLOAT")
    assert level_db(decode(path)) == pytest.approx(0.0, abs=0.1)


def test_resampler_removes_what_would_alias(tmp_path: Path) -> None:
    """A 9 kHz tone cannot exist at 16 kHz; a resampler without a roll-off folds it onto 7 kHz."""
    path = tmp_path / "tone.wav"
    soundfile.write(path, tone(9000, 44100), 44100, subtype="FLOAT")
    assert level_db(decode(path)) < -60


def test_corrupt_file_raises_one_line_and_prints_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.mp3"
    path.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4)
    with pytest.raises(AudioError) as caught:
        decode(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "damaged" in message
    assert capfd.readouterr().err == ""  # mpg123's own complaints stay out of the scan's output


def test_missing_file_raises_one_line(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such file"):
        decode(tmp_path / "gone.flac")
    with pytest.raises(AudioError, match="no such file"):
        duration_s(tmp_path / "gone.flac")


def test_text_file_named_flac_raises(tmp_path: Path) -> None:
    path = tmp_path / "notes.flac"
    path.write_text("not audio at all\n")
    with pytest.raises(AudioError) as caught:
        decode(path)
    assert "\n" not in str(caught.value)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_ffmpeg_fallback_averages_channels(tmp_path: Path) -> None:
    """A format libsndfile lacks (AAC in .m4a) goes through ffmpeg, still averaged, not ffmpeg's louder -ac 1 mix."""
    import subprocess

    wav, m4a = tmp_path / "left.wav", tmp_path / "AC:DC -left.m4a"  # not a protocol, not an option
    left = tone(1000, 44100)
    soundfile.write(wav, np.stack([left, np.zeros_like(left)], axis=1), 44100)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", "-b:a", "192k", f"file:{m4a}"], check=True)
    assert level_db(decode(m4a)) == pytest.approx(-6.02, abs=0.3)
