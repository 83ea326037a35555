"""`moodbox library`: the scan (real analyser on real audio files, real SQLite cache) and the mood playlists
written to a real MPD and read back."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from mpd_sandbox import MpdSandbox, make_library

from conftest import ROOT
from moodbox import config
from moodbox.base.moods import MOODS
from moodbox.music.library import Progress, ScanResult, root_and_within, scan
from moodbox.music.mood_playlists import MOOD_POINTS, plan, share_size
from moodbox.music.scancache import CacheError, ScanCache


def moodbox(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moodbox", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def analysis():
    from moodbox.music import musicmood

    return musicmood


@pytest.fixture
def music(tmp_path) -> Path:
    """Seven real WAV songs (a chord per mood, 3 s each), laid out <mood>/<mood>-1.wav as MPD's sandbox does."""
    make_library(tmp_path, songs_per_mood=1, song_seconds=3)
    return tmp_path / "music"


def counting(musicmood, seen: list[str], stop_after: int | None = None):
    """The real analyser, recording each file it analyses (and, for the Ctrl-C test, interrupted after k files)."""

    class Counting(musicmood.TrackAnalyser):
        def analyse(self, path: Path) -> dict[str, float]:
            if stop_after is not None and len(seen) == stop_after:
                raise KeyboardInterrupt
            found = super().analyse(path)
            seen.append(Path(path).name)
            return found

    return Counting


def scan_with(musicmood, root: Path, cache: Path, analyser, **kwargs) -> ScanResult:
    from moodbox.music.audio import AudioError

    quiet = Progress(stream=io.StringIO(), tty=False)
    with ScanCache(cache, root) as c:
        return scan(
            root,
            c,
            analyser,
            musicmood.ANALYSIS_VERSION,
            musicmood.place,
            progress=quiet,
            decode_errors=(AudioError,),
            **kwargs,
        )


def test_rescan_analyses_only_what_changed_and_forgets_what_left(analysis, music, tmp_path):
    cache = tmp_path / "cache.sqlite"
    seen: list[str] = []
    first = scan_with(analysis, music, cache, counting(analysis, seen))
    assert first.analysed == 7 and first.cached == 0 and len(seen) == 7
    assert [t.file for t in first.tracks] == sorted(f"{m}/{m}-1.wav" for m in MOODS)
    for t in first.tracks:
        assert -1 <= t.valence <= 1 and -1 <= t.arousal <= 1 and t.evidence

    seen.clear()
    again = scan_with(analysis, music, cache, counting(analysis, seen))
    assert seen == [] and again.analysed == 0 and again.cached == 7
    assert [(t.file, t.valence, t.arousal) for t in again.tracks] == [
        (t.file, t.valence, t.arousal) for t in first.tracks
    ]

    touched = music / "sad" / "sad-1.wav"
    info = touched.stat()
    os.utime(touched, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    (music / "fear" / "fear-1.wav").unlink()
    seen.clear()
    third = scan_with(analysis, music, cache, counting(analysis, seen))
    assert seen == ["sad-1.wav"] and third.analysed == 1 and third.cached == 5 and third.removed == 1
    with ScanCache(cache, music) as c:
        assert "fear/fear-1.wav" not in c.files() and len(c.files()) == 6


def test_ctrl_c_keeps_every_finished_track_and_the_next_scan_resumes(analysis, music, tmp_path):
    cache = tmp_path / "cache.sqlite"
    seen: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        scan_with(analysis, music, cache, counting(analysis, seen, stop_after=3))
    assert len(seen) == 3
    with ScanCache(cache, music) as c:
        assert {Path(f).name for f in c.files()} == set(seen)
    done_before = list(seen)
    seen.clear()
    resumed = scan_with(analysis, music, cache, counting(analysis, seen))
    assert resumed.cached == 3 and resumed.analysed == 4 and not set(seen) & set(done_before)
    assert len(resumed.tracks) == 7


def test_scan_json_prints_a_line_per_track_and_a_summary_and_skips_a_corrupt_file_in_one_line(music, tmp_path):
    (music / "happy" / "broken.mp3").write_bytes(b"ID3\x04" + bytes(4000))  # an ID3 tag, then no audio frames
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"library:\n  music_dir: {music}\n  cache: {tmp_path / 'cache.sqlite'}\n")

    result = moodbox("--config", str(cfg), "library", "scan", "--json")
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stderr.splitlines() if "broken.mp3" in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    *tracks, summary = (json.loads(line) for line in result.stdout.splitlines())
    assert [t["file"] for t in tracks] == sorted(f"{m}/{m}-1.wav" for m in MOODS)  # relative: MPD's names
    for t in tracks:
        assert set(t) == {"file", "valence", "arousal", "evidence"}
        assert -1 <= t["valence"] <= 1 and -1 <= t["arousal"] <= 1
        assert t["evidence"] and all(isinstance(v, int | float) for v in t["evidence"].values())
    assert summary["tracks"] == 7 and summary["analysed"] == 7 and summary["failed"] == 1
    assert summary["cached"] == 0 and summary["removed"] == 0

    again = moodbox("--config", str(cfg), "library", "scan", "--json")
    summary = json.loads(again.stdout.splitlines()[-1])
    assert summary["analysed"] == 0 and summary["cached"] == 7 and summary["failed"] == 1  # not retried
    assert "broken.mp3" not in again.stderr


