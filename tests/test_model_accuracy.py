"""The committed model's figures on FER2013 PrivateTest (skipped where the dataset is absent)."""

import numpy as np

import ferdata
from moodbox.emotion import EmotionClassifier


def test_private_test_accuracy(dataset, model_path):
    test = ferdata.load(dataset)["PrivateTest"]
    classifier = EmotionClassifier(model_path)
    pred = np.array([np.argmax(list(classifier.predict(face).values())) for face in test.images])
    original = (pred == test.labels).mean()
    valid = test.ferplus_major >= 0
    ferplus = (pred[valid] == test.ferplus_major[valid]).mean()
    assert original >= 0.68, f"PrivateTest accuracy on original labels {original:.4f} < 0.68"
    assert ferplus >= 0.80, f"PrivateTest accuracy on FER+ majority labels {ferplus:.4f} < 0.80"
