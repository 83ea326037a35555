"""Mood evidence and placement: features on synthetic signals, real music end to end, place() on libraries."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile

from moodbox.music import melspec, musicmood
from moodbox.music.audio import AudioError
from moodbox.music.musicmood import ANALYSIS_VERSION, TrackAnalyser, place

MUSIC = Path(__file__).parent / "fixtures" / "music"
RATE = 16000


@pytest.fixture(scope="module")
def analyser() -> TrackAnalyser:
    return TrackAnalyser()


def clicks(bpm: float, seconds: float = 12.0, amplitude: float = 0.5, seed: int = 0) -> np.ndarray:
    """Short decaying noise bursts on every beat: a drum machine with one sound."""
    rng = np.random.default_rng(seed)
    signal = np.zeros(int(seconds * RATE), np.float32)
    burst = (rng.normal(0, 1, 800) * np.exp(-np.arange(800) / 120)).astype(np.float32)
    for start in np.arange(0, seconds - 0.1, 60 / bpm):
        i = int(start * RATE)
        signal[i : i + burst.size] += amplitude * burst[: signal.size - i]
    return signal


def chord(semitones: tuple[int, ...], seconds: float = 6.0, root_hz: float = 261.63) -> np.ndarray:
    """A sustained chord of harmonic tones (1/k partials), as an organ would play it."""
    t = np.arange(int(seconds * RATE)) / RATE
    signal = np.zeros_like(t)
    for step in semitones:
        f0 = root_hz * 2 ** (step / 12)
        for k in range(1, 7):
            if k * f0 < RATE / 2:
                signal += np.sin(2 * np.pi * k * f0 * t) / k
    return (0.2 * signal / np.abs(signal).max()).astype(np.float32)


def features(analyser: TrackAnalyser, samples: np.ndarray) -> dict[str, float]:
    power = melspec.power_spectrogram(samples, 512, 256)
    log_mel = melspec.log_mel(power, analyser.tagger.filterbank)
    return musicmood.signal_features(samples, power, log_mel, RATE, RATE / 256)


@pytest.mark.parametrize("bpm", [90, 128, 150])
def test_tempo_and_onset_rate_of_a_click_track(analyser: TrackAnalyser, bpm: float) -> None:
    f = features(analyser, clicks(bpm))
    assert f["tempo_bpm"] == pytest.approx(bpm, rel=0.04)
    assert f["onset_rate"] == pytest.approx(bpm / 60, rel=0.1)
    assert f["pulse_clarity"] > 0.5


def test_louder_and_faster_raise_the_arousal_evidence(analyser: TrackAnalyser) -> None:
    slow_quiet = features(analyser, clicks(80, amplitude=0.1))
    fast_loud = features(analyser, clicks(150, amplitude=0.4))
    assert fast_loud["loudness_lufs"] - slow_quiet["loudness_lufs"] > 10
    assert fast_loud["onset_rate"] > slow_quiet["onset_rate"]
    assert fast_loud["spectral_flux"] > slow_quiet["spectral_flux"]
    assert fast_loud["tempo_bpm"] > slow_quiet["tempo_bpm"]


def lufs(samples: np.ndarray) -> float:
    return musicmood.loudness_lufs(melspec.power_spectrogram(samples.astype(np.float32), 512, 256), RATE)


def test_loudness_follows_bs1770() -> None:
    """ITU-R BS.1770: a full-scale 997 Hz sine reads -3.01 LUFS; K-weighting hears 3 kHz louder than 60 Hz."""
    t = np.arange(3 * RATE) / RATE
    assert lufs(np.sin(2 * np.pi * 997 * t)) == pytest.approx(-3.01, abs=0.02)
    assert lufs(0.1 * np.sin(2 * np.pi * 997 * t)) == pytest.approx(-23.01, abs=0.02)
    # the 48 kHz filters' own responses give -6.60 and +0.11 LUFS (scipy.signal.lfilter)
    assert lufs(np.sin(2 * np.pi * 60 * t)) == pytest.approx(-6.60, abs=0.3)
    assert lufs(np.sin(2 * np.pi * 3000 * t)) == pytest.approx(0.11, abs=0.05)
    assert lufs(np.zeros(RATE)) == -70


def test_loudness_gates_out_silence() -> None:
    """A quiet pause does not make a song quieter: blocks 10 LU below the rest are gated out."""
    t = np.arange(4 * RATE) / RATE
    tone = 0.5 * np.sin(2 * np.pi * 997 * t)
    with_pause = np.concatenate([tone, np.zeros(4 * RATE), tone])
    assert lufs(with_pause) == pytest.approx(lufs(tone), abs=0.3)


@pytest.mark.parametrize("root", [261.63, 196.0, 349.23])  # C, G, F
def test_major_triad_reads_major_and_minor_reads_minor(analyser: TrackAnalyser, root: float) -> None:
    major = features(analyser, chord((0, 4, 7), root_hz=root))
    minor = features(analyser, chord((0, 3, 7), root_hz=root))
    assert major["mode"] > 0 > minor["mode"]
    assert major["key_clarity"] > 0.5 and minor["key_clarity"] > 0.5


def test_brightness_follows_the_high_frequencies(analyser: TrackAnalyser) -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.1, 4 * RATE).astype(np.float32)
    dull = np.convolve(noise, np.ones(16) / 16, mode="same").astype(np.float32)  # a crude low-pass
    assert features(analyser, noise)["brightness"] > 3 * features(analyser, dull)["brightness"]
    assert features(analyser, noise)["centroid_hz"] > features(analyser, dull)["centroid_hz"]


def tones(freqs: tuple[float, ...], seconds: float = 4.0) -> np.ndarray:
    """Pure sine tones of equal amplitude sounding together."""
    t = np.arange(int(seconds * RATE)) / RATE
    signal = np.sum([np.sin(2 * np.pi * f * t) for f in freqs], axis=0)
    return (0.2 * signal / np.abs(signal).max()).astype(np.float32)


def test_roughness_ranks_intervals_as_plomp_and_levelt() -> None:
    """A minor second beats (rough), a major third less, a fifth hardly, a lone tone not at all."""
    rough = {name: musicmood.roughness(tones(f), RATE) for name, f in {
        "unison": (440.0,),
        "fifth": (440.0, 660.0),
        "major third": (440.0, 554.37),
        "minor second": (440.0, 466.16),
    }.items()}  # fmt: skip
    assert rough["unison"] < 1e-6
    assert rough["fifth"] < rough["major third"] < rough["minor second"]
    assert rough["minor second"] > 10 * rough["fifth"]
    # of organ tones (harmonics included), the tritone is rougher than the fifth, and level does not matter
    fifth, tritone = chord((0, 7)), chord((0, 6))
    assert musicmood.roughness(tritone, RATE) > 1.5 * musicmood.roughness(fifth, RATE)
    assert musicmood.roughness(0.1 * fifth, RATE) == pytest.approx(musicmood.roughness(fifth, RATE), rel=1e-3)
    assert musicmood.roughness(np.zeros(RATE, np.float32), RATE) == 0.0


def test_harmonic_change_is_zero_for_a_held_chord_and_high_for_changing_chords(analyser: TrackAnalyser) -> None:
    held = chord((0, 4, 7), seconds=8.0)
    # C major and F# major, two seconds each: chords that share no pitch class
    changing = np.concatenate([chord((0, 4, 7), 2.0), chord((6, 10, 13), 2.0)] * 2)
    related = np.concatenate([chord((0, 4, 7), 2.0), chord((7, 11, 14), 2.0)] * 2)  # C and G share G
    h_held = features(analyser, held)["harmonic_change"]
    h_related = features(analyser, related)["harmonic_change"]
    h_changing = features(analyser, changing)["harmonic_change"]
    assert h_held < 0.02
    assert h_held < h_related < h_changing
    assert h_changing > 0.2
    assert musicmood.harmonic_change(np.zeros((100, 12)), 7.8) == 0.0


def test_evidence_holds_musicnns_penultimate_layer(analyser: TrackAnalyser) -> None:
    """nn:0 ... nn:199: the mean over the patches of the tagger's 200-unit layer, from the same invoke as the tags."""
    samples = decode_fixture("metal_madness.mp3")
    evidence = analyser.evidence(samples)
    penultimate = np.array([evidence[f"nn:{i}"] for i in range(200)])
    assert not any(k.startswith("nn:") and int(k[3:]) >= 200 for k in evidence)
    log_mel = analyser.tagger.log_mel(samples)
    _, patches = analyser.tagger.patch_outputs(log_mel)
    assert patches.shape[1] == 200
    np.testing.assert_allclose(penultimate, patches.mean(axis=0), rtol=1e-4, atol=1e-5)
    assert np.all(np.isfinite(penultimate)) and np.ptp(penultimate) > 0.5  # a real layer, not a constant


