r"""Narrow a trained network's stages by dropping its least useful channels.

The first two stages work at 48x48 and 24x24 and cost most of the time per
face, but many of their channels carry little: weak activations, or small
weights in the convolution that reads them. This keeps, for every convolution,
the channels that matter most, scored as mean |activation| on Training faces
times the norm of the next layer's weights that read that channel, and copies
the surviving slices into the narrower network. A short training cycle from
the result (tools/train.py --init ... --widths ...) recovers what was lost. The
weights may be a narrowed run's too: their run folder says their widths.

    python tools/prune.py --weights runs/cycle6/swa.weights.h5 --widths 16,48,128,256 \
        --out runs/prune/pruned16-48.weights.h5
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ferdata  # noqa: E402
from train import parse_widths, weights_widths  # noqa: E402

HEADS = ("original", "ferplus")


def conv_names(stages: int) -> list[str]:
    return [f"s{stage}{half}" for stage in range(1, stages + 1) for half in "ab"]


def channel_scores(model, faces: np.ndarray) -> dict[str, np.ndarray]:
    """Per conv block: mean |post-ReLU activation| x norm of the next layer's weights reading it."""
    import keras

    names = conv_names(len([layer for layer in model.layers if layer.name.endswith("_conv")]) // 2)
    probe = keras.Model(model.input, [model.get_layer(f"{name}_relu").output for name in names])
    activations = probe.predict(faces[..., None].astype(np.float32), batch_size=256, verbose=0)
    scores = {}
    for k, (name, act) in enumerate(zip(names, activations, strict=True)):
        strength = np.abs(act).mean(axis=(0, 1, 2))
        if k + 1 < len(names):
            readers = model.get_layer(f"{names[k + 1]}_conv").get_weights()[0]  # 3x3 x in x out
            reach = np.sqrt((readers**2).sum(axis=(0, 1, 3)))
        else:
            heads = np.concatenate([model.get_layer(h).get_weights()[0] for h in HEADS], axis=1)  # in x 14
            reach = np.sqrt((heads**2).sum(axis=1))
        scores[name] = strength * reach
    return scores


def prune(model, narrow, scores: dict[str, np.ndarray], widths: tuple[int, ...]) -> None:
    """Copy the best-scoring channels of every block of `model` into `narrow`."""
    keep_in = np.arange(1)  # the grey input channel
    block_widths = [width for width in widths for _ in "ab"]  # two convolutions per stage
    for name, width in zip(conv_names(len(widths)), block_widths, strict=True):
        keep = np.sort(np.argsort(scores[name])[::-1][:width])
        kernel = model.get_layer(f"{name}_conv").get_weights()[0]
        narrow.get_layer(f"{name}_conv").set_weights([kernel[:, :, keep_in][..., keep]])
        narrow.get_layer(f"{name}_bn").set_weights([w[keep] for w in model.get_layer(f"{name}_bn").get_weights()])
        keep_in = keep
    for head in HEADS:
        kernel, bias = model.get_layer(head).get_weights()
        narrow.get_layer(head).set_weights([kernel[keep_in], bias])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, required=True, help="weights to narrow (a run's, or the full network's)")
    p.add_argument("--widths", required=True, help="channels per stage to keep, e.g. 16,48,128,256")
    p.add_argument("--data", type=Path, default=ferdata.DEFAULT_DATA)
    p.add_argument("--faces", type=int, default=2000, help="Training faces to score channels on")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    widths = parse_widths(args.widths)
    assert widths is not None

    from emotion_net import WIDTHS, build_training_model, load_weights_into

    source = weights_widths(args.weights) or WIDTHS
    if len(widths) != len(source) or any(n < 1 or n > have for n, have in zip(widths, source, strict=True)):
        raise SystemExit(f"error: --widths needs {len(source)} counts, each between 1 and {source}")
    training = ferdata.load(args.data)["Training"]
    faces = training.images[~training.not_a_face]
    faces = faces[np.random.default_rng(args.seed).choice(len(faces), args.faces, replace=False)]

    model = build_training_model(source)
    load_weights_into(model, args.weights)
    narrow = build_training_model(widths)
    prune(model, narrow, channel_scores(model, faces), widths)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    narrow.save_weights(args.out)
    print(f"wrote {args.out}: {model.count_params():,} -> {narrow.count_params():,} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
