"""Fit the music mood head (models/music_head.json) on a labelled folder, with artist-split cross-validation.

Host side only (scikit-learn). The evidence comes from the real scan (moodbox.music.library.scan with
musicmood's TrackAnalyser and ANALYSIS_VERSION, what `moodbox library scan` runs), its cache in
reports/music-eval/ so the music is listened to once; only the placement is left out, since the
head that places is what is being fitted. The head, decided before any figure was looked at:

- inputs: musicnn's 200-unit penultimate layer (nn:*), the logits of its 50 tags, and the signal cues
  (loudness, flux, onset rate, tempo, pulse clarity, brightness, mode, key clarity, harmonic change,
  roughness), each standardised on the dev set (a missing value scores as the mean);
- one ridge regression per axis on the label's sign (+1/-1), its penalty chosen by an inner 5-fold
  artist-split cross-validation (GroupKFold) over a fixed grid, by mean squared error;
- figures from nested cross-validation: 5 outer artist-split folds, the whole fit (standardisation,
  inner choice of the penalty, ridge) repeated inside each, and the out-of-fold scores of the dev set
  placed as one library by the device's own within-library normalisation (musicmood.place's);
- the shipped head is the same procedure on all of the dev set.

    python tools/fit_music_head.py ../shared/data/music-4q-dev            # make music-head
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "device"))
import evaluate_music  # noqa: E402
from moodbox.music import musicmood  # noqa: E402

CUES = (
    "loudness_lufs",
    "spectral_flux",
    "onset_rate",
    "log2:tempo_bpm",
    "pulse_clarity",
    "log10:brightness",
    "mode",
    "key_clarity",
    "harmonic_change",
    "roughness",
)
ALPHAS = tuple(float(a) for a in np.logspace(0, 5, 11))  # ridge penalties tried by the inner CV
OUTER_FOLDS, INNER_FOLDS = 5, 5
HEAD_VERSION = "1"


def input_names(tag_labels: tuple[str, ...], units: int) -> list[str]:
    return (
        [f"{musicmood.PENULTIMATE_PREFIX}{i}" for i in range(units)]
        + [f"logit:tag:{t}" for t in tag_labels]
        + list(CUES)
    )


def fit_axis(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[object, float]:
    """Standardise + ridge, the penalty chosen by inner artist-split CV; returns the fitted pipeline and alpha."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    # the device's arithmetic exactly: standardise, clip at musicmood.INPUT_CLIP, ridge
    clip = FunctionTransformer(np.clip, kw_args={"a_min": -musicmood.INPUT_CLIP, "a_max": musicmood.INPUT_CLIP})
    pipeline = make_pipeline(SimpleImputer(strategy="mean"), StandardScaler(), clip, Ridge())
    search = GridSearchCV(
        pipeline,
        {"ridge__alpha": list(ALPHAS)},
        cv=GroupKFold(n_splits=INNER_FOLDS),
        scoring="neg_mean_squared_error",
    )
    search.fit(x, y, groups=groups)
    return search.best_estimator_, float(search.best_params_["ridge__alpha"])


def shipped_input_names() -> list[str]:
    """The head's inputs for the shipped tagger: its tags and penultimate units, and the cues."""
    tagger = musicmood.MusicTagger(musicmood.default_model_path())
    return input_names(tagger.labels, tagger.penultimate_units)


def axis_targets(truth: Sequence[evaluate_music.Labelled]) -> dict[str, np.ndarray]:
    """What each axis' ridge is fitted to: the label's sign, +1/-1."""
    return {
        "valence": np.array([t.valence for t in truth], float),
        "arousal": np.array([t.arousal for t in truth], float),
    }