def decode_fixture(name: str) -> np.ndarray:
    from moodbox.music.audio import decode

    return decode(MUSIC / name, RATE)


def test_real_music_evidence_is_json_and_tells_calm_from_heavy(analyser: TrackAnalyser) -> None:
    calm = analyser.analyse(MUSIC / "feelings.ogg")
    heavy = analyser.analyse(MUSIC / "metal_madness.mp3")
    for evidence in (calm, heavy):
        assert json.loads(json.dumps(evidence)) == evidence
        assert all(isinstance(v, float) and math.isfinite(v) for v in evidence.values())
        assert len([k for k in evidence if k.startswith("tag:")]) == 50
        assert len([k for k in evidence if k.startswith("nn:")]) == 200
    assert calm["roughness"] < heavy["roughness"]
    (calm_v, calm_a), (heavy_v, heavy_a) = place([calm, heavy])
    assert heavy_a > calm_a
    assert all(-1 <= x <= 1 for x in (calm_v, calm_a, heavy_v, heavy_a))
    assert isinstance(ANALYSIS_VERSION, str) and ANALYSIS_VERSION


def test_a_long_track_is_analysed_from_its_middle(analyser: TrackAnalyser, tmp_path: Path) -> None:
    # 70 s: 20 s of silence, 30 s of clicks, 20 s of silence; the analysed excerpt is the clicks alone
    silence = np.zeros(20 * RATE, np.float32)
    path = tmp_path / "long.flac"
    soundfile.write(path, np.concatenate([silence, clicks(120, seconds=30.0), silence]), RATE)
    evidence = analyser.analyse(path)
    assert evidence["duration_s"] == pytest.approx(30.0, abs=0.01)
    assert evidence["onset_rate"] == pytest.approx(2.0, rel=0.1)


