"""16 kHz mono samples in, musicnn's 50 Million-Song-Dataset tag probabilities out, on LiteRT.

The model is musicnn's MSD_musicnn (Pons & Serra 2019), rebuilt from its checkpoint and converted
to TFLite with float16 weights by tools/convert_musicnn.py. Its sidecar json (same name, .json)
holds the model's sha256 (a damaged copy is refused, not run: it gave NaN for every track), the tag
labels and the preprocessing constants, mel filterbank included, so the model and its contract
travel together. The tags of a clip are the mean over its 3-second patches, as
musicnn's own taggram averages them.

The model has a second output, musicnn's 200-unit penultimate layer (the back-end's dense layer after
its batch normalisation, what musicnn's extractor calls 'penultimate'): the representation
moodbox.music.musicmood's fitted mood head reads. Both come from one invoke; the extra output costs
nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from moodbox.base.litert import ModelError, interpreter, read_verified
from moodbox.music import melspec

RESTORE = "restore models/musicnn.tflite and models/musicnn.json together (rerun tools/install.sh)"


class MusicTagger:
    """musicnn's MSD tagger behind one call.

    >>> tagger = MusicTagger(Path("models/musicnn.tflite"))
    >>> tagger.tags(samples_16k)["happy"]
    """

    def __init__(self, model_path: str | Path, threads: int = 1) -> None:
        path = Path(model_path)
        sidecar = path.with_suffix(".json")
        if not path.is_file():
            raise ModelError(f"music model file not found: {path}; {RESTORE}")
        content, meta = read_verified(path, RESTORE)
        try:
            self.labels: tuple[str, ...] = tuple(meta["labels"])
            self.penultimate_units = int(meta["penultimate_units"])
            self.sample_rate = int(meta["sample_rate"])
            self.n_fft, self.hop = int(meta["n_fft"]), int(meta["hop"])
            self.patch_frames = int(meta["patch_frames"])
            self.filterbank = melspec.filterbank(meta["mel_bands"], self.n_fft)
        except (ValueError, KeyError, TypeError) as e:
            raise ModelError(f"music model sidecar {sidecar} is unreadable ({e!r}); {RESTORE}") from None
        self._interpreter = interpreter(content, threads, path, RESTORE)
        self._input = self._interpreter.get_input_details()[0]
        # the two outputs are told apart by their width (the converter does not keep their order)
        outputs = {int(out["shape"][-1]): out for out in self._interpreter.get_output_details()}
        expected_in = (self.patch_frames, self.filterbank.shape[0])
        widths = (len(self.labels), self.penultimate_units)
        if tuple(self._input["shape"][1:]) != expected_in or sorted(outputs) != sorted(widths):
            raise ModelError(
                f"music model {path} takes {tuple(self._input['shape'])} and returns outputs of width "
                f"{sorted(outputs)}; its sidecar describes (n, {expected_in[0]}, {expected_in[1]}) -> "
                f"(n, {widths[0]}) and (n, {widths[1]})"
            )
        self._output, self._penultimate = outputs[widths[0]], outputs[widths[1]]
        self._batch = int(self._input["shape"][0])

    def log_mel(self, samples: np.ndarray) -> np.ndarray:
        """The model's input representation of 16 kHz mono samples, (frames, 96)."""
        return melspec.log_mel(melspec.power_spectrogram(samples, self.n_fft, self.hop), self.filterbank)

    def patch_tags(self, spectrogram: np.ndarray) -> np.ndarray:
        """Tag probabilities of each 3-second patch of a log-mel spectrogram, (patches, 50)."""
        return self.patch_outputs(spectrogram)[0]

    def patch_outputs(self, spectrogram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tag probabilities (patches, 50) and the penultimate layer (patches, 200) of each 3-second patch."""
        batch = melspec.patches(spectrogram, self.patch_frames)
        if batch.shape[0] != self._batch:
            self._interpreter.resize_tensor_input(self._input["index"], batch.shape)
            self._interpreter.allocate_tensors()
            self._batch = batch.shape[0]
        self._interpreter.set_tensor(self._input["index"], batch)
        self._interpreter.invoke()
        tags = np.asarray(self._interpreter.get_tensor(self._output["index"]), np.float32).copy()
        penultimate = np.asarray(self._interpreter.get_tensor(self._penultimate["index"]), np.float32).copy()
        return tags, penultimate

    def tags(self, samples: np.ndarray) -> dict[str, float]:
        """Mean tag probabilities over the clip's 3-second patches."""
        mean = self.patch_tags(self.log_mel(samples)).mean(axis=0)
        return {label: float(p) for label, p in zip(self.labels, mean, strict=True)}
