"""Rebuild musicnn's MSD tagger from its TF1 checkpoint and convert it to TFLite (host-side, TensorFlow).

musicnn 0.1.0 (Pons & Serra 2019, ISC licence) ships its pre-trained models as TF1 checkpoints
inside the PyPI wheel. The package itself pins TF1-era numpy, so it is never installed: the wheel
is downloaded and unzipped, and this script rebuilds MSD_musicnn's inference graph from the
checkpoint's variables with plain TensorFlow ops, batch normalisation folded into a constant
scale and shift. It then

1. checks the rebuild against the checkpoint's own graph (imported from its .meta file),
2. converts it to TFLite with float16 weights (full int8 loses too much: the issue measured
   67 % top-1 agreement) and checks the TFLite outputs against TensorFlow,
3. writes the sidecar json the device reads beside the model: tag labels, the preprocessing
   constants from musicnn's own code, and librosa's Slaney mel filterbank, so the device needs
   numpy only,
4. optionally stores reference tags for audio fixtures, computed the independent way (librosa
   decode + resample + mel in float32, the checkpoint graph in TensorFlow), for tests/test_tagger.py.

    pip download --no-deps musicnn==0.1.0 -d reports/musicnn
    python tools/convert_musicnn.py --wheel reports/musicnn/musicnn-0.1.0-py3-none-any.whl \
        --reference tests/fixtures/music/feelings.ogg tests/fixtures/music/metal_madness.mp3

(`make music-model` runs both.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PENULTIMATE_UNITS = 200  # the back-end's dense layer
PATCH_FRAMES = 187  # librosa.time_to_frames(3 s) + 1, as musicnn's extractor computes it
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default
MSD_LABELS = [
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient",
    "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening",
    "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad",
    "House", "happy",
]  # fmt: skip


def checkpoint_prefix(wheel: Path, workdir: Path) -> Path:
    """The MSD_musicnn checkpoint prefix inside the unzipped wheel (its files are named '.index', '.data-...')."""
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(workdir)
    return workdir / "musicnn" / "MSD_musicnn" / ""


def load_variables(prefix: Path) -> dict[str, np.ndarray]:
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(str(prefix) + "/")
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if "Adam" not in name and not name.endswith("_power")
    }


def build_model(v: dict[str, np.ndarray]):
    """musicnn's inference graph (musicnn/models.py, build_musicnn with 64 mid-end filters, 200 back-end units)."""
    import tensorflow as tf

    def bn(x, i: int):
        name = "batch_normalization" + (f"_{i}" if i else "")
        scale = v[name + "/gamma"] / np.sqrt(v[name + "/moving_variance"] + BN_EPSILON)
        shift = v[name + "/beta"] - v[name + "/moving_mean"] * scale
        return x * tf.constant(scale, tf.float32) + tf.constant(shift, tf.float32)

    def conv(x, i: int, padding: str):
        name = "conv2d" + (f"_{i}" if i else "")
        y = tf.nn.conv2d(x, tf.constant(v[name + "/kernel"]), strides=1, padding=padding)
        return tf.nn.relu(y + tf.constant(v[name + "/bias"]))

    def dense(x, name: str):
        return tf.matmul(x, tf.constant(v[name + "/kernel"])) + tf.constant(v[name + "/bias"])

    def pad_time(x):
        return tf.pad(x, [[0, 0], [3, 3], [0, 0], [0, 0]])

    @tf.function(input_signature=[tf.TensorSpec([None, PATCH_FRAMES, N_MELS], tf.float32, name="log_mel")])
    def model(x):
        x = bn(tf.expand_dims(x, 3), 0)
        # front-end: two timbral (7x38, 7x67) and three temporal (128, 64, 32 frames) filter shapes,
        # each max-pooled over all frequencies
        f74 = tf.reduce_max(bn(conv(pad_time(x), 0, "VALID"), 1), axis=2)
        f77 = tf.reduce_max(bn(conv(pad_time(x), 1, "VALID"), 2), axis=2)
        s1 = tf.reduce_max(bn(conv(x, 2, "SAME"), 3), axis=2)
        s2 = tf.reduce_max(bn(conv(x, 3, "SAME"), 4), axis=2)
        s3 = tf.reduce_max(bn(conv(x, 4, "SAME"), 5), axis=2)
        front = tf.expand_dims(tf.concat([f74, f77, s1, s2, s3], 2), 3)  # (B, T, 561, 1)
        # mid-end: three 7-frame convolutions, the last two residual
        c1 = tf.transpose(bn(conv(pad_time(front), 5, "VALID"), 6), [0, 1, 3, 2])
        c2 = tf.transpose(bn(conv(pad_time(c1), 6, "VALID"), 7), [0, 1, 3, 2]) + c1
        c3 = tf.transpose(bn(conv(pad_time(c2), 7, "VALID"), 8), [0, 1, 3, 2]) + c2
        mid = tf.concat([front, c1, c2, c3], 2)  # (B, T, 753, 1)
        # back-end: max and mean over time, interleaved per feature as the original's flatten does
        pooled = tf.concat([tf.reduce_max(mid, axis=1), tf.reduce_mean(mid, axis=1)], 2)
        flat = bn(tf.reshape(pooled, [-1, 1506]), 9)
        hidden = bn(tf.nn.relu(dense(flat, "dense")), 10)
        # two outputs: the 50 tag probabilities and the 200-unit penultimate layer (musicnn's extractor
        # calls it 'penultimate': the dense layer after its batch normalisation), which the mood head reads
        return {"tags": tf.sigmoid(dense(hidden, "dense_1")), "penultimate": hidden}

    return model


