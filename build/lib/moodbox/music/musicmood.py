"""Where a track sits on valence (sad - happy) and arousal (calm - energetic).

Two steps with a cache between them:

* `TrackAnalyser.analyse` listens to one file once and returns its *evidence*: musicnn's 50 tag
  probabilities and a handful of signal measurements that music emotion research has found to
  carry arousal and valence (loudness, spectral flux, onset rate, tempo, pulse clarity, brightness,
  mode). Evidence is absolute and per file, so it can be cached by path, size and mtime.
* `place` turns the evidence of a whole library into (valence, arousal) pairs. Every cue is
  normalised *within the library* (robust z-score), the cues are combined with fixed weights from
  the literature (models/MUSIC_CARD.md cites each), and the sum is mapped to [-1, 1] with tanh.
  Normalising within the library means a listener who owns only quiet folk still gets a calm and
  a lively end of it; for small libraries the statistics lean on fixed priors so that one or two
  tracks still land somewhere sensible.

Everything here is numpy; the tagger runs on LiteRT (moodbox.music.tagger).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from moodbox.base.shipped import shipped_model
from moodbox.music import audio, melspec
from moodbox.music.tagger import MusicTagger

# Bump whenever the evidence changes (features, excerpt, model): cached evidence of another version is recomputed.
ANALYSIS_VERSION = "2"

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

# MSD tags read as mood cues (their log summed probability, per group).
HAPPY_TAGS = ("happy", "party", "catchy", "funk")
SAD_TAGS = ("sad",)
ENERGETIC_TAGS = ("dance", "party", "metal", "heavy metal", "hard rock", "punk", "electro", "House")
CALM_TAGS = ("Mellow", "chill", "chillout", "ambient", "easy listening", "acoustic")
AGGRESSIVE_TAGS = ("metal", "heavy metal", "hard rock", "punk")
TAG_FLOOR = 0.001  # below 0.1 % a tag's probability is noise; keeps the log ratios finite


def default_model_path() -> Path:
    """The shipped models/musicnn.tflite, of the source tree or of the install."""
    return shipped_model("musicnn.tflite")


class TrackAnalyser:
    """Listens to one file at a time and returns its raw mood evidence."""

    def __init__(self, model_path: Path | None = None, threads: int = 1) -> None:
        self.tagger = MusicTagger(model_path or default_model_path(), threads=threads)
        self.rate = self.tagger.sample_rate

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
        tags = self.tagger.patch_tags(spread_patches(log_mel, self.tagger.patch_frames, TAG_PATCHES)).mean(axis=0)
        frame_rate = self.rate / self.tagger.hop
        features = signal_features(samples, power, log_mel, self.rate, frame_rate)
        features.update({f"tag:{label}": float(p) for label, p in zip(self.tagger.labels, tags, strict=True)})
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
    mode, key_clarity = mode_and_key_clarity(samples, rate)
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


def chroma(samples: np.ndarray, rate: int) -> np.ndarray:
    """Energy per pitch class (C, C#, ..., B) over the excerpt, from 100 Hz to 2 kHz."""
    hop = CHROMA_FFT // 2
    if samples.size < CHROMA_FFT:
        samples = np.pad(samples, (0, CHROMA_FFT - samples.size))
    n = 1 + (samples.size - CHROMA_FFT) // hop
    frames = np.lib.stride_tricks.sliding_window_view(samples, CHROMA_FFT)[::hop][:n]
    window = np.hanning(CHROMA_FFT).astype(np.float32)
    magnitude = np.abs(np.fft.rfft(frames * window, axis=1))
    freqs = np.fft.rfftfreq(CHROMA_FFT, 1 / rate)
    band = (freqs >= 100) & (freqs <= 2000)
    pitch_class = np.round(12 * np.log2(freqs[band] / 440.0) + 69).astype(int) % 12
    # per-frame normalisation so loud passages do not outvote quiet ones
    mags = magnitude[:, band]
    mags = mags / np.maximum(mags.sum(axis=1, keepdims=True), 1e-9)
    return np.bincount(pitch_class, weights=mags.sum(axis=0), minlength=12)


def mode_and_key_clarity(samples: np.ndarray, rate: int) -> tuple[float, float]:
    """Mode (best major key correlation minus best minor) and key clarity (best correlation overall).

    Krumhansl-Kessler key finding on the excerpt's chroma, as MIRtoolbox's mirmode and
    mirkeystrength do (Lartillot & Toiviainen 2007), with the profiles widened by the notes'
    harmonics (Gomez 2006): positive mode means major.
    """
    c = chroma(samples, rate)
    if not np.any(c > 0):
        return 0.0, 0.0
    major = max(_correlation(c, np.roll(MAJOR_PROFILE, k)) for k in range(12))
    minor = max(_correlation(c, np.roll(MINOR_PROFILE, k)) for k in range(12))
    return float(major - minor), float(max(major, minor))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b)) / denominator if denominator > 0 else 0.0


# ---------------------------------------------------------------------------------------------
# Placement


def tag_log_ratio(evidence: Mapping[str, float], up: Sequence[str], down: Sequence[str]) -> float:
    """log(sum of the `up` tags' probabilities) - log(sum of the `down` tags'), each floored at TAG_FLOOR."""
    up_p = sum(float(evidence.get(f"tag:{t}", 0.0)) for t in up)
    down_p = sum(float(evidence.get(f"tag:{t}", 0.0)) for t in down)
    return math.log(max(up_p, TAG_FLOOR)) - math.log(max(down_p, TAG_FLOOR))


