"""Average the weights of the last epochs of a run (stochastic weight averaging).

Weights from the tail of a cosine schedule sit around the same minimum;
their average usually generalises better than any one of them, and costs
nothing at inference. Batch-norm statistics do not average, so they are
re-estimated on augmented Training batches afterwards. Each candidate
(every K in --last) is scored on PublicTest like training does; the script
reports them and writes the best as OUT.

    python tools/average.py --run runs/main --last 3 5 8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ferdata  # noqa: E402
from mixing import best_mix  # noqa: E402


def epoch_name(checkpoint: Path) -> str:
    """epoch_NN, whichever format the checkpoint is in."""
    return checkpoint.name.split(".")[0]


def epoch_checkpoints(run: Path) -> list[Path]:
    """Per-epoch checkpoints in epoch order; epoch_NN.weights.h5 wins over epoch_NN.keras."""
    by_epoch = {epoch_name(path): path for path in sorted(run.glob("epoch_*.keras"))}
    by_epoch.update({epoch_name(path): path for path in sorted(run.glob("epoch_*.weights.h5"))})
    found = [by_epoch[name] for name in sorted(by_epoch)]
    if not found:
        raise SystemExit(f"error: no epoch_NN checkpoints in {run}; train with tools/train.py first")
    return found


def reestimate_batch_norm(
    model, images: np.ndarray, batches: int, batch_size: int, seed: int, zoom: tuple[float, float]
) -> None:
    """Exact running mean of batch statistics over `batches` batches augmented as the run trained."""
    import keras
    import tensorflow as tf

    from train import augment

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    rng = np.random.default_rng(seed)
    tf.random.set_seed(seed)
    for k in range(batches):
        for layer in norms:
            layer.momentum = k / (k + 1)  # moving = mean of the batches seen so far
        batch = images[rng.choice(len(images), batch_size, replace=False)][..., None].astype(np.float32)
        model(augment(tf.constant(batch), tf, zoom), training=True)
    for layer in norms:
        layer.momentum = 0.99


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, default=Path("runs/main"))
    p.add_argument("--data", type=Path, default=ferdata.DEFAULT_DATA)
    p.add_argument("--last", type=int, nargs="+", default=[3, 5, 8], help="numbers of final epochs to average")
    p.add_argument("--bn-batches", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="default: RUN/swa.weights.h5")
    args = p.parse_args(argv)

    from emotion_net import build_training_model, load_weights_into
    from train import parse_widths, parse_zoom, run_options

    splits = ferdata.load(args.data)
    val, train = splits["PublicTest"], splits["Training"]
    faces = train.images[~train.not_a_face]
    checkpoints = epoch_checkpoints(args.run)
    options = run_options(args.run)
    zoom = parse_zoom(options.zoom)
    model = build_training_model(parse_widths(options.widths))
    needed = max(args.last)
    weights = []
    for path in checkpoints[-needed:]:
        load_weights_into(model, path)
        weights.append(model.get_weights())

    results, best = [], None
    for k in sorted(set(args.last)):
        chosen = weights[-k:]
        model.set_weights([np.mean([w[i] for w in chosen], axis=0) for i in range(len(chosen[0]))])
        reestimate_batch_norm(model, faces, args.bn_batches, 256, args.seed, zoom)
        out = model.predict(val.images[..., None].astype(np.float32), batch_size=512, verbose=0)
        mix = best_mix(out["original"], out["ferplus"], val)
        row = {
            "last": k,
            "epochs": [epoch_name(c) for c in checkpoints[-k:]],
            "score": round(mix.score, 4),
            **mix.summary(),
        }
        print(json.dumps(row), flush=True)
        results.append(row)
        if best is None or mix.score > best[0]:
            best = (mix.score, k, model.get_weights())
    assert best is not None
    out_path = args.out or args.run / "swa.weights.h5"
    model.set_weights(best[2])
    model.save_weights(out_path)
    (args.run / "swa.json").write_text(json.dumps({"chosen_last": best[1], "candidates": results}, indent=1))
    print(f"wrote {out_path} (average of the last {best[1]} epochs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
