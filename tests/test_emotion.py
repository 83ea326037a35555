"""EmotionClassifier on the committed int8 model: real LiteRT inference, real faces."""

import cv2
import numpy as np
import pytest

from conftest import labelled_faces, read_grey
from moodbox.vision.emotion import LABELS, EmotionClassifier, ModelError

FACES = labelled_faces()


def test_model_is_full_int8(classifier):
    assert classifier._input["dtype"] == np.int8
    assert classifier._output["dtype"] == np.int8
    assert classifier.input_size == (48, 48)


@pytest.mark.parametrize(
    "face",
    [
        np.full((48, 48), 128, np.uint8),
        np.random.default_rng(0).integers(0, 256, (200, 160), dtype=np.uint8),
        np.random.default_rng(1).integers(0, 256, (31, 17, 3), dtype=np.uint8),
        np.random.default_rng(2).integers(0, 256, (90, 90, 4), dtype=np.uint8),
        np.zeros((1, 1), np.uint8),
    ],
    ids=["grey48", "grey-large", "bgr-small-odd", "bgra", "one-pixel"],
)
def test_any_size_grey_or_colour_gives_a_distribution(classifier, face):
    probs = classifier.predict(face)
    assert list(probs) == list(LABELS)
    assert all(0.0 <= p <= 1.0 for p in probs.values())
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-6)


def test_colour_and_grey_of_the_same_face_agree(classifier):
    _, path = FACES[0]
    grey = read_grey(path)
    bgr = np.repeat(grey[:, :, None], 3, axis=2)
    assert classifier.predict(grey) == pytest.approx(classifier.predict(bgr), abs=1e-6)


def test_resizing_is_done_for_the_caller(classifier):
    """An enlarged face must read as the same face: the classifier resizes it back itself."""
    _, path = FACES[0]
    grey = read_grey(path)
    big = cv2.resize(grey, (192, 192), interpolation=cv2.INTER_CUBIC)
    small, large = classifier.predict(grey), classifier.predict(big)
    assert max(small, key=small.get) == max(large, key=large.get)


def test_a_non_square_crop_is_read_by_its_middle_square_not_squeezed(classifier):
    _, path = FACES[0]
    face = cv2.resize(read_grey(path), (96, 96))
    portrait = np.vstack([np.full((20, 96), 255, np.uint8), face, np.zeros((20, 96), np.uint8)])
    landscape = np.hstack([np.zeros((96, 30), np.uint8), face, np.full((96, 30), 90, np.uint8)])
    expected = classifier.predict(face)
    assert classifier.predict(portrait) == pytest.approx(expected, abs=1e-6)
    assert classifier.predict(landscape) == pytest.approx(expected, abs=1e-6)


def test_input_is_quantised_raw_pixels(classifier):
    """The model's contract: q = pixel/scale + zero_point, i.e. pixel - 128 for this model."""
    face = np.arange(48 * 48, dtype=np.int64).reshape(48, 48) % 256
    tensor = classifier.preprocess(face.astype(np.uint8))
    assert tensor.shape == (1, 48, 48, 1)
    np.testing.assert_array_equal(tensor[0, :, :, 0].astype(np.int64), face - 128)


@pytest.mark.parametrize(("label", "path"), FACES, ids=[f"{label}-{p.stem}" for label, p in FACES])
def test_real_faces_are_classified_as_labelled(classifier, label, path):
    probs = classifier.predict(read_grey(path))
    assert max(probs, key=probs.get) == label, probs


def test_fixtures_cover_every_label():
    assert {label for label, _ in FACES} == set(LABELS)


@pytest.mark.parametrize(
    "face",
    [np.zeros((0, 48), np.uint8), np.zeros((48, 48), np.float32), np.zeros((4, 4, 2), np.uint8), np.zeros(5, np.uint8)],
    ids=["empty", "float", "two-channel", "1d"],
)
def test_bad_faces_are_rejected_clearly(classifier, face):
    with pytest.raises(ValueError, match="face must"):
        classifier.predict(face)


def test_missing_model_names_the_fix(tmp_path):
    with pytest.raises(ModelError, match=r"model file not found: .*nope.tflite; set model.path"):
        EmotionClassifier(tmp_path / "nope.tflite")