def out_of_fold(
    x: np.ndarray, targets: Mapping[str, np.ndarray], groups: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    """Each track's score on each axis from a head fitted without its artist's tracks (nested cross-validation: the
    outer folds' tracks and artists are never seen by their fit), and the penalty each outer fold chose."""
    from sklearn.model_selection import GroupKFold

    oof = {axis: np.zeros(len(x)) for axis in targets}
    chosen: dict[str, list[float]] = {axis: [] for axis in targets}
    for train, test in GroupKFold(n_splits=OUTER_FOLDS).split(x, groups=groups):
        for axis, y in targets.items():
            model, alpha = fit_axis(x[train], y[train], groups[train])
            oof[axis][test] = model.predict(x[test])  # type: ignore[attr-defined]
            chosen[axis].append(alpha)
    return oof, chosen


def placed_out_of_fold(
    labels: Mapping[str, evaluate_music.Labelled], analysed: Mapping[str, Mapping[str, float]]
) -> dict[str, tuple[float, float]]:
    """(valence, arousal) of each labelled track as a library it belongs to would have it placed by a head that
    never heard its artist: the out-of-fold scores, spread within the set as the figures above are."""
    files = sorted(f for f in analysed if f in labels)
    truth = [labels[f] for f in files]
    x = musicmood.head_inputs([analysed[f] for f in files], shipped_input_names())
    oof, _ = out_of_fold(x, axis_targets(truth), np.array([t.artist for t in truth]))
    placed = within_set(oof)
    return {f: (float(v), float(a)) for f, v, a in zip(files, placed["valence"], placed["arousal"], strict=True)}


def within_set(scores: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each axis' raw scores placed as the device places a library: spread out around the set's own centre."""
    return {axis: spread_out(s, *robust_centre_spread(s)) for axis, s in scores.items()}


def spread_out(scores: np.ndarray, centre: float, spread: float) -> np.ndarray:
    """The device's within-library placement of raw head scores (musicmood.place's last step)."""
    return np.asarray(np.tanh(musicmood.SPREAD * musicmood._robust_z(scores, centre, spread)), float)


def robust_centre_spread(scores: np.ndarray) -> tuple[float, float]:
    q25, median, q75 = np.percentile(scores, [25, 50, 75])
    return float(median), float((q75 - q25) / 1.349)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path, help="labelled folder (labels.csv), e.g. ../shared/data/music-4q-dev")
    p.add_argument("--cache", type=Path, default=ROOT / "reports" / "music-eval" / "dev-cache.sqlite")
    p.add_argument("--out", type=Path, default=ROOT / "models" / "music_head.json")
    p.add_argument(
        "--inputs",
        choices=("all", "no-penultimate", "penultimate", "tags+cues-old"),
        default="all",
        help="an ablation for the card, figures only (not written): leave out the penultimate layer, use it "
        "alone, or the old hand-weighted placement's inputs (tag logits and the seven old cues)",
    )
    args = p.parse_args(argv)

    labels = evaluate_music.read_labels(args.folder)
    analysed = analysed_evidence(args.folder, args.cache)
    files = sorted(f for f in analysed if f in labels)
    truth = [labels[f] for f in files]
    evidence = [analysed[f] for f in files]
    names = shipped_input_names()
    if args.inputs == "no-penultimate":
        names = [n for n in names if not n.startswith(musicmood.PENULTIMATE_PREFIX)]
    elif args.inputs == "penultimate":
        names = [n for n in names if n.startswith(musicmood.PENULTIMATE_PREFIX)]
    elif args.inputs == "tags+cues-old":
        new = (musicmood.PENULTIMATE_PREFIX, "key_clarity", "harmonic_change", "roughness")
        names = [n for n in names if not n.startswith(new)]
    x = musicmood.head_inputs(evidence, names)
    targets = axis_targets(truth)
    groups = np.array([t.artist for t in truth])
    print(f"{len(files)} labelled tracks, {len(set(groups))} artists, {x.shape[1]} inputs")
    oof, chosen = out_of_fold(x, targets, groups)
    print(f"inner CV's penalties per outer fold: {chosen}")
    placed = within_set(oof)
    cv = evaluate_music.print_report(
        f"artist-split nested {OUTER_FOLDS}-fold cross-validation, out-of-fold placement",
        placed["valence"],
        placed["arousal"],
        truth,
    )
    per_genre = evaluate_music.genre_figures(placed["valence"], placed["arousal"], truth)
    matrix = evaluate_music.confusion(placed["valence"], placed["arousal"], truth)
    print(f"confusion (rows: label Q1..Q4, columns: placed Q1..Q4):\n{matrix}")
    png = ROOT / "reports" / "music" / f"music_head_cv_confusion_{args.inputs}.png"
    title = f"{args.folder.name}: artist-split CV ({args.inputs}), acc {cv['quadrant_accuracy']:.3f}"
    evaluate_music.confusion_png(matrix, title, png)
    print(f"wrote {png}")

    if args.inputs != "all":
        print(f"ablation ({args.inputs}): figures only, {args.out} left as it is")
        return 0

    # the shipped head: the same procedure on all of the dev set
    head: dict[str, object] = {
        "version": HEAD_VERSION,
        "description": (
            "moodbox's music mood head: ridge regression per axis on standardised evidence "
            "(tools/fit_music_head.py, models/MUSIC_CARD.md)"
        ),
        "fitted_on": f"{args.folder.name}: {len(files)} clips, {len(set(groups))} artists",
        "fitted": datetime.date.today().isoformat(),
        "evidence_version": musicmood.EVIDENCE_VERSION,
        "tagger_sha256": json.loads(tagger_sidecar().read_text())["sha256"],
        "inputs": names,
    }
    models = {axis: fit_axis(x, y, groups) for axis, y in targets.items()}
    scalers = [model.named_steps["standardscaler"] for model, _ in models.values()]  # type: ignore[attr-defined]
    mean, scale = scalers[0].mean_, scalers[0].scale_
    assert all(np.allclose(s.mean_, mean) and np.allclose(s.scale_, scale) for s in scalers)
    head["mean"] = [float(f"{v:.7g}") for v in mean]
    head["scale"] = [float(f"{v:.7g}") for v in scale]
    for axis, (model, alpha) in models.items():
        ridge = model.named_steps["ridge"]  # type: ignore[attr-defined]
        centre, spread = robust_centre_spread(oof[axis])
        head[axis] = {
            "weights": [float(f"{w:.7g}") for w in ridge.coef_],
            "bias": float(f"{ridge.intercept_:.7g}"),
            "alpha": alpha,
            # the prior the device blends a small library's statistics with: the out-of-fold scores' median and spread
            "centre": float(f"{centre:.7g}"),
            "spread": float(f"{spread:.7g}"),
        }
        print(f"{axis}: ridge alpha {alpha:g} (inner artist-split CV on all {len(files)} tracks)")
    head["cross_validated"] = {
        "method": f"artist-split nested {OUTER_FOLDS}x{INNER_FOLDS}-fold CV (GroupKFold), out-of-fold placement",
        "overall": {k: round(v, 4) for k, v in cv.items()},
        "per_genre": {g: {k: round(v, 4) for k, v in f.items()} for g, f in per_genre.items()},
    }
    head["sha256"] = musicmood.head_sha256(head)
    args.out.write_text(json.dumps(head, indent=1) + "\n")
    # the written file, as the device reads it, gives the full fit's scores
    check = musicmood.MoodHead(args.out).scores(evidence)
    for i, (axis, (model, _)) in enumerate(models.items()):
        drift = float(np.abs(check[:, i] - model.predict(x)).max())  # type: ignore[attr-defined]
        assert drift < 1e-3, f"the written head drifts from scikit-learn's on {axis}: {drift}"
    print(f"wrote {args.out} (sha256 {head['sha256'][:12]})")
    return 0


def analysed_evidence(folder: Path, cache_path: Path) -> dict[str, Mapping[str, float]]:
    """Every track's evidence from the scan's own analysis and cache (tracks analysed before are read back)."""
    from moodbox.music.audio import AudioError
    from moodbox.music.library import Progress, scan
    from moodbox.music.scancache import ScanCache

    cache_path.parent.mkdir(parents=True, exist_ok=True)
    with ScanCache(cache_path, folder.resolve()) as cache, cache.scanning():
        result = scan(
            folder.resolve(),
            cache,
            lambda: musicmood.TrackAnalyser(),
            musicmood.ANALYSIS_VERSION,
            lambda evidence: [(0.0, 0.0)] * len(evidence),  # placement is what is being fitted
            progress=Progress(tty=False),
            decode_errors=(AudioError,),
        )
    print(f"scan: {result.analysed} analysed, {result.cached} from the cache {cache_path}, {result.failed} failed")
    return {t.file: t.evidence for t in result.tracks}


def tagger_sidecar() -> Path:
    return musicmood.default_model_path().with_suffix(".json")


if __name__ == "__main__":
    sys.exit(main())