def test_a_folder_inside_the_music_dir_keeps_mpds_names(music, tmp_path):
    assert root_and_within(music / "sad", music) == (music.resolve(), "sad")
    assert root_and_within(None, music) == (music.resolve(), "")
    assert root_and_within(tmp_path, music) == (tmp_path.resolve(), "")


def test_missing_music_dir_is_one_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"library:\n  music_dir: {tmp_path / 'nowhere'}\n  cache: {tmp_path / 'c.sqlite'}\n")
    result = moodbox("--config", str(cfg), "library", "scan")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "library.music_dir" in result.stderr and "Traceback" not in result.stderr


def test_an_unusable_cache_is_one_line_and_the_scan_stops_before_analysing(music, tmp_path):
    """A scan that cannot keep what it finds would analyse the whole library every night: it stops at once."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"library:\n  music_dir: {music}\n  cache: {blocker / 'sub' / 'c.sqlite'}\n")
    result = moodbox("--config", str(cfg), "library", "scan", "--json")
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "scan cache" in line and "library.cache" in line and "Traceback" not in result.stderr


def test_a_read_only_cache_file_is_found_out_before_the_first_track():
    """A cache the scan cannot write is refused when opened, naming the key, not after a track's analysis."""
    folder = Path(tempfile.mkdtemp(prefix="moodbox-ro-"))  # a folder another user can enter (root drops to nobody)
    try:
        folder.chmod(0o777)  # the folder writable: only the file itself is read-only
        cache = folder / "c.sqlite"
        with ScanCache(cache, folder) as c:
            c.store("a.wav", 1, 2, "v", evidence={"x": 1.0})
        cache.chmod(0o444)
        probe = (
            "import sys; from pathlib import Path; from moodbox.music.scancache import ScanCache, CacheError\n"
            "path, root = Path(sys.argv[1]), Path(sys.argv[2])\n"
            "try:\n    ScanCache(path, root)\nexcept CacheError as e:\n    print('refused:', e)\n"
        )
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*as_user, sys.executable, "-c", probe, str(cache), str(folder)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        (refused,) = result.stdout.splitlines()
        assert refused.startswith("refused: cannot use the scan cache") and "library.cache" in refused
    finally:
        shutil.rmtree(folder)


def test_a_file_that_is_not_a_cache_is_refused_and_left_untouched(tmp_path):
    cache = tmp_path / "c.sqlite"
    cache.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(CacheError, match="not a moodbox scan cache"):
        ScanCache(cache, tmp_path)
    assert cache.read_bytes() == b"this is not SQLite" * 100 and not (tmp_path / "c.sqlite.corrupt").exists()
    with pytest.raises(CacheError, match="c.sqlite is a file, not a folder"):
        ScanCache(cache / "x.sqlite", tmp_path)  # under a file: no folder can be made there