def test_corrupt_model_is_a_model_error(tmp_path):
    bad = tmp_path / "corrupt.tflite"
    bad.write_bytes(b"this is not a flatbuffer" * 10)
    with pytest.raises(ModelError, match="is not a usable TFLite model"):
        EmotionClassifier(bad, verify=False)


def test_truncated_model_is_a_model_error(tmp_path, model_path):
    bad = tmp_path / "truncated.tflite"
    bad.write_bytes(model_path.read_bytes()[:4000])
    with pytest.raises(ModelError, match="is not a usable TFLite model"):
        EmotionClassifier(bad, verify=False)


def test_wrong_shaped_model_is_a_model_error():
    from conftest import ROOT

    with pytest.raises(ModelError, match=r"has input \(1, 10\) and output \(1, 3\)"):
        EmotionClassifier(ROOT / "tests" / "fixtures" / "wrong_shape.tflite", verify=False)


RESTORE = "restore models/emotion.tflite and models/emotion.json together"


def copy_model(folder, model_path, meta=None):
    """The shipped model and its emotion.json in `folder`, the json optionally edited."""
    import json
    import shutil

    folder.mkdir(exist_ok=True)
    model = folder / "emotion.tflite"
    shutil.copy(model_path, model)
    data = json.loads(model_path.with_suffix(".json").read_text())
    (folder / "emotion.json").write_text(json.dumps(meta(data) if meta else data))
    return model


def test_the_shipped_model_matches_its_metadata(model_path):
    import hashlib
    import json

    meta = json.loads(model_path.with_suffix(".json").read_text())
    assert meta["sha256"] == hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert EmotionClassifier(model_path).labels == tuple(meta["labels"])


def test_every_damaged_copy_is_refused(tmp_path, model_path):
    """32 random bytes flipped: such copies used to load and run silently (5 of 12)."""
    rng = np.random.default_rng(12)
    good = model_path.read_bytes()
    for n in range(12):
        model = copy_model(tmp_path / f"copy{n}", model_path)
        damaged = bytearray(good)
        for i in rng.choice(len(damaged), 32, replace=False):
            damaged[i] ^= int(rng.integers(1, 256))
        model.write_bytes(bytes(damaged))
        with pytest.raises(ModelError) as err:
            EmotionClassifier(model)
        assert "does not match the sha256 in emotion.json" in str(err.value) and RESTORE in str(err.value)


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        (None, "model metadata .*emotion.json is missing"),
        ("{ not json", "cannot read model metadata .*not valid JSON"),
        ('["a list"]', "lacks sha256 or labels"),
        (lambda m: {k: v for k, v in m.items() if k != "sha256"}, "lacks sha256 or labels"),
        (lambda m: {**m, "sha256": "0" * 64}, "does not match the sha256"),
        (lambda m: {**m, "labels": m["labels"][:6]}, "labels in .* must be the moods"),
        (lambda m: {**m, "labels": [*m["labels"][:6], "bored"]}, "labels in .* must be the moods"),
    ],
    ids=["missing", "not-json", "not-a-mapping", "no-sha256", "wrong-sha256", "six-labels", "unknown-label"],
)
def test_metadata_problems_are_one_clear_line(tmp_path, model_path, meta, message):
    model = copy_model(tmp_path, model_path, meta if callable(meta) else None)
    if meta is None:
        (tmp_path / "emotion.json").unlink()
    elif isinstance(meta, str):
        (tmp_path / "emotion.json").write_text(meta)
    with pytest.raises(ModelError, match=message) as err:
        EmotionClassifier(model)
    assert RESTORE in str(err.value) and "\n" not in str(err.value)


def test_labels_come_from_the_metadata_in_its_order(tmp_path, model_path, classifier):
    """The output order is the json's: a model exported with another label order reads right."""
    swapped = copy_model(tmp_path, model_path, lambda m: {**m, "labels": [*reversed(m["labels"])]})
    reordered = EmotionClassifier(swapped)
    assert reordered.labels == tuple(reversed(LABELS))
    face = read_grey(FACES[0][1])
    plain, flipped = classifier.predict(face), reordered.predict(face)
    assert list(flipped) == list(reversed(LABELS))
    assert [flipped[label] for label in reversed(LABELS)] == pytest.approx(list(plain.values()))
