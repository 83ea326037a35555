"""Export the best checkpoint of a run as the full-int8 models/emotion.tflite.

1. Rebuild the two-headed network in float32 and load the run's best weights.
2. Choose the weight that blends the two heads' probabilities on PublicTest
   (tools/mixing.py) and set it in the shipped architecture's blend layer.
3. Convert to TFLite with int8 weights and activations and int8 input/output,
   calibrated on faces from Training only.
4. Measure the float and int8 models through EmotionClassifier on the npz
   splits and write models/emotion.json with those figures.

    python tools/export.py --run runs/main
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "device"))
import evaluate  # noqa: E402
import ferdata  # noqa: E402
from mixing import accuracies, best_mix, blend, calibrate_bias  # noqa: E402
from train import run_widths, saved_options  # noqa: E402

MODELS = HERE.parent / "models"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, default=Path("runs/main"), help="training run folder")
    p.add_argument("--data", type=Path, default=ferdata.DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=MODELS / "emotion.tflite")
    p.add_argument("--calibration", type=int, default=1000, help="Training faces used to calibrate int8 ranges")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", type=Path, default=None, help="default: RUN/best.weights.h5 (or swa.weights.h5)")
    p.add_argument("--bias", action="store_true", help="also fit per-class logit offsets on PublicTest")
    return p.parse_args(argv)


def fold_heads(train_model, infer_model, weight: float, offsets: np.ndarray) -> None:
    """Copy trunk and heads (offsets added to both heads' biases); the blend kernel is [w*I; (1-w)*I]."""
    eye = np.eye(len(offsets), dtype=np.float32)
    for layer in infer_model.layers:
        if layer.name == "blend":
            layer.set_weights([np.vstack([weight * eye, (1 - weight) * eye])])
        elif layer.name in ("original", "ferplus"):
            kernel, bias = train_model.get_layer(layer.name).get_weights()
            layer.set_weights([kernel, bias + offsets])
        elif layer.weights:
            layer.set_weights(train_model.get_layer(layer.name).get_weights())


def convert(model, calibration: np.ndarray, int8: bool) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([face[None, :, :, None].astype(np.float32)] for face in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from emotion_net import build_inference_model, build_training_model

    splits = ferdata.load(args.data)
    widths = run_widths(args.run)
    train_model = build_training_model(widths)
    weights = args.weights or args.run / "best.weights.h5"
    train_model.load_weights(weights)
    val = splits["PublicTest"]
    logits = train_model.predict(val.images[..., None].astype(np.float32), batch_size=512, verbose=0)
    mix = best_mix(logits["original"], logits["ferplus"], val)
    print(f"{weights}: head mix on PublicTest w={mix.weight} original={mix.original:.4f} ferplus={mix.ferplus:.4f}")
    offsets = np.zeros(len(ferdata.LABELS), np.float32)
    if args.bias:
        offsets = calibrate_bias(logits["original"], logits["ferplus"], mix.weight, val)
        blended = blend(logits["original"], logits["ferplus"], mix.weight, offsets)
        print(f"per-class offsets {np.round(offsets, 2).tolist()}: {accuracies(blended, val)} on PublicTest")

    infer_model = build_inference_model(widths)
    fold_heads(train_model, infer_model, mix.weight, offsets)

    training = splits["Training"]
    rng = np.random.default_rng(args.seed)
    faces = training.images[~training.not_a_face]
    calibration = faces[rng.choice(len(faces), args.calibration, replace=False)]

    float_path = args.run / "emotion_float.tflite"
    float_path.write_bytes(convert(infer_model, calibration, int8=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(convert(infer_model, calibration, int8=True))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) and {float_path}")

    figures = {}
    for kind, path in (("float", float_path), ("int8", args.out)):
        for split in ("PublicTest", "PrivateTest"):
            report = evaluate.evaluate_split(path, splits[split])
            figures[f"{kind}/{split}"] = {name: r.headline() for name, r in report.items()}
    print(json.dumps(figures, indent=1))

    train_cmd = " ".join(["python tools/train.py", *saved_options(args.run, leave_out=("data", "limit"))])
    metadata = {
        "labels": list(ferdata.LABELS),
        "sha256": hashlib.sha256(args.out.read_bytes()).hexdigest(),  # moodbox refuses a model that differs
        "input": {
            "shape": [1, 48, 48, 1],
            "dtype": "int8",
            "preprocessing": "grey (BGR->GRAY), central square of a non-square crop, resized to 48x48 "
            "(INTER_AREA when shrinking, INTER_LINEAR when enlarging), raw 0..255 pixels quantised by the input "
            "tensor's scale/zero point (q = pixel - 128)",
        },
        "output": "int8 probabilities over labels (a blend of two softmax heads); dequantise and renormalise",
        "head_mix_weight_original": mix.weight,
        "logit_offsets": [round(float(o), 3) for o in offsets],
        "weights": str(weights),
        "figures": figures,
        "data": {"file": "fer2013.npz", "sha256": ferdata.sha256(args.data)},
        "training_command": train_cmd,
        "export_command": f"python tools/export.py --run {args.run} --weights {weights} "
        f"--calibration {args.calibration} --seed {args.seed}" + (" --bias" if args.bias else ""),
    }
    args.out.with_suffix(".json").write_text(json.dumps(metadata, indent=1) + "\n")
    print(f"wrote {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