def test_progress_bar_shows_an_eta_on_a_terminal_and_a_line_a_minute_elsewhere():
    now = [0.0]
    tty = io.StringIO()
    bar = Progress(stream=tty, clock=lambda: now[0], tty=True)
    bar.start(4)
    bar.show("a/one.mp3")
    assert "0/4" in tty.getvalue() and "a/one.mp3" in tty.getvalue()
    now[0] = 2.0
    bar.step()
    bar.show("a/two.mp3")
    assert "25%" in tty.getvalue() and "1/4" in tty.getvalue() and "ETA 0:06  a/two.mp3" in tty.getvalue()
    bar.note("skipped b.mp3: not audio")
    assert "\r\x1b[Kskipped b.mp3: not audio\n" in tty.getvalue()

    log = io.StringIO()
    plain = Progress(stream=log, clock=lambda: now[0], tty=False, every=60)
    now[0] = 0.0
    plain.start(100)
    for n in range(1, 100):
        now[0] = n * 1.0
        plain.show(f"{n}.mp3")
        plain.step()
    lines = log.getvalue().splitlines()
    assert lines[0] == "analysing 100 tracks" and len(lines) == 2 and "ETA 0:40" in lines[1]
    assert "\r" not in log.getvalue()


def test_each_playlist_takes_the_nearest_tracks_and_a_small_library_still_differs():
    grid = [(f"{v:+.1f}{a:+.1f}.mp3", v, a) for v in (-0.8, -0.4, 0.0, 0.4, 0.8) for a in (-0.8, -0.4, 0.0, 0.4, 0.8)]
    plans = plan(grid, {"up": (0.8, 0.8), "down": (-0.8, -0.8)}, size=3)
    assert plans["up"] == ["+0.8+0.8.mp3", "+0.4+0.8.mp3", "+0.8+0.4.mp3"]  # nearest first, ties by name
    assert plans["down"][0] == "-0.8-0.8.mp3"
    # 25 tracks, size 50: an eighth each (4), so the two ends share nothing.
    wide = plan(grid, {"up": (0.8, 0.8), "down": (-0.8, -0.8)}, size=50)
    assert len(wide["up"]) == 4 and not set(wide["up"]) & set(wide["down"])
    assert share_size(50, 1) == 1 and share_size(50, 10000) == 50 and plan([], {"up": (0, 0)}, 5) == {}


def test_in_a_small_library_each_moods_playlist_stays_in_its_own_quadrant():
    """64 tracks evenly over the plane, 16 a quadrant: happy and surprise share the pleasant, activated quadrant,
    angry and fear the unpleasant, activated one. A playlist of a quarter of the library would take a whole quadrant
    and reach into the next; half a quadrant keeps every mood off the centre in its own."""
    axis = [-0.9 + 1.8 * i / 7 for i in range(8)]
    grid = [(f"{v:+.2f}{a:+.2f}.mp3", v, a) for v in axis for a in axis]
    moods = {m: p for m, p in MOOD_POINTS.items() if m != "neutral"}  # neutral sits near the centre, on no quadrant
    side = {f: (v > 0, a > 0) for f, v, a in grid}
    for mood, files in plan(grid, moods, size=50).items():
        v, a = moods[mood]
        assert len(files) == 8 and {side[f] for f in files} == {(v > 0, a > 0)}, mood


def test_auto_playlists_resolve_to_the_written_names_and_uplift_moves_the_point(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "playlists:\n  happy: auto\n  sad: auto\n  angry: auto\npolicy: uplift\n"
        "uplift:\n  sad: auto\n  happy: auto\n  angry: ''\n"
        "library:\n  music_dir: music\n  moods:\n    happy: {valence: 0.9}\n  uplift:\n    sad: {arousal: 0.2}\n"
    )
    c = config.load(cfg)
    assert c.library.music_dir == tmp_path / "music"
    assert c.library.point("happy") == (0.9, 0.4)  # arousal left out: the default's
    assert c.library.uplift_point("sad") == (0.4, 0.2)
    chosen = c.playlist_for()
    # uplift moves sad: the hand-made `happy` first, then its own uplift playlist, then sad's own
    assert chosen["sad"] == ("happy", "moodbox-sad-uplift", "sad", "moodbox-sad")
    assert chosen["happy"] == ("happy", "moodbox-happy")  # uplift leaves happy where it is: the same playlists
    assert chosen["angry"] == ("angry", "moodbox-angry")  # uplift.angry '': the mood's own
    assert chosen["fear"] == ("neutral", "moodbox-fear-uplift", "fear", "moodbox-fear")
    assert set(c.playlist_for()) == set(MOODS)
    targets = c.library.targets()
    assert "moodbox-sad-uplift" in targets and "moodbox-happy-uplift" not in targets
    cfg.write_text("playlists:\n  happy: auto\n  sad: sad\n")
    match = config.load(cfg).playlist_for()
    assert match["happy"] == ("happy", "moodbox-happy") and match["sad"] == ("sad",)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("library:\n  moods:\n    happy: {valence: 1.5}\n", "library.moods.happy.valence must be between"),
        ("library:\n  uplift:\n    sadd: {valence: 0.5}\n", "did you mean 'library.uplift.sad'"),
        ("library:\n  playlist_size: 0\n", "library.playlist_size must be between"),
    ],
)
def test_bad_library_config_is_one_line(tmp_path, text, fragment):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    with pytest.raises(config.ConfigError, match=fragment):
        config.load(cfg)