def test_a_truncated_file_is_analysed_from_what_is_there(
    analyser: TrackAnalyser, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """An interrupted copy: the FLAC header still says 70 s, the data ends near 21 s, past which the middle lies."""
    path = tmp_path / "cut.flac"
    soundfile.write(path, clicks(120, seconds=70.0), RATE)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 10])
    evidence = analyser.analyse(path)
    assert 15 < evidence["duration_s"] < 30
    assert evidence["onset_rate"] == pytest.approx(2.0, rel=0.1)
    assert capfd.readouterr().err == ""


def test_undecodable_file_raises_audio_error(analyser: TrackAnalyser, tmp_path: Path) -> None:
    path = tmp_path / "broken.ogg"
    path.write_bytes(b"OggS" + bytes(500))
    with pytest.raises(AudioError):
        analyser.analyse(path)


def evidence_from_inputs(names: list[str], values: np.ndarray) -> dict[str, float]:
    """Evidence whose head inputs are `values` (each transform in musicmood.head_input undone)."""
    evidence = {}
    for name, v in zip(names, values, strict=True):
        transform, _, key = name.partition(":") if name.split(":")[0] in ("logit", "log2", "log10") else ("", "", name)
        if transform == "logit":
            evidence[key] = float(1 / (1 + math.exp(-v)))
        elif transform == "log2":
            evidence[key] = float(2.0**v)
        elif transform == "log10":
            evidence[key] = float(10.0**v)
        else:
            evidence[key] = float(v)
    return evidence


