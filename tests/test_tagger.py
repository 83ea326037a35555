"""The music tagger: shipped mel filterbank, numpy spectrogram, and the float16 musicnn model on LiteRT."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from moodbox.music import melspec
from moodbox.music.audio import decode
from moodbox.music.tagger import MusicTagger
from moodbox.vision.emotion import ModelError

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "musicnn.tflite"
MUSIC = Path(__file__).parent / "fixtures" / "music"


@pytest.fixture(scope="module")
def tagger() -> MusicTagger:
    return MusicTagger(MODEL)


def slaney_mel_filterbank(rate: int = 16000, n_fft: int = 512, n_mels: int = 96) -> np.ndarray:
    """An independent Slaney-style mel filterbank (Auditory Toolbox; librosa's default), for the golden test."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asarray(f, float)
        linear = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, linear)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, float)
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))

    fft_freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(rate / 2), n_mels + 2))
    bank = np.zeros((n_mels, fft_freqs.size))
    for i in range(n_mels):
        lower = (fft_freqs - edges[i]) / (edges[i + 1] - edges[i])
        upper = (edges[i + 2] - fft_freqs) / (edges[i + 2] - edges[i + 1])
        bank[i] = np.maximum(0, np.minimum(lower, upper)) * 2.0 / (edges[i + 2] - edges[i])
    return bank


def test_shipped_filterbank_is_slaneys(tagger: MusicTagger) -> None:
    assert tagger.filterbank.shape == (96, 257)
    np.testing.assert_allclose(tagger.filterbank, slaney_mel_filterbank(), atol=1e-6)


def test_filterbank_golden_values(tagger: MusicTagger) -> None:
    bank = tagger.filterbank
    # band 31 is centred on 15 mel = 1000 Hz (Slaney's linear/log knee), which is FFT bin 32 (31.25 Hz apart)
    assert int(np.argmax(bank[:, 32])) == 31 and int(np.argmax(bank[31])) == 32
    assert bank[31, 32] == pytest.approx(0.0267593, abs=1e-6)
    # the top band reaches the Nyquist bin; the low bands are narrow and tall, the high ones wide and low
    assert int(np.flatnonzero(bank[95])[-1]) == 255
    assert bank[0].max() == pytest.approx(0.0319992, abs=1e-6)
    assert bank[95].max() == pytest.approx(0.0039846, abs=1e-6)


def test_1khz_sine_lands_in_its_mel_band(tagger: MusicTagger) -> None:
    t = np.arange(32000) / 16000
    spectrogram = tagger.log_mel((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    assert spectrogram.shape == (1 + 32000 // 256, 96)
    assert int(np.bincount(spectrogram.argmax(axis=1)).argmax()) == 31


def test_power_spectrogram_of_a_bin_centred_sine() -> None:
    """Hann-windowed peak |X| = A N / 4 for a sine of amplitude A on an FFT bin: power (A N / 4)^2."""
    n_fft, amplitude = 512, 0.5
    t = np.arange(16000) / 16000
    freq = 40 * 16000 / n_fft  # bin 40, 1250 Hz
    power = melspec.power_spectrogram((amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32), n_fft, 256)
    middle = power[10:-10]
    assert np.all(middle.argmax(axis=1) == 40)
    np.testing.assert_allclose(middle[:, 40], (amplitude * n_fft / 4) ** 2, rtol=1e-3)


def test_loud_music_stays_finite(tagger: MusicTagger) -> None:
    """musicnn took the log in float16, which overflows to inf on loud music; here it is float32."""
    rng = np.random.default_rng(1)
    loud = np.clip(rng.normal(0, 0.7, 48000), -1, 1).astype(np.float32)
    spectrogram = tagger.log_mel(loud)
    assert np.all(np.isfinite(spectrogram))
    mel_power = melspec.power_spectrogram(loud, 512, 256) @ tagger.filterbank.T
    with np.errstate(over="ignore"):
        assert np.isinf(np.float16(10000) * mel_power.astype(np.float16)).any()  # musicnn's float16 overflows


def test_patches_are_3_seconds_and_short_clips_are_repeated() -> None:
    spectrogram = np.arange(400 * 96, dtype=np.float32).reshape(400, 96)
    batch = melspec.patches(spectrogram, 187)
    assert batch.shape == (2, 187, 96)
    np.testing.assert_array_equal(batch[1, 0], spectrogram[187])
    short = melspec.patches(spectrogram[:100], 187)
    assert short.shape == (1, 187, 96)
    np.testing.assert_array_equal(short[0, 100], spectrogram[0])


@pytest.mark.parametrize("name", ["feelings.ogg", "metal_madness.mp3"])
def test_tags_match_the_reference_pipeline(tagger: MusicTagger, name: str) -> None:
    """soundfile + soxr + numpy mel + float16 LiteRT against librosa + the checkpoint graph in TensorFlow."""
    reference = json.loads((MUSIC / "reference_tags.json").read_text())[name]
    tags = tagger.tags(decode(MUSIC / name))
    assert list(tags) == list(reference)
    worst = max(abs(tags[label] - reference[label]) for label in tags)
    assert worst < 0.01, worst


def test_tags_tell_the_fixtures_apart(tagger: MusicTagger) -> None:
    calm = tagger.tags(decode(MUSIC / "feelings.ogg"))
    heavy = tagger.tags(decode(MUSIC / "metal_madness.mp3"))
    assert heavy["metal"] > 3 * calm["metal"]
    assert calm["acoustic"] > heavy["acoustic"]
    assert all(0.0 <= p <= 1.0 for p in (*calm.values(), *heavy.values()))


def test_batch_size_changes_are_handled(tagger: MusicTagger) -> None:
    rng = np.random.default_rng(2)
    spectrogram = rng.uniform(0, 3, (187 * 3, 96)).astype(np.float32)
    three = tagger.patch_tags(spectrogram)
    one = tagger.patch_tags(spectrogram[:187])
    assert three.shape == (3, 50) and one.shape == (1, 50)
    np.testing.assert_allclose(one[0], three[0], atol=1e-5)


def test_missing_sidecar_is_one_line(tmp_path: Path) -> None:
    shutil.copy(MODEL, tmp_path / "musicnn.tflite")
    with pytest.raises(ModelError) as caught:
        MusicTagger(tmp_path / "musicnn.tflite")
    assert "musicnn.json" in str(caught.value) and "\n" not in str(caught.value)


def test_not_a_model_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "musicnn.tflite").write_bytes(b"not a flatbuffer" * 10)
    shutil.copy(MODEL.with_suffix(".json"), tmp_path / "musicnn.json")
    with pytest.raises(ModelError) as caught:
        MusicTagger(tmp_path / "musicnn.tflite")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["feelings.ogg", "metal_madness.mp3"])
def test_penultimate_layer_matches_the_reference_pipeline(tagger: MusicTagger, name: str) -> None:
    """The second output is musicnn's 'penultimate' (bn_dense), against librosa + the checkpoint's own graph."""
    reference = np.array(json.loads((MUSIC / "reference_penultimate.json").read_text())[name])
    tags, penultimate = tagger.patch_outputs(tagger.log_mel(decode(MUSIC / name)))
    assert penultimate.shape == (tags.shape[0], 200) and reference.shape == (200,)
    worst = float(np.abs(penultimate.mean(axis=0) - reference).max())
    assert worst < 0.02 * float(np.ptp(reference)), worst
