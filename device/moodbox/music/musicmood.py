"""Where a track sits on valence (sad - happy) and arousal (calm - energetic).

Two steps with a cache between them:

* `TrackAnalyser.analyse` listens to one file once and returns its *evidence*: musicnn's 50 tag
  probabilities and its 200-unit penultimate layer (one invoke gives both), and signal measurements
  that music emotion research ties to arousal and valence (loudness, spectral flux, onset rate,
  tempo, pulse clarity, brightness, mode and key clarity, harmonic change, roughness). Evidence is
  absolute and per file, so it can be cached by path, size and mtime.
* `place` (moodbox.music.moodhead) turns the evidence of a whole library into (valence, arousal)
  pairs: the fitted head in models/music_head.json scores each track, and the scores are spread
  *within the library* (robust z-score, tanh), so a listener who owns only quiet folk still gets a
  calm and a lively end of it; small libraries lean on the dev set's distribution as a prior.

Everything here is numpy; the tagger runs on LiteRT (moodbox.music.tagger).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from moodbox.base.shipped import shipped_model
from moodbox.music import audio, melspec
from moodbox.music.moodhead import (  # noqa: F401  (the scan and the tools reach the head through this module)
    INPUT_CLIP,
    SPREAD,
    ModelError,
    MoodHead,
    _robust_z,
    default_head_path,
    head_input,
    head_inputs,
    head_sha256,
    load_head,
    place,
)
from moodbox.music.tagger import MusicTagger

# Bump EVIDENCE_VERSION whenever the code's evidence changes (features, excerpt): cached evidence of another
# version is recomputed. The shipped tagger's sha256 is part of the version, so a new model file re-analyses
# too. The mood head (models/music_head.json) is not: it reads the cached evidence in `place`, so a new
# head re-places the library without listening to it again.
EVIDENCE_VERSION = "3"  # 3: musicnn's penultimate layer (nn:*), harmonic_change and roughness


def _analysis_version() -> str:
    sidecar = shipped_model("musicnn.tflite").with_suffix(".json")
    try:
        sha = str(json.loads(sidecar.read_text())["sha256"])[:12]
    except (OSError, ValueError, KeyError, TypeError):
        sha = "unknown"  # the analyser refuses such a model anyway, naming the fix
    return f"{EVIDENCE_VERSION}-{sha}"


ANALYSIS_VERSION = _analysis_version()

EXCERPT_S = 30.0  # the middle 30 s of a track: signal features see all of it
TAG_PATCHES = 8  # the tagger hears at most this many 3 s patches, spread evenly over the excerpt (<= 1 s of a core)
CHROMA_FFT = 4096  # 0.26 s at 16 kHz: 3.9 Hz bins, enough to tell semitones apart from about 100 Hz up
BRIGHTNESS_CUTOFF_HZ = 1500.0  # MIRtoolbox's mirbrightness default (Juslin 2000)

# Krumhansl & Kessler (1982) probe-tone key profiles, C major and C minor.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def polyphonic_profile(profile: np.ndarray, decay: float = 0.6, harmonics: int = 6) -> np.ndarray:
    """A key profile as an audio chroma sees it: each note adds its harmonics (Gomez 2006, decay 0.6).

    The 3rd and 6th harmonics fall on the fifth, the 5th on the major third; without this a
    C major chord's harmonics (B, D, G#) make it read as E minor.
    """
    interval = {1: 0, 2: 0, 3: 7, 4: 0, 5: 4, 6: 7}
    return np.sum([decay ** (h - 1) * np.roll(profile, interval[h]) for h in range(1, harmonics + 1)], axis=0)


MAJOR_PROFILE = polyphonic_profile(KK_MAJOR)
MINOR_PROFILE = polyphonic_profile(KK_MINOR)

PENULTIMATE_PREFIX = "nn:"  # evidence keys nn:0 ... nn:199, musicnn's penultimate layer (mean over the patches)


def default_model_path() -> Path:
    """The shipped models/musicnn.tflite, of the source tree or of the install."""
    return shipped_model("musicnn.tflite")


class TrackAnalyser:
    """Listens to one file at a time and returns its raw mood evidence."""

    def __init__(self, model_path: Path | None = None, threads: int = 1) -> None:
        self.tagger = MusicTagger(model_path or default_model_path(), threads=threads)
        # the head places the tracks only after they are all analysed: a missing or damaged one is
        # refused now, before an hour of listening, not at the end (read once per process)
        load_head()
        self.rate = self.tagger.sample_rate
        # one key string per name for every track analysed (a library holds ~330 keys per track in memory)
        self._tag_keys = tuple(sys.intern(f"tag:{label}") for label in self.tagger.labels)
        self._penultimate_keys = tuple(
            sys.intern(f"{PENULTIMATE_PREFIX}{i}") for i in range(self.tagger.penultimate_units)
        )

    def excerpt(self, path: Path) -> np.ndarray:
        """The middle EXCERPT_S seconds of the file (all of it when shorter), mono at the tagger's rate.

        The length comes from the file's header, which a VBR mp3 without a Xing header can overstate;
        when the middle turns out to be past the real end, the excerpt is taken from the start instead.
        """
        length = audio.duration_s(path)
        if length > EXCERPT_S:
            try:
                middle = audio.decode(path, self.rate, offset=(length - EXCERPT_S) / 2, duration=EXCERPT_S)
            except audio.AudioError:
                middle = np.zeros(0, np.float32)
            if middle.size >= EXCERPT_S * self.rate / 2:
                return middle
        # short, or of unknown length (a stream without a duration): at most EXCERPT_S from the start
        return audio.decode(path, self.rate, duration=EXCERPT_S)

    def analyse(self, path: Path) -> dict[str, float]:
        """Evidence for one file: tag probabilities ("tag:<label>") and signal features. Raises AudioError."""
        samples = self.excerpt(Path(path))
        if samples.size < self.rate // 2:
            raise audio.AudioError(f"{path}: shorter than half a second; too short to analyse")
        return self.evidence(samples)

    def evidence(self, samples: np.ndarray) -> dict[str, float]:
        """Evidence for mono samples at the tagger's rate (the part of `analyse` after decoding)."""
        power = melspec.power_spectrogram(samples, self.tagger.n_fft, self.tagger.hop)
        log_mel = melspec.log_mel(power, self.tagger.filterbank)
        spread = spread_patches(log_mel, self.tagger.patch_frames, TAG_PATCHES)
        patch_tags, patch_penultimate = self.tagger.patch_outputs(spread)
        tags, penultimate = patch_tags.mean(axis=0), patch_penultimate.mean(axis=0)
        frame_rate = self.rate / self.tagger.hop
        features = signal_features(samples, power, log_mel, self.rate, frame_rate)
        features.update({key: float(p) for key, p in zip(self._tag_keys, tags, strict=True)})
        # five significant digits: the cache stays small and the head's input moves by under 1e-4 of a unit
        features.update({key: float(f"{x:.5g}") for key, x in zip(self._penultimate_keys, penultimate, strict=True)})
        return features