def synthetic_library(n: int, seed: int = 0) -> list[dict[str, float]]:
    """Evidence of n made-up tracks, each head input drawn around the dev set's mean with its spread."""
    head = musicmood.load_head()
    rng = np.random.default_rng(seed)
    inputs = head.mean + head.scale * rng.normal(0, 1, (n, len(head.inputs)))
    return [evidence_from_inputs(list(head.inputs), row) for row in inputs]


def test_the_shipped_head_reads_the_evidence_the_analyser_writes(analyser: TrackAnalyser) -> None:
    """Every input of models/music_head.json is in a real track's evidence, and round-trips through our helper."""
    head = musicmood.load_head()
    evidence = analyser.analyse(MUSIC / "feelings.ogg")
    row = musicmood.head_inputs([evidence], head.inputs)
    assert row.shape == (1, len(head.inputs)) and np.all(np.isfinite(row))
    assert sum(name.startswith(musicmood.PENULTIMATE_PREFIX) for name in head.inputs) == 200
    again = musicmood.head_inputs([evidence_from_inputs(list(head.inputs), row[0])], head.inputs)
    np.testing.assert_allclose(again, row, rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(head.scores([evidence])))


def test_place_empty_and_single_track() -> None:
    assert place([]) == []
    [(v, a)] = place(synthetic_library(1))
    assert -1 < v < 1 and -1 < a < 1


def test_place_is_deterministic_and_order_independent() -> None:
    library = synthetic_library(200, seed=1)
    first = place(library)
    assert place(library) == first
    order = np.random.default_rng(2).permutation(len(library))
    shuffled = place([library[i] for i in order])
    assert shuffled == [first[i] for i in order]


def test_place_spreads_a_large_library_over_the_plane() -> None:
    placed = np.array(place(synthetic_library(3000, seed=3)))
    assert np.all(np.abs(placed) <= 1)
    for axis in placed.T:
        assert abs(float(np.median(axis))) < 0.1
        assert 0.3 < float(np.percentile(axis, 75) - np.percentile(axis, 25)) < 1.2
        assert float(axis.min()) < -0.8 and float(axis.max()) > 0.8


def shifted(library: list[dict[str, float]], axis: int, amount: float) -> list[dict[str, float]]:
    """The library moved along the head's direction for one axis, by `amount` standardised units per input."""
    head = musicmood.load_head()
    direction = np.sign(head.weights[axis]) * head.scale * amount
    rows = musicmood.head_inputs(library, head.inputs) + direction
    return [evidence_from_inputs(list(head.inputs), row) for row in rows]


@pytest.mark.parametrize("axis", [0, 1])
def test_place_is_relative_to_the_library(axis: int) -> None:
    """The same track sits lower among livelier (happier) tracks than among calmer (sadder) ones:
    a library of only quiet folk still has a calm and a lively end."""
    library = synthetic_library(100, seed=4)
    track, rest = library[0], library[1:]
    above, below = shifted(rest, axis, 0.5), shifted(rest, axis, -0.5)
    among_above, among_below = place([track, *above])[0][axis], place([track, *below])[0][axis]
    assert among_above < -0.3 < 0.3 < among_below


def test_place_does_not_magnify_tiny_differences() -> None:
    """A library of near-identical tracks: 0.1 LU louder is not 'the most energetic track you own'."""
    same = synthetic_library(1, seed=7)[0]
    library = [dict(same) for _ in range(100)] + [dict(same, loudness_lufs=same["loudness_lufs"] + 0.1)]
    valence, arousal = place(library)[-1]
    assert abs(arousal) < 0.3 and abs(valence) < 0.3


