"""The log-compressed mel spectrogram that musicnn was trained on, in numpy.

musicnn's extractor calls librosa.feature.melspectrogram (16 kHz, n_fft 512, hop 256, Hann window,
centred frames, power 2, 96 Slaney mel bands) and then log10(10000 x + 1). It casts to float16
before the log, which overflows to inf on loud music and collapses every track to the same tags;
here everything stays float32. The filterbank is librosa's, precomputed on the host by
tools/convert_musicnn.py and shipped in the model's sidecar json, so the device needs no librosa.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def filterbank(bands: Sequence[Mapping[str, Any]], n_fft: int) -> np.ndarray:
    """The (n_mels, n_fft // 2 + 1) weight matrix from the sidecar's sparse bands."""
    bank = np.zeros((len(bands), n_fft // 2 + 1), np.float32)
    for row, band in zip(bank, bands, strict=True):
        first = int(band["first_bin"])
        weights = np.asarray(band["weights"], np.float32)
        row[first : first + weights.size] = weights
    return bank


def power_spectrogram(signal: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT|^2 as (frames, n_fft // 2 + 1) float32: periodic Hann window, frames centred by zero padding."""
    signal = np.asarray(signal, np.float32)
    padded = np.pad(signal, n_fft // 2)
    if padded.size < n_fft:
        padded = np.pad(padded, (0, n_fft - padded.size))
    n_frames = 1 + (padded.size - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, n_fft), strides=(padded.strides[0] * hop, padded.strides[0]), writeable=False
    )
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    spectrum = np.fft.rfft(frames * window, axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


def log_mel(power: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """musicnn's log compression of the mel power, (frames, n_mels), in float32."""
    return np.log10(np.float32(10000) * (power @ bank.T) + np.float32(1)).astype(np.float32)


def patches(spectrogram: np.ndarray, frames: int) -> np.ndarray:
    """Consecutive non-overlapping patches of `frames` frames, (n, frames, n_mels), as musicnn batches them.

    A clip shorter than one patch is repeated to fill it (musicnn's training used repeat-padding).
    """
    if spectrogram.shape[0] == 0:
        raise ValueError("empty spectrogram")
    if spectrogram.shape[0] < frames:
        reps = -(-frames // spectrogram.shape[0])
        spectrogram = np.tile(spectrogram, (reps, 1))[:frames]
    n = spectrogram.shape[0] // frames
    return np.ascontiguousarray(spectrogram[: n * frames].reshape(n, frames, spectrogram.shape[1]))