def spread_patches(log_mel: np.ndarray, frames: int, most: int) -> np.ndarray:
    """At most `most` whole patches of the spectrogram, evenly spread, concatenated back into one spectrogram."""
    n = log_mel.shape[0] // frames
    if n <= most:
        return log_mel
    chosen = np.round(np.linspace(0, n - 1, most)).astype(int)
    return np.concatenate([log_mel[i * frames : (i + 1) * frames] for i in chosen])


def signal_features(
    samples: np.ndarray, power: np.ndarray, log_mel: np.ndarray, rate: int, frame_rate: float
) -> dict[str, float]:
    """The signal measurements, all absolute (normalisation happens in `place`)."""
    onset = onset_envelope(log_mel)
    tempo, clarity = tempo_and_pulse_clarity(onset, frame_rate)
    frames = chroma_frames(samples, rate)
    mode, key_clarity = mode_and_key_clarity(samples, rate, frames)
    return {
        "duration_s": samples.size / rate,
        "loudness_lufs": loudness_lufs(power, rate),
        "spectral_flux": float(onset.mean()),
        "onset_rate": onset_rate(onset, frame_rate),
        "tempo_bpm": tempo,
        "pulse_clarity": clarity,
        "brightness": brightness(power, rate),
        "centroid_hz": spectral_centroid(power, rate),
        "mode": mode,
        "key_clarity": key_clarity,
        "harmonic_change": harmonic_change(frames, rate / (CHROMA_FFT // 2)),
        "roughness": roughness(samples, rate),
    }


# ITU-R BS.1770-4 K-weighting: the standard's pre-filter (high shelf, +4 dB above about 1.5 kHz) and
# RLB high-pass (about 38 Hz), as biquad coefficients (b, a) at 48 kHz.
K_WEIGHTING = (
    ((1.53512485958697, -2.69169618940638, 1.19839281085285), (1.0, -1.69065929318241, 0.73248077421585)),
    ((1.0, -2.0, 1.0), (1.0, -1.99004745483398, 0.99007225036621)),
)
SILENCE_LUFS = -70.0  # BS.1770's absolute gate


def k_weighting_gain(freqs: np.ndarray) -> np.ndarray:
    """|H(f)|^2 of the K-weighting filter (its 48 kHz design evaluated at f; exact enough below 8 kHz)."""
    z = np.exp(-2j * np.pi * np.asarray(freqs, float) / 48000)
    response = np.ones_like(z)
    for b, a in K_WEIGHTING:
        response *= (b[0] + b[1] * z + b[2] * z**2) / (a[0] + a[1] * z + a[2] * z**2)
    return np.abs(response) ** 2


def loudness_lufs(power: np.ndarray, rate: int) -> float:
    """Integrated loudness of the excerpt in LUFS (ITU-R BS.1770-4), from its power spectrogram.

    K-weighted mean square per frame (Parseval over the Hann-windowed frame), 400 ms blocks every
    ~100 ms, the absolute gate at -70 LUFS and the relative gate 10 LU below the gated mean. A
    full-scale 997 Hz sine reads -3.01 LUFS, as the standard specifies; silence reads -70.
    """
    n_fft = 2 * (power.shape[1] - 1)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    one_sided = np.full(power.shape[1], 2.0)
    one_sided[[0, -1]] = 1.0
    weights = one_sided * k_weighting_gain(np.linspace(0, rate / 2, power.shape[1])) / (n_fft * np.sum(window**2))
    frame_ms = power.astype(np.float64) @ weights
    hop_s = n_fft / 2 / rate  # the spectrogram's hop is half its window
    block, step = max(1, round(0.4 / hop_s)), max(1, round(0.1 / hop_s))
    if frame_ms.size <= block:
        blocks = np.array([frame_ms.mean()])
    else:
        blocks = np.lib.stride_tricks.sliding_window_view(frame_ms, block)[::step].mean(axis=1)
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10 * np.log10(blocks)
    kept = blocks[block_lufs > SILENCE_LUFS]
    if kept.size == 0:
        return SILENCE_LUFS
    relative_gate = -0.691 + 10 * math.log10(float(kept.mean())) - 10
    kept = blocks[block_lufs > max(SILENCE_LUFS, relative_gate)]
    return max(SILENCE_LUFS, -0.691 + 10 * math.log10(float(kept.mean())))


def onset_envelope(log_mel: np.ndarray) -> np.ndarray:
    """Spectral flux: the rise of the log-mel spectrum from frame to frame, summed over bands (per band)."""
    if log_mel.shape[0] < 2:
        return np.zeros(1, np.float32)
    rise = np.maximum(np.diff(log_mel, axis=0), 0)
    return rise.mean(axis=1)


def onset_rate(onset: np.ndarray, frame_rate: float) -> float:
    """Note onsets per second: peaks of the flux that stand out of their neighbourhood (event density)."""
    if onset.size < 3:
        return 0.0
    half = max(1, int(round(0.03 * frame_rate)))  # a peak is the maximum within +-30 ms
    window = max(3, int(round(0.5 * frame_rate)))  # compared with the mean of the surrounding 0.5 s
    padded = np.pad(onset, half, mode="edge")
    local_max = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).max(axis=1)
    kernel = np.ones(window) / window
    local_mean = np.convolve(onset, kernel, mode="same")
    threshold = local_mean + 0.5 * float(onset.std())
    peaks = (onset == local_max) & (onset > threshold) & (onset > 0)
    return float(peaks.sum()) * frame_rate / onset.size


def tempo_and_pulse_clarity(onset: np.ndarray, frame_rate: float) -> tuple[float, float]:
    """Tempo (BPM) and pulse clarity from the autocorrelation of the onset envelope.

    The tempo is the lag between 40 and 200 BPM with the strongest autocorrelation, weighted by a
    log-normal preference around 120 BPM (one octave wide), as librosa's and Ellis's beat trackers
    do. Pulse clarity is the normalised autocorrelation at that lag (Lartillot et al. 2008).
    """
    x = onset - onset.mean()
    energy = float(np.dot(x, x))
    min_lag, max_lag = int(frame_rate * 60 / 200), int(frame_rate * 60 / 40)
    if energy <= 0 or x.size <= max_lag + 1:
        return 120.0, 0.0
    spectrum = np.fft.rfft(x, 2 * x.size)
    acf = np.fft.irfft(spectrum.real**2 + spectrum.imag**2)[: max_lag + 1] / energy
    lags = np.arange(min_lag, max_lag + 1)
    bpm = 60 * frame_rate / lags
    prior = np.exp(-0.5 * np.log2(bpm / 120) ** 2)
    best = int(np.argmax(np.maximum(acf[lags], 0) * prior))
    # refine to a fraction of a frame by a parabola through the peak and its neighbours
    lag = float(lags[best])
    if 0 < best < len(lags) - 1:
        a, b, c = acf[lags[best] - 1], acf[lags[best]], acf[lags[best] + 1]
        denominator = a - 2 * b + c
        if denominator < 0:
            lag += 0.5 * (a - c) / denominator
    return float(60 * frame_rate / lag), float(max(acf[lags[best]], 0.0))


def brightness(power: np.ndarray, rate: int) -> float:
    """Share of the spectral energy above 1500 Hz (Juslin 2000; MIRtoolbox's mirbrightness)."""
    freqs = np.linspace(0, rate / 2, power.shape[1])
    total = float(power.sum())
    return float(power[:, freqs >= BRIGHTNESS_CUTOFF_HZ].sum()) / total if total > 0 else 0.0


def spectral_centroid(power: np.ndarray, rate: int) -> float:
    """Power-weighted mean frequency of the excerpt, in Hz."""
    freqs = np.linspace(0, rate / 2, power.shape[1])
    total = float(power.sum())
    return float(power.sum(axis=0) @ freqs) / total if total > 0 else 0.0


def _chroma_stft(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude spectra of CHROMA_FFT-sample Hann frames, half overlapping, and their frequencies."""
    hop = CHROMA_FFT // 2
    if samples.size < CHROMA_FFT:
        samples = np.pad(samples, (0, CHROMA_FFT - samples.size))
    n = 1 + (samples.size - CHROMA_FFT) // hop
    frames = np.lib.stride_tricks.sliding_window_view(samples, CHROMA_FFT)[::hop][:n]
    window = np.hanning(CHROMA_FFT).astype(np.float32)
    return np.abs(np.fft.rfft(frames * window, axis=1)), np.fft.rfftfreq(CHROMA_FFT, 1 / rate)


def chroma_frames(samples: np.ndarray, rate: int) -> np.ndarray:
    """Energy per pitch class (C, C#, ..., B) of each frame, from 100 Hz to 2 kHz, each frame summing to 1."""
    magnitude, freqs = _chroma_stft(samples, rate)
    band = (freqs >= 100) & (freqs <= 2000)
    pitch_class = np.round(12 * np.log2(freqs[band] / 440.0) + 69).astype(int) % 12
    # per-frame normalisation so loud passages do not outvote quiet ones
    mags = magnitude[:, band]
    mags = mags / np.maximum(mags.sum(axis=1, keepdims=True), 1e-9)
    folded = np.zeros((mags.shape[0], 12))
    for k in range(12):
        folded[:, k] = mags[:, pitch_class == k].sum(axis=1)
    return folded


def chroma(samples: np.ndarray, rate: int) -> np.ndarray:
    """Energy per pitch class (C, C#, ..., B) over the excerpt, from 100 Hz to 2 kHz."""
    return np.asarray(chroma_frames(samples, rate).sum(axis=0))


HARMONIC_WINDOW_S = 1.0  # chroma averaged over about a second: a chord, not its notes one by one


def harmonic_change(frames: np.ndarray, frame_rate: float) -> float:
    """How much the harmony moves: mean cosine distance between successive ~1 s chroma averages.

    After Harte, Sandler & Gasser's harmonic change detection (2006), simplified to chroma
    directly: 0 for one chord held throughout, towards 1 for chords that share no pitch class.
    A silent frame has no harmony and does not count.
    """
    width = max(1, int(round(HARMONIC_WINDOW_S * frame_rate)))
    n = frames.shape[0] // width
    if n < 2:
        return 0.0
    blocks = frames[: n * width].reshape(n, width, 12).sum(axis=1)
    norms = np.linalg.norm(blocks, axis=1)
    voiced = norms > 1e-6
    blocks, norms = blocks[voiced], norms[voiced]
    if blocks.shape[0] < 2:
        return 0.0
    unit = blocks / norms[:, None]
    return float(np.mean(1.0 - np.sum(unit[1:] * unit[:-1], axis=1)))


ROUGHNESS_PEAKS = 20  # strongest spectral peaks per frame whose pairs are weighed
ROUGHNESS_FRAMES = 60  # frames spread over the excerpt (enough for a mean; keeps the cost about 10 ms)


def roughness(samples: np.ndarray, rate: int) -> float:
    """Sensory dissonance: Plomp & Levelt's roughness of the strongest partials, per Sethares (1993).

    Every pair of spectral peaks (f1 < f2, amplitudes a1, a2) adds a1 a2 (e^(-3.5 s df) - e^(-5.75 s df))
    with s = 0.24 / (0.021 f1 + 19): most for partials about a quarter of a critical band apart,
    nothing for unisons or wide intervals. Normalised by the frame's peak energy, so it measures
    the kind of sound, not its level; the mean over frames. A minor second beats, a fifth hardly.
    """
    magnitude, freqs = _chroma_stft(samples, rate)
    if magnitude.shape[0] > ROUGHNESS_FRAMES:
        magnitude = magnitude[np.round(np.linspace(0, magnitude.shape[0] - 1, ROUGHNESS_FRAMES)).astype(int)]
    band = (freqs >= 50) & (freqs <= 5000)
    mags, f = magnitude[:, band], freqs[band]
    # local maxima only: one peak per partial, not the bins of its main lobe
    peak = np.zeros_like(mags, dtype=bool)
    peak[:, 1:-1] = (mags[:, 1:-1] > mags[:, :-2]) & (mags[:, 1:-1] >= mags[:, 2:])
    values = []
    for row, is_peak in zip(mags, peak, strict=True):
        index = np.flatnonzero(is_peak)
        if index.size < 2:
            continue
        index = index[np.argsort(row[index])[-ROUGHNESS_PEAKS:]]
        a, fr = row[index].astype(np.float64), f[index]
        energy = float(np.dot(a, a))
        if energy <= 1e-12:
            continue
        low = np.minimum.outer(fr, fr)
        df = np.abs(np.subtract.outer(fr, fr))
        s = 0.24 / (0.021 * low + 19.0)
        d = np.outer(a, a) * (np.exp(-3.5 * s * df) - np.exp(-5.75 * s * df))
        values.append(float(np.triu(d, 1).sum()) / energy)
    return float(np.mean(values)) if values else 0.0


def mode_and_key_clarity(samples: np.ndarray, rate: int, frames: np.ndarray | None = None) -> tuple[float, float]:
    """Mode (best major key correlation minus best minor) and key clarity (best correlation overall).

    Krumhansl-Kessler key finding on the excerpt's chroma, as MIRtoolbox's mirmode and
    mirkeystrength do (Lartillot & Toiviainen 2007), with the profiles widened by the notes'
    harmonics (Gomez 2006): positive mode means major.
    """
    c = chroma(samples, rate) if frames is None else frames.sum(axis=0)
    if not np.any(c > 0):
        return 0.0, 0.0
    major = max(_correlation(c, np.roll(MAJOR_PROFILE, k)) for k in range(12))
    minor = max(_correlation(c, np.roll(MINOR_PROFILE, k)) for k in range(12))
    return float(major - minor), float(max(major, minor))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b)) / denominator if denominator > 0 else 0.0