def cues(evidence: Mapping[str, float]) -> dict[str, float]:
    """The scalar cues `place` weighs, each from one track's evidence (a missing measurement is NaN: scored 0)."""

    def value(key: str) -> float:
        return float(evidence.get(key, math.nan))

    return {
        "loudness": value("loudness_lufs"),
        "flux": value("spectral_flux"),
        "onsets": value("onset_rate"),
        "tempo": math.log2(max(value("tempo_bpm"), 1.0)),  # tempo is heard in ratios
        "pulse": value("pulse_clarity"),
        "brightness": math.log10(max(value("brightness"), 1e-4)),  # a share spread over decades
        "mode": value("mode"),
        "tags_happy": tag_log_ratio(evidence, HAPPY_TAGS, SAD_TAGS),
        "tags_energy": tag_log_ratio(evidence, ENERGETIC_TAGS, CALM_TAGS),
        "tags_aggression": math.log(max(sum(float(evidence.get(f"tag:{t}", 0.0)) for t in AGGRESSIVE_TAGS), TAG_FLOOR)),
    }


# Weights of the normalised cues (models/MUSIC_CARD.md gives the source of each). They sum to 1 in absolute value.
AROUSAL_WEIGHTS = {
    "loudness": 0.25,
    "flux": 0.15,
    "onsets": 0.10,
    "tempo": 0.10,
    "brightness": 0.10,
    "tags_energy": 0.30,
}
VALENCE_WEIGHTS = {
    "tags_happy": 0.40,
    "mode": 0.15,
    "tempo": 0.10,
    "loudness": 0.10,
    "flux": 0.05,
    "brightness": 0.05,
    "pulse": 0.05,
    "tags_aggression": -0.10,
}

# Where a cue sits and how far it spreads (centre, robust spread), blended with the library's own
# median and spread so that a small library is placed sensibly. They are rough values seen on seven
# freely licensed songs (Debian's fretsonfire-songs-sectoid and asc-music), rounded: a weak prior,
# not a calibration. PRIOR_WEIGHT is how many tracks' worth of belief the prior carries: from
# about twenty tracks on, the library speaks for itself.
CUE_PRIORS = {
    "loudness": (-14.0, 4.0),
    "flux": (0.17, 0.04),
    "onsets": (5.5, 1.5),
    "tempo": (math.log2(120), 0.35),
    "pulse": (0.45, 0.15),
    "brightness": (-1.3, 0.3),
    "mode": (0.1, 0.15),
    "tags_happy": (1.0, 1.0),
    "tags_energy": (0.3, 2.0),
    "tags_aggression": (-3.0, 1.5),
}
PRIOR_WEIGHT = 4.0
Z_CLIP = 3.0  # one wild measurement (a silent intro, a mis-tracked tempo) moves a track at most this far
SPREAD = 0.8  # tanh(0.8 z): a track one library spread from the middle lands at about +-0.66
MIN_SPREAD = 0.25  # of the prior spread: the narrowest spread a library's cue is scaled by


def place(evidence: Sequence[Mapping[str, float]]) -> list[tuple[float, float]]:
    """(valence, arousal) in [-1, 1] for each track's evidence, relative to the given set (the library).

    Deterministic and order-independent up to the order of the output. Each cue is centred on the
    library's median and scaled by its robust spread (IQR / 1.349), both blended with the cue's
    prior by PRIOR_WEIGHT pseudo-tracks and clipped at +-Z_CLIP; the weighted sums are then scaled
    by their own robust spread in the same way and mapped through tanh. One track alone is placed
    against the priors only.
    """
    if not evidence:
        return []
    rows = [cues(e) for e in evidence]
    table = {name: np.array([row[name] for row in rows]) for name in CUE_PRIORS}
    z = {name: _robust_z(values, *CUE_PRIORS[name]) for name, values in table.items()}
    valence = _combine(z, VALENCE_WEIGHTS)
    arousal = _combine(z, AROUSAL_WEIGHTS)
    return [(float(v), float(a)) for v, a in zip(valence, arousal, strict=True)]


def _robust_z(values: np.ndarray, prior_centre: float, prior_spread: float) -> np.ndarray:
    """Robust z-scores against the library blended with the prior; a non-finite value (damaged evidence) scores 0."""
    finite = np.isfinite(values)
    n = int(finite.sum())
    q25, median, q75 = np.percentile(values[finite], [25, 50, 75]) if n else (0.0, 0.0, 0.0)
    centre = (n * median + PRIOR_WEIGHT * prior_centre) / (n + PRIOR_WEIGHT)
    spread = (n * (q75 - q25) / 1.349 + PRIOR_WEIGHT * prior_spread) / (n + PRIOR_WEIGHT)
    # a library whose tracks nearly all measure the same (an album of one session) must not blow
    # its last decimals up to the ends of the axis: differences under a quarter of the prior's spread
    # are measurement resolution, not music
    spread = max(spread, MIN_SPREAD * prior_spread)
    z = np.clip((np.where(finite, values, centre) - centre) / spread, -Z_CLIP, Z_CLIP)
    return np.asarray(z, float)


def _combine(z: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    total = np.sum([w * z[name] for name, w in weights.items()], axis=0)
    # the prior spread of a weighted sum of cues that agree about half the time
    prior_spread = 0.5
    scaled = _robust_z(np.asarray(total, float), 0.0, prior_spread)
    return np.tanh(SPREAD * scaled)
