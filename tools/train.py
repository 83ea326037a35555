"""Train the emotion CNN on FER2013 Training, select on PublicTest.

Two heads learn from the two label sets at once: the original FER2013 labels
(label-smoothed, mildly class-balanced) and the FER+ annotator vote
distributions (soft targets, not-a-face rows dropped). Every epoch the script
scores both heads on PublicTest, keeps the best epoch, and checkpoints the full
training state so `--resume` continues where a stopped run left off.
PrivateTest is never looked at here.

    python tools/train.py --out runs/main            # ~65 min on 2 CPU cores
    python tools/train.py --out runs/main --resume   # after an interruption
    # a second, shorter cycle from averaged weights (tools/average.py):
    python tools/train.py --out runs/cycle2 --init runs/main/swa9.weights.h5 --epochs 12 --lr 6e-4 --warmup 0.5 --seed 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ferdata  # noqa: E402
from mixing import best_mix  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=ferdata.DEFAULT_DATA, help="path to fer2013.npz")
    p.add_argument("--out", type=Path, default=Path("runs/main"), help="run folder for checkpoints and logs")
    p.add_argument("--epochs", type=int, default=36)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up epochs")
    p.add_argument("--smoothing", type=float, default=0.1, help="label smoothing on original labels")
    p.add_argument("--balance", type=float, default=0.3, help="class weight = (1/frequency)^balance; 0 = off")
    p.add_argument(
        "--zoom",
        default="0.85,1.15",
        help="smallest,largest random zoom; below 1 the face shrinks in the frame, as in a loose crop",
    )
    p.add_argument("--ferplus-weight", type=float, default=1.0, help="loss weight of the FER+ head")
    p.add_argument(
        "--precision", choices=("bf16", "fp32"), default="bf16", help="bf16 is ~30%% faster on AVX512-BF16 CPUs"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.keras")
    p.add_argument("--limit", type=int, default=0, help="train on the first N faces only (smoke tests)")
    p.add_argument("--init", type=Path, default=None, help="start from these weights (a second, shorter cycle)")
    p.add_argument(
        "--widths",
        default=None,
        help="channels of the four stages, e.g. 16,48,128,256 (default: the full network); "
        "a narrower one starts from tools/prune.py's output",
    )
    p.add_argument(
        "--teacher",
        type=Path,
        nargs="+",
        default=None,
        help="distil from the mean of these networks' probabilities (weights files in their run folders)",
    )
    p.add_argument("--teacher-mirror", action="store_true", help="teachers also read the mirrored face")
    p.add_argument("--distill", type=float, default=0.5, help="share of the teacher's probabilities in the targets")
    return p.parse_args(argv)


def parse_widths(text: str | None) -> tuple[int, ...] | None:
    """'16,48,128,256' -> (16, 48, 128, 256); None (the full network) stays None."""
    return None if text is None else tuple(int(part) for part in text.split(","))


def parse_zoom(text: str) -> tuple[float, float]:
    """'0.85,1.15' -> (0.85, 1.15)."""
    smallest, largest = (float(part) for part in text.split(","))
    return smallest, largest


def run_options(run: Path) -> argparse.Namespace:
    """The options RUN was trained with, defaults filled in for options newer than the run."""
    return parse_args(saved_options(run))


def run_widths(run: Path) -> tuple[int, ...] | None:
    """The stage widths RUN was trained with (None: the full network)."""
    return parse_widths(run_options(run).widths)


def weights_widths(weights: Path) -> tuple[int, ...] | None:
    """The stage widths of a weights file: its run's, or the full network's outside a run folder."""
    return run_widths(weights.parent) if (weights.parent / "args.json").exists() else None


def save_options(args: argparse.Namespace) -> None:
    """OUT/args.json: the run's options as strings (lists of them), read back by saved_options()."""
    options = {k: [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in vars(args).items()}
    (args.out / "args.json").write_text(json.dumps(options, indent=1))


def saved_options(run: Path, leave_out: tuple[str, ...] = ()) -> list[str]:
    """The command-line options RUN was started with (from RUN/args.json), as argv tokens."""
    saved = json.loads((run / "args.json").read_text())
    tokens = []
    for key, value in saved.items():
        if key in {"resume", *leave_out} or value in ("None", "False"):
            continue
        tokens.append(f"--{key.replace('_', '-')}")
        if value != "True":  # a switch is its flag alone
            tokens.extend(value if isinstance(value, list) else [value])
    return tokens


def restore_args(args: argparse.Namespace) -> argparse.Namespace:
    """On --resume, continue with the arguments the run was started with.

    The learning-rate schedule lives in the checkpoint; a different --epochs
    (or seed, batch, data) on the command line would silently train past its
    end or on another stream, so the saved ones win.
    """
    if not (args.resume and (args.out / "args.json").exists()):
        return args
    return parse_args([*saved_options(args.out, leave_out=("out",)), "--out", str(args.out), "--resume"])


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Per-sample weights (1/frequency)^power, normalised to mean 1."""
    counts = np.bincount(labels, minlength=len(ferdata.LABELS)).astype(np.float64)
    per_class = (counts.sum() / (len(counts) * counts)) ** power
    w = per_class[labels]
    return (w / w.mean()).astype(np.float32)


def training_arrays(split: ferdata.Split, args: argparse.Namespace):
    """Images and targets for both heads; not-a-face rows are dropped."""
    keep = ~split.not_a_face
    images = split.images[keep][..., None]
    labels = split.labels[keep]
    votes = split.votes[keep]
    totals = votes.sum(axis=1, keepdims=True)
    soft = np.divide(votes, totals, out=np.zeros_like(votes), where=totals > 0)
    n = len(ferdata.LABELS)
    onehot = np.eye(n, dtype=np.float32)[labels] * (1 - args.smoothing) + args.smoothing / n
    w_original = class_weights(labels, args.balance)
    w_ferplus = (totals[:, 0] > 0).astype(np.float32)
    return images, onehot, soft.astype(np.float32), w_original, w_ferplus


def augment(images, tf, zoom_range: tuple[float, float]):
    """Random flip, rotation, zoom, shift, brightness/contrast and erasing on a batch.

    One projective transform per image instead of a chain of Keras layers keeps
    the augmentation a small fraction of the step time on a 2-core machine.
    """
    b = tf.shape(images)[0]
    size = float(images.shape[1])
    centre = (size - 1) / 2
    angle = tf.random.uniform([b], -15.0, 15.0) * math.pi / 180
    zoom = tf.random.uniform([b], *zoom_range)
    shift = tf.random.uniform([b, 2], -0.1, 0.1) * size
    flip = tf.where(tf.random.uniform([b]) < 0.5, -1.0, 1.0)
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    m00, m01, m10, m11 = cos * flip, -sin, sin * flip, cos
    ox, oy = centre + shift[:, 0], centre + shift[:, 1]
    a2 = centre - m00 * ox - m01 * oy
    b2 = centre - m10 * ox - m11 * oy
    zeros = tf.zeros([b])
    transforms = tf.stack([m00, m01, a2, m10, m11, b2, zeros, zeros], axis=1)
    x = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    contrast = tf.random.uniform([b, 1, 1, 1], 0.7, 1.3)
    brightness = tf.random.uniform([b, 1, 1, 1], -30.0, 30.0)
    x = (x - mean) * contrast + mean + brightness
    # Random erasing: a rectangle of 2-20% of the face filled with one grey level.
    area = tf.random.uniform([b], 0.02, 0.2) * size * size
    aspect = tf.exp(tf.random.uniform([b], math.log(0.3), math.log(3.3)))
    h = tf.sqrt(area * aspect)[:, None, None, None]
    w = tf.sqrt(area / aspect)[:, None, None, None]
    cy = tf.random.uniform([b, 1, 1, 1], 0, size)
    cx = tf.random.uniform([b, 1, 1, 1], 0, size)
    grid = tf.range(size)
    yy, xx = grid[None, :, None, None], grid[None, None, :, None]
    erase = tf.random.uniform([b, 1, 1, 1]) < 0.5
    mask = erase & (tf.abs(yy - cy) < h / 2) & (tf.abs(xx - cx) < w / 2)
    fill = tf.random.uniform([b, 1, 1, 1], 0.0, 255.0)
    x = tf.where(mask, fill, x)
    return tf.clip_by_value(x, 0.0, 255.0)


def teach(teachers, x, mirror: bool, tf) -> dict:
    """Each head's probabilities averaged over the teachers (and, with `mirror`, the mirrored face)."""
    views = [x, x[:, :, ::-1]] if mirror else [x]
    outputs = [teacher(view, training=False) for teacher in teachers for view in views]
    return {head: tf.add_n([tf.nn.softmax(out[head]) for out in outputs]) / len(outputs) for head in outputs[0]}


def make_dataset(arrays, args, tf, teachers=()):
    """Augmented batches; with teachers, both heads' targets take a share of their probabilities.

    The teachers read the very same augmented face as the student, so their
    soft targets describe what the student sees (a narrowed network recovers
    faster from a consistent teacher than from labels alone).
    """
    images, onehot, soft, w_o, w_f = arrays
    zoom = parse_zoom(args.zoom)
    ds = tf.data.Dataset.from_tensor_slices((images, onehot, soft, w_o, w_f))
    ds = ds.shuffle(len(images), seed=args.seed, reshuffle_each_iteration=True)
    ds = ds.batch(args.batch, drop_remainder=True)

    def to_example(x, y_o, y_f, w_o, w_f):
        x = augment(tf.cast(x, tf.float32), tf, zoom)
        if teachers:
            taught = teach(teachers, x, args.teacher_mirror, tf)
            y_o = (1 - args.distill) * y_o + args.distill * taught["original"]
            y_f = (1 - args.distill) * y_f + args.distill * taught["ferplus"]
        return x, {"original": y_o, "ferplus": y_f}, {"original": w_o, "ferplus": w_f}

    return ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)


