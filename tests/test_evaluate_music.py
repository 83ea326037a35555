"""tools/evaluate_music.py: figures on made-up placements with known answers; a labelled folder scanned for real."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import evaluate_music as em

MUSIC = Path(__file__).parent / "fixtures" / "music"


def labelled(quadrants: str) -> list[em.Labelled]:
    signs = {"Q1": (1, 1), "Q2": (-1, 1), "Q3": (-1, -1), "Q4": (1, -1)}
    return [
        em.Labelled(f"{i}.mp3", q, *signs[q], f"artist {i}", ("Pop/Rock",)) for i, q in enumerate(quadrants.split())
    ]


def test_rank_figures_against_hand_computed_values() -> None:
    assert em.spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 30, 40])) == pytest.approx(1.0)
    assert em.spearman(np.array([1.0, 2, 3, 4]), np.array([4.0, 3, 2, 1])) == pytest.approx(-1.0)
    np.testing.assert_allclose(em.ranks(np.array([5.0, 1, 5, 3])), [3.5, 1, 3.5, 2])  # ties share their mean rank
    # AUC: the share of (positive, negative) pairs ordered right, ties counted half
    assert em.auc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 1, 0, 0])) == 1.0
    assert em.auc(np.array([0.9, 0.1, 0.5, 0.2]), np.array([1, 1, 0, 0])) == pytest.approx(0.5)
    assert em.auc(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.5)
    assert np.isnan(em.auc(np.array([0.5, 0.6]), np.array([1, 1])))


def test_quadrants_and_within_half_auc() -> None:
    truth = labelled("Q1 Q2 Q3 Q4 Q1 Q4")
    valence = np.array([0.5, -0.5, -0.5, 0.5, 0.5, -0.6])  # the last calm-content track placed as sad
    arousal = np.array([0.5, 0.5, -0.5, -0.5, 0.5, -0.5])
    np.testing.assert_array_equal(em.quadrant_of(valence, arousal), [0, 1, 2, 3, 0, 2])
    f = em.figures(valence, arousal, truth)
    assert f["quadrant_accuracy"] == pytest.approx(5 / 6)
    assert f["recall_Q4"] == pytest.approx(0.5) and f["recall_Q1"] == 1.0
    assert f["valence_auc_q1_vs_q2"] == 1.0
    assert f["valence_auc_q4_vs_q3"] == pytest.approx(0.5)  # Q4 tracks 0.5 and -0.6 against the Q3 track at -0.5
    m = em.confusion(valence, arousal, truth)
    assert m.sum() == 6 and m[3, 2] == 1 and m[3, 3] == 1


def test_a_labelled_folder_through_the_real_scan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "labelled"
    folder.mkdir()
    for name in ("feelings.ogg", "metal_madness.mp3"):
        shutil.copy(MUSIC / name, folder / name)
    (folder / "labels.csv").write_text(
        "file,quadrant,valence,arousal,artist,genres\n"
        "feelings.ogg,Q4,1,-1,Sectoid,Pop/Rock\n"
        "metal_madness.mp3,Q2,-1,1,Sectoid,Pop/Rock; Metal\n"
    )
    out = tmp_path / "reports"
    assert em.main([str(folder), "--out", str(out), "--json", str(tmp_path / "figures.json")]) == 0
    printed = capsys.readouterr().out
    for words in ("valence Spearman", "4-quadrant accuracy", "Q4 vs Q3", "valence-arousal correlation"):
        assert words in printed
    assert "seconds per analysed track" in printed and "2 analysed" in printed
    image = cv2.imread(str(out / "music_quadrant_confusion.png"))
    assert image is not None and image.shape[0] > 300
    assert (tmp_path / "figures.json").stat().st_size > 0