def test_place_survives_a_non_finite_value() -> None:
    library = synthetic_library(20, seed=6)
    library[3] = dict(library[3], tempo_bpm=float("nan"), loudness_lufs=float("-inf"))
    del library[5]["mode"]  # evidence written by another version lacks a measurement
    library[6] = {"duration_s": 30.0}  # or all of them
    placed = place(library)
    assert all(math.isfinite(x) and -1 <= x <= 1 for point in placed for x in point)


@pytest.mark.parametrize("axis", [0, 1])
def test_the_heaviest_input_moves_its_axis_the_right_way(axis: int) -> None:
    head = musicmood.load_head()
    strongest = int(np.argmax(np.abs(head.weights[axis] / head.scale)))
    name = head.inputs[strongest]
    library = synthetic_library(50, seed=5)
    inputs = musicmood.head_inputs(library[:1], head.inputs)[0]
    inputs[strongest] += np.sign(head.weights[axis, strongest]) * head.scale[strongest]
    moved = evidence_from_inputs(list(head.inputs), inputs)
    assert place([moved, *library[1:]])[0][axis] > place(library)[0][axis], name


def head_file(tmp_path: Path, change: dict[str, object] | None = None, sign: bool = True) -> Path:
    meta = json.loads(musicmood.default_head_path().read_text())
    meta.update(change or {})
    if sign:
        meta["sha256"] = musicmood.head_sha256(meta)
    path = tmp_path / "music_head.json"
    path.write_text(json.dumps(meta))
    return path


def test_a_damaged_or_missing_head_is_refused_naming_the_fix(tmp_path: Path) -> None:
    meta = json.loads(musicmood.default_head_path().read_text())
    assert meta["sha256"] == musicmood.head_sha256(meta)
    assert musicmood.MoodHead(head_file(tmp_path)).inputs == musicmood.load_head().inputs
    weights = list(meta["valence"]["weights"])
    weights[0] += 1.0
    tampered = dict(meta["valence"], weights=weights)
    for path in (
        head_file(tmp_path, {"valence": tampered}, sign=False),  # numbers changed, sha not
        head_file(tmp_path, {"mean": meta["mean"][:-1]}),  # one number short
        head_file(tmp_path, {"scale": [0.0] * len(meta["scale"])}),
        tmp_path / "absent.json",
    ):
        with pytest.raises(musicmood.ModelError, match="music_head.json"):
            musicmood.MoodHead(path)
    (tmp_path / "garbage.json").write_bytes(b"\xff\x00not json")
    with pytest.raises(musicmood.ModelError, match="unreadable"):
        musicmood.MoodHead(tmp_path / "garbage.json")


def test_analysis_version_follows_the_tagger_but_not_the_head() -> None:
    sidecar = json.loads(musicmood.default_model_path().with_suffix(".json").read_text())
    assert f"{musicmood.EVIDENCE_VERSION}-{sidecar['sha256'][:12]}" == ANALYSIS_VERSION
    head = json.loads(musicmood.default_head_path().read_text())
    assert head["evidence_version"] == musicmood.EVIDENCE_VERSION
    assert head["tagger_sha256"] == sidecar["sha256"]


def test_bench_music_reports_seconds_per_track(tmp_path: Path) -> None:
    import bench

    out = tmp_path / "music.json"
    assert bench.main(["--json", str(out), "music", "--music", str(MUSIC), "--repeat", "1"]) == 0
    figures = json.loads(out.read_text())
    assert figures["tracks"] == 2 and figures["runs"] == 2
    assert figures["cpu_seconds_per_track"]["total"]["median"] > 0


def test_evidence_keys_are_shared_between_tracks(analyser: TrackAnalyser) -> None:
    """~330 keys a track: a large library must not hold a copy of every key string per track."""
    from moodbox.music.scancache import load_evidence

    one = analyser.evidence(clicks(100, seconds=4.0))
    two = analyser.evidence(clicks(140, seconds=4.0))
    assert all(a is b for a, b in zip(one, two, strict=True))
    stored = [load_evidence(json.dumps(e)) for e in (one, two)]
    assert stored[0] == one and all(a is b for a, b in zip(*stored, strict=True))