def main(argv: list[str] | None = None) -> int:
    args = restore_args(parse_args(argv))
    import keras
    import tensorflow as tf

    from emotion_net import build_training_model, load_weights_into

    args.out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    if args.precision == "bf16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")

    splits = ferdata.load(args.data)
    train_arrays = training_arrays(splits["Training"], args)
    if args.limit:
        train_arrays = tuple(a[: args.limit] for a in train_arrays)
    val = splits["PublicTest"]
    steps = len(train_arrays[0]) // args.batch
    teachers = []
    for weights in args.teacher or ():
        teachers.append(build_training_model(weights_widths(weights)))
        load_weights_into(teachers[-1], weights)
    dataset = make_dataset(train_arrays, args, tf, teachers)

    last = args.out / "last.keras"
    state_file = args.out / "state.json"
    state = {"epoch": 0, "best_score": -math.inf, "best_epoch": None}
    if args.resume and last.exists():
        model = keras.models.load_model(last)
        state = json.loads(state_file.read_text())
        print(f"resuming from epoch {state['epoch']} (best so far: epoch {state['best_epoch']})")
    else:
        model = build_training_model(parse_widths(args.widths))
        if args.init is not None:
            load_weights_into(model, args.init)
            print(f"starting from {args.init}")
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0,
            warmup_target=args.lr,
            warmup_steps=int(args.warmup * steps),
            decay_steps=max(1, args.epochs * steps - int(args.warmup * steps)),
        )
        model.compile(
            optimizer=keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay),
            loss={
                "original": keras.losses.CategoricalCrossentropy(from_logits=True),
                "ferplus": keras.losses.CategoricalCrossentropy(from_logits=True),
            },
            loss_weights={"original": 1.0, "ferplus": args.ferplus_weight},
        )
        save_options(args)
    print(f"{model.count_params():,} parameters, {steps} steps per epoch, {args.epochs} epochs")

    class SelectOnPublicTest(keras.callbacks.Callback):
        """Scores both heads on PublicTest, keeps the best epoch, checkpoints everything."""

        def on_epoch_end(self, epoch, logs=None):
            out = self.model.predict(val.images[..., None].astype(np.float32), batch_size=512, verbose=0)
            mix = best_mix(out["original"], out["ferplus"], val)
            row = {"epoch": epoch + 1, **{k: round(float(v), 4) for k, v in (logs or {}).items()}, **mix.summary()}
            print(json.dumps(row), flush=True)
            with open(args.out / "history.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")
            if mix.score > state["best_score"]:
                state.update(best_score=mix.score, best_epoch=epoch + 1)
                self.model.save_weights(args.out / "best.weights.h5")
            state["epoch"] = epoch + 1
            self.model.save_weights(args.out / f"epoch_{epoch + 1:02d}.weights.h5")  # for tools/average.py
            self.model.save(last)
            state_file.write_text(json.dumps(state))

    started = time.time()
    model.fit(
        dataset,
        epochs=args.epochs,
        initial_epoch=state["epoch"],
        callbacks=[SelectOnPublicTest()],
        verbose=1 if sys.stdout.isatty() else 2,
    )
    minutes = (time.time() - started) / 60
    print(
        f"training took {minutes:.1f} min; "
        f"best epoch {state['best_epoch']} (PublicTest score {state['best_score']:.4f})"
    )
    (args.out / "time.json").write_text(json.dumps({"minutes_this_run": round(minutes, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