def test_shipped_config_yaml_matches_the_defaults():
    shipped, default = config.load(ROOT / "config.yaml").library, config.Config().library
    assert (shipped.music_dir, shipped.cache, shipped.playlist_size) == (
        default.music_dir,
        default.cache,
        default.playlist_size,
    )
    for mood in MOODS:
        assert shipped.point(mood) == default.point(mood) and shipped.uplift_point(mood) == default.uplift_point(mood)


def test_playlists_are_written_to_mpd_read_back_and_name_only_files_mpd_knows(tmp_path):
    with MpdSandbox(songs_per_mood=2, song_seconds=3, password="secret") as server:
        music = server.root / "music"
        (music / "new").mkdir()
        make_library(tmp_path / "extra", songs_per_mood=1, song_seconds=3)
        (tmp_path / "extra" / "music" / "happy" / "happy-1.wav").rename(music / "new" / "unknown.wav")  # MPD: not yet
        cfg = tmp_path / "c.yaml"
        cfg.write_text(
            f"mpd:\n  host: 127.0.0.1\n  port: {server.port}\n  password: secret\n"
            f"playlists:\n  happy: auto\n  sad: auto\n"
            f"library:\n  music_dir: {music}\n  cache: {tmp_path / 'cache.sqlite'}\n  playlist_size: 3\n"
        )
        server.edit_playlists(remove=("happy", "sad"))  # no hand-made playlist: auto looks for the written one
        before = moodbox("--config", str(cfg), "check")
        assert "no playlist in MPD for happy, sad (happy looks for happy, moodbox-happy)" in before.stdout
        assert "moodbox library playlists" in before.stdout

        scanned = moodbox("--config", str(cfg), "library", "scan")
        assert scanned.returncode == 0, scanned.stderr
        assert scanned.stdout.startswith("15 tracks placed: 15 analysed")
        written = moodbox("--config", str(cfg), "library", "playlists")
        assert written.returncode == 0, written.stderr
        assert "1 analysed tracks are not in MPD's database" in written.stdout

        client = server.client()
        try:
            known = {e["file"] for e in client.listall() if "file" in e}
            stored = {p["playlist"] for p in client.listplaylists()}
            lists = {m: client.listplaylist(f"moodbox-{m}") for m in MOODS}
            lifted = client.listplaylist("moodbox-sad-uplift")
        finally:
            client.disconnect()
        assert "new/unknown.wav" not in known
        assert {f"moodbox-{m}" for m in MOODS} | {f"moodbox-{m}-uplift" for m in ("angry", "fear", "sad")} <= stored
        for files in [*lists.values(), lifted]:
            assert len(files) == 2 and set(files) <= known  # 14 known tracks: an eighth (2) of size 3
        assert len({tuple(f) for f in lists.values()}) > 1  # the moods do not all get the same tracks

        rewritten = moodbox("--config", str(cfg), "library", "playlists")  # rewriting replaces, never appends
        assert rewritten.returncode == 0, rewritten.stderr
        client = server.client()
        try:
            assert client.listplaylist("moodbox-happy") == lists["happy"]
        finally:
            client.disconnect()
        after = moodbox("--config", str(cfg), "check")
        (mpd_line,) = [line for line in after.stdout.splitlines() if line.startswith("OK   mpd:")]
        assert "happy: moodbox-happy" in mpd_line and "sad: moodbox-sad" in mpd_line and "angry: angry" in mpd_line

        cfg.write_text(cfg.read_text().replace("password: secret", "password: wrong"))
        refused = moodbox("--config", str(cfg), "library", "playlists")
        assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1
        assert "MPD refused the password" in refused.stderr and "mpd.password" in refused.stderr