PENULTIMATE_NODE = "model/batch_normalization_10/batchnorm/add_1"  # musicnn's bn_dense, its 'penultimate'


def checkpoint_graph_outputs(
    prefix: Path, variables: dict[str, np.ndarray], batch: np.ndarray, target: str = "model/Sigmoid"
) -> np.ndarray:
    """Sigmoid outputs (or another node's) of the checkpoint's own graph, the reference for the rebuild.

    The .meta graph does not import whole under TF2 (its gradient nodes carry stale shapes), so the
    inference part, model/Placeholder -> model/Sigmoid, is cut out and its variables frozen to the
    checkpoint's values.
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString((Path(str(prefix) + "/.meta")).read_bytes())
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(meta.graph_def, [target])
    for node in graph_def.node:
        node.device = ""
        node.attr.pop("_output_shapes", None)
        if node.op == "VariableV2":
            value = variables[node.name]
            node.op = "Const"
            for key in list(node.attr):
                if key != "dtype":
                    del node.attr[key]
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        out = sess.run(f"{target}:0", feed_dict={"model/Placeholder:0": batch, "model/Placeholder_2:0": False})
    return np.asarray(out, np.float32)


def mel_filterbank() -> np.ndarray:
    import librosa

    # librosa's defaults, as musicnn's librosa.feature.melspectrogram call uses them: Slaney scale and norm
    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)


def reference_log_mel(path: Path) -> np.ndarray:
    """musicnn's own preprocessing (librosa load + melspectrogram) with the log taken in float32."""
    import librosa

    audio, _ = librosa.load(str(path), sr=SAMPLE_RATE, res_type="soxr_hq")
    mel = librosa.feature.melspectrogram(y=audio, sr=SAMPLE_RATE, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    return np.log10(10000 * mel.astype(np.float32) + 1)


def patches(log_mel: np.ndarray) -> np.ndarray:
    n = log_mel.shape[0] // PATCH_FRAMES
    return log_mel[: n * PATCH_FRAMES].reshape(n, PATCH_FRAMES, N_MELS)


def tflite_outputs(model_bytes: bytes, batch: np.ndarray) -> dict[str, np.ndarray]:
    """The TFLite model's outputs by their width: "tags" (50) and "penultimate" (200)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], batch.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], batch.astype(np.float32))
    interpreter.invoke()
    names = {len(MSD_LABELS): "tags", PENULTIMATE_UNITS: "penultimate"}
    return {
        names[int(out["shape"][-1])]: interpreter.get_tensor(out["index"]).copy()
        for out in interpreter.get_output_details()
    }


def sparse_bands(bank: np.ndarray) -> list[dict[str, object]]:
    """Each mel band as its first FFT bin and its non-zero weights: the json stays small and readable."""
    bands = []
    for row in bank:
        nonzero = np.flatnonzero(row)
        first, last = int(nonzero[0]), int(nonzero[-1])
        bands.append({"first_bin": first, "weights": [float(w) for w in row[first : last + 1]]})
    return bands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True, help="musicnn-0.1.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=Path("models/musicnn.tflite"))
    parser.add_argument("--reference", type=Path, nargs="*", default=[], help="audio fixtures to store tags of")
    parser.add_argument("--reference-out", type=Path, default=Path("tests/fixtures/music/reference_tags.json"))
    parser.add_argument(
        "--reference-penultimate-out", type=Path, default=Path("tests/fixtures/music/reference_penultimate.json")
    )
    parser.add_argument("--reference-only", action="store_true", help="write the references, not the model")
    args = parser.parse_args()

    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        prefix = checkpoint_prefix(args.wheel, Path(tmp))
        variables = load_variables(prefix)
        model = build_model(variables)

        rng = np.random.default_rng(0)
        # log-mel values of music lie in about 0..4 (log10(10000 x + 1)); random patches plus real ones
        probe = rng.uniform(0, 3, (4, PATCH_FRAMES, N_MELS)).astype(np.float32)
        real = [patches(reference_log_mel(p)) for p in args.reference]
        probe = np.concatenate([probe, *real]) if real else probe
        outputs = model(tf.constant(probe))
        ours, ours_penultimate = outputs["tags"].numpy(), outputs["penultimate"].numpy()
        theirs = checkpoint_graph_outputs(prefix, variables, probe)
        theirs_penultimate = checkpoint_graph_outputs(prefix, variables, probe, PENULTIMATE_NODE)
        print(
            f"rebuild vs checkpoint graph: tags max |diff| {np.abs(ours - theirs).max():.2e}, "
            f"penultimate {np.abs(ours_penultimate - theirs_penultimate).max():.2e}"
        )
        assert np.abs(ours - theirs).max() < 1e-4, "the rebuilt graph does not match the checkpoint"
        assert np.abs(ours_penultimate - theirs_penultimate).max() < 1e-3, "the rebuilt penultimate layer differs"

        if args.reference_only:
            write_references(args, prefix, variables)
            return
        converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
        tflite = converter.convert()
        lite = tflite_outputs(tflite, probe)
        drift = np.abs(lite["tags"] - ours).max()
        scale = np.abs(ours_penultimate).max()
        drift_penultimate = np.abs(lite["penultimate"] - ours_penultimate).max() / scale
        print(
            f"TFLite fp16 vs TensorFlow: tags max |diff| {drift:.4f}, penultimate max |diff| "
            f"{drift_penultimate:.4f} of its range; {len(tflite) / 1e6:.2f} MB"
        )
        assert drift < 0.003, "the float16 model drifts from TensorFlow"
        assert drift_penultimate < 0.01, "the float16 model's penultimate layer drifts from TensorFlow"

        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(tflite)
        sidecar = {
            "model": "musicnn MSD_musicnn (Pons & Serra 2019), musicnn 0.1.0 wheel, ISC licence; float16 weights",
            "sha256": hashlib.sha256(tflite).hexdigest(),  # the device loads the model only if this matches
            "labels": MSD_LABELS,
            "penultimate_units": PENULTIMATE_UNITS,
            "sample_rate": SAMPLE_RATE,
            "n_fft": N_FFT,
            "hop": HOP,
            "window": "hann",
            "center": True,
            "patch_frames": PATCH_FRAMES,
            "log_mel": "log10(10000 * mel_power + 1), in float32",
            "mel_filterbank": "librosa.filters.mel(sr=16000, n_fft=512, n_mels=96): Slaney scale and norm",
            "mel_bands": sparse_bands(mel_filterbank()),
        }
        args.out.with_suffix(".json").write_text(json.dumps(sidecar, indent=1) + "\n")
        print(f"wrote {args.out} and {args.out.with_suffix('.json')}")

        if args.reference:
            write_references(args, prefix, variables)


def write_references(args: argparse.Namespace, prefix: Path, variables: dict[str, np.ndarray]) -> None:
    """Tags and penultimate layer of each reference fixture, the independent way (librosa + checkpoint graph)."""
    tags, penultimate = {}, {}
    for path in args.reference:
        batch = patches(reference_log_mel(path))
        mean_tags = checkpoint_graph_outputs(prefix, variables, batch).mean(axis=0)
        tags[path.name] = {label: round(float(p), 5) for label, p in zip(MSD_LABELS, mean_tags, strict=True)}
        units = checkpoint_graph_outputs(prefix, variables, batch, PENULTIMATE_NODE).mean(axis=0)
        penultimate[path.name] = [round(float(u), 5) for u in units]
    args.reference_out.write_text(json.dumps(tags, indent=1) + "\n")
    args.reference_penultimate_out.write_text(json.dumps(penultimate) + "\n")
    print(f"wrote {args.reference_out} and {args.reference_penultimate_out}")


if __name__ == "__main__":
    main()