def test_playlists_without_a_scan_is_one_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"library:\n  cache: {tmp_path / 'c.sqlite'}\n")
    result = moodbox("--config", str(cfg), "library", "playlists")
    assert result.returncode == 2 and "run `moodbox library scan` first" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    for broken, says in ((b"", "run `moodbox library scan`"), (b"garbage" * 1000, "not a moodbox scan cache")):
        (tmp_path / "c.sqlite").write_bytes(broken)
        result = moodbox("--config", str(cfg), "library", "playlists")
        assert result.returncode == 2 and says in result.stderr, result.stderr
        assert len(result.stderr.splitlines()) == 1


def test_install_sets_up_the_nightly_timer_and_a_first_scan(tmp_path):
    args = ["--dry-run", "--prefix", str(tmp_path / "o"), "--etc", str(tmp_path / "e"), "--unit-dir", str(tmp_path)]
    result = subprocess.run(["bash", str(ROOT / "tools" / "install.sh"), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for step in (
        f"{ROOT}/models/musicnn.tflite {ROOT}/models/musicnn.json {ROOT}/models/music_head.json {tmp_path}/o/models/",
        f"+ write {tmp_path}/moodbox-library.service",
        f"+ write {tmp_path}/moodbox-library.timer",
        "+ systemctl enable --now moodbox-library.timer",
        "+ systemctl start --no-block moodbox-library.service",
    ):
        assert step in result.stdout, step


def test_walk_finds_audio_files_like_mpd_does(tmp_path):
    from moodbox.music.library import walk

    music = tmp_path / "music"
    (music / "a" / "deep").mkdir(parents=True)
    for name in ("a/one.MP3", "a/deep/two.flac", "a/cover.jpg", "a/._one.MP3", ".hidden.ogg", "three.opus"):
        (music / name).write_bytes(b"x")
    (music / "a" / "loop").symlink_to(music)  # followed like MPD, but each folder only once
    (music / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    os.close(os.open(os.fsencode(music) + b"/caf\xe9.wav", os.O_CREAT | os.O_WRONLY))  # a Latin-1 name
    warnings: list[str] = []
    found = [file for file, _ in walk(music, music, warnings.append).files]
    assert found == ["a/deep/two.flac", "a/one.MP3", "three.opus"]
    assert len(warnings) == 2 and any("not UTF-8" in w for w in warnings) and any("gone.wav" in w for w in warnings)


def test_an_empty_music_dir_keeps_the_cache_and_an_analysis_fault_is_retried(analysis, music, tmp_path):
    cache = tmp_path / "cache.sqlite"
    seen: list[str] = []

    class FailsOnSad(counting(analysis, seen)):
        def analyse(self, path: Path) -> dict[str, float]:
            if Path(path).name == "sad-1.wav":
                raise ValueError("an odd file")
            return super().analyse(path)

    first = scan_with(analysis, music, cache, FailsOnSad)
    assert first.analysed == 6 and first.failed == 1 and "sad/sad-1.wav" not in [t.file for t in first.tracks]
    seen.clear()
    second = scan_with(analysis, music, cache, counting(analysis, seen))
    assert seen == ["sad-1.wav"] and second.analysed == 1 and len(second.tracks) == 7  # not remembered as failed

    unmounted = tmp_path / "unmounted"
    unmounted.mkdir()
    for track in music.rglob("*.wav"):  # the disk is gone, its mount point empty: the cache is kept
        track.rename(unmounted / track.name)
    empty = scan_with(analysis, music, cache, counting(analysis, seen))
    assert empty.removed == 0 and empty.tracks == []
    with ScanCache(cache, music) as c:
        assert len(c.files()) == 7


def test_a_second_scan_of_the_same_cache_is_one_line(music, tmp_path):
    cache = tmp_path / "cache.sqlite"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"library:\n  music_dir: {music}\n  cache: {cache}\n")
    with ScanCache(cache, music) as running, running.scanning():
        result = moodbox("--config", str(cfg), "library", "scan")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "another library scan is using" in result.stderr


def test_playlists_with_mpd_unreachable_is_one_line(analysis, tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    with ScanCache(tmp_path / "c.sqlite", music.resolve()) as c:
        c.store("a.wav", 1, 2, analysis.ANALYSIS_VERSION, evidence={"loudness_db": -20.0})
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"mpd:\n  host: 127.0.0.1\n  port: 1\nlibrary:\n  music_dir: {music}\n  cache: {tmp_path / 'c.sqlite'}\n"
    )
    result = moodbox("--config", str(cfg), "library", "playlists")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "MPD at 127.0.0.1:1 is unreachable" in result.stderr and "mpd.host" in result.stderr
