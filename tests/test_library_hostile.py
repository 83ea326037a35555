"""The music library in a hostile home (issue 21): a damaged or foreign cache, a cache moodbox may not
write, a full disk, files and folders unreadable for a night, symbolic links out of the library and
names that would forge log lines. Real SQLite files, real folders, the real scan as another user."""

import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from mpd_sandbox import make_library

from conftest import ROOT
from moodbox.music.library import Progress, scan, walk
from moodbox.music.scancache import CacheError, ScanCache

AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="acts as another user or mounts a filesystem: needs root")


@pytest.fixture
def music(tmp_path) -> Path:
    """Seven real WAV songs (a chord per mood, 3 s each), laid out <mood>/<mood>-1.wav as MPD's sandbox does."""
    make_library(tmp_path, songs_per_mood=1, song_seconds=3)
    return tmp_path / "music"


def moodbox(*args: str, user: list[str] | None = None) -> subprocess.CompletedProcess:
    command = [*(user or []), sys.executable, "-m", "moodbox", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)


def fill_cache(path: Path, rows: int) -> None:
    with ScanCache(path, path.parent) as cache:
        for i in range(rows):
            cache.store(f"artist/album/track-{i:05d}.flac", 1000 + i, i, "v", evidence={"x": float(i), "pad": 1e9 + i})


def test_a_damaged_page_is_found_at_open_moved_aside_and_rebuilt(tmp_path, caplog):
    """One bad page (an SD card's bit rot) opened fine and then failed every scan with a traceback."""
    cache = tmp_path / "c.sqlite"
    fill_cache(cache, 3000)
    data = bytearray(cache.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    middle = (len(data) // page // 2) * page
    data[middle : middle + page] = os.urandom(page)
    cache.write_bytes(bytes(data))
    with ScanCache(cache, tmp_path) as rebuilt:
        assert rebuilt.files() == set()
        rebuilt.store("a.wav", 1, 2, "v", evidence={"x": 1.0})
    assert (tmp_path / "c.sqlite.corrupt").read_bytes() == bytes(data)
    (line,) = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert "moved to" in line and "scanning afresh" in line


def test_a_foreign_sqlite_database_and_its_lock_are_left_untouched(tmp_path):
    """A library.cache naming another program's database renamed it and truncated `<name>.lock`."""
    other = tmp_path / "photos.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE albums (name TEXT)")
    db.execute("INSERT INTO albums VALUES ('summer')")
    db.commit()
    db.close()
    before = other.read_bytes()
    lock = tmp_path / "photos.db.lock"
    lock.write_text("someone else's lock")
    with pytest.raises(CacheError, match="another program"):
        ScanCache(other, tmp_path)
    assert other.read_bytes() == before and lock.read_text() == "someone else's lock"
    link = tmp_path / "link.sqlite"
    link.symlink_to(other)
    with pytest.raises(CacheError, match="not a regular file"):
        ScanCache(link, tmp_path)


def test_our_own_lock_file_is_never_truncated(tmp_path):
    cache = tmp_path / "c.sqlite"
    (tmp_path / "c.sqlite.lock").write_text("kept")
    with ScanCache(cache, tmp_path) as c, c.scanning():
        pass
    assert (tmp_path / "c.sqlite.lock").read_text() == "kept"


@needs_root
def test_a_cache_left_owned_by_root_fails_in_the_first_second_naming_chown(tmp_path):
    """After `sudo moodbox library scan`, the nightly scan as moodbox analysed everything, kept nothing, exit 0."""
    folder = Path(tempfile.mkdtemp(prefix="moodbox-owned-"))
    try:
        folder.chmod(0o777)
        music = folder / "music"
        music.mkdir()
        cache = folder / "c.sqlite"
        fill_cache(cache, 3)  # written by root, 644: readable, not writable by the moodbox user
        cfg = folder / "c.yaml"
        cfg.write_text(f"library:\n  music_dir: {music}\n  cache: {cache}\n")
        cfg.chmod(0o644)
        result = moodbox("--config", str(cfg), "library", "scan", user=AS_NOBODY)
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.splitlines()
        assert "chown" in line and "full" not in line and "Traceback" not in line
    finally:
        shutil.rmtree(folder)


@needs_root
def test_a_full_disk_is_said_as_a_full_disk_before_any_track(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        with open(disk / "filler", "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        with pytest.raises(CacheError) as refused:
            ScanCache(disk / "c.sqlite", tmp_path)
        assert "is full" in str(refused.value) and "chown" not in str(refused.value)
    finally:
        subprocess.run(["umount", str(disk)], check=True)


@needs_root
def test_a_file_or_folder_unreadable_for_a_night_is_not_forgotten():
    """Permissions fixed the next day: the file is analysed then (it was cached as "damaged"), and a folder's
    analyses survive the night it could not be read (they were deleted and its songs left the playlists)."""
    top = Path(tempfile.mkdtemp(prefix="moodbox-perm-"))
    try:
        top.chmod(0o755)
        make_library(top, songs_per_mood=1, song_seconds=3)
        music = top / "music"
        for path in [top, *top.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        state = top / "state"
        state.mkdir(mode=0o777)
        state.chmod(0o777)
        cfg = top / "c.yaml"
        cfg.write_text(f"library:\n  music_dir: {music}\n  cache: {state / 'c.sqlite'}\n")
        cfg.chmod(0o644)
        locked = music / "happy" / "happy-1.wav"
        locked.chmod(0o600)
        first = moodbox("--config", str(cfg), "library", "scan", user=AS_NOBODY)
        assert first.returncode == 0, first.stderr
        assert "happy/happy-1.wav: permission denied" in first.stderr and "6 tracks placed" in first.stdout
        locked.chmod(0o644)
        (music / "sad").chmod(0o700)  # tonight the sad folder is unreadable instead
        second = moodbox("--config", str(cfg), "library", "scan", user=AS_NOBODY)
        assert second.returncode == 0, second.stderr
        assert "1 analysed" in second.stdout and "gone from the library" not in second.stdout
        assert "cannot read folder sad" in second.stderr
        with ScanCache(state / "c.sqlite", music) as cache:
            assert "sad/sad-1.wav" in cache.files() and "happy/happy-1.wav" in cache.files()
    finally:
        shutil.rmtree(top)


def test_links_are_followed_as_mpd_does_but_never_around_the_library(tmp_path):
    """A link to / found 487 files across the filesystem and advised reading /etc/ssl/private."""
    music = tmp_path / "music"
    (music / "album").mkdir(parents=True)
    (music / "album" / "song.flac").write_bytes(b"x")
    elsewhere = tmp_path / "usb"
    elsewhere.mkdir()
    (elsewhere / "live.ogg").write_bytes(b"x")
    (music / "everything").symlink_to("/")
    (music / "up").symlink_to("..")
    (music / "usb").symlink_to(elsewhere)
    (music / "again").symlink_to(music / "album")  # the same folder twice: one track
    warnings: list[str] = []
    found = [file for file, _ in walk(music, music, warnings.append).files]
    assert found == ["again/song.flac", "usb/live.ogg"] or found == ["album/song.flac", "usb/live.ogg"]
    assert warnings == []
    inside_only = walk(music, music, warnings.append, follow_outside=False).files
    assert [file for file, _ in inside_only] in (["album/song.flac"], ["again/song.flac"])
    no_links = walk(music, music, warnings.append, follow_inside=False, follow_outside=False).files
    assert [file for file, _ in no_links] == ["album/song.flac"]


def test_names_that_would_forge_log_lines_are_printed_escaped(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    evil = "x.wav\nJan 01 00:00:00 pi sshd[1]: Accepted password for root\x1b[2K.wav"
    (music / evil).symlink_to(tmp_path / "nowhere")  # a broken link: one warning naming the file
    (music / "bad\x07.wav").write_bytes(b"not audio at all")
    out = io.StringIO()
    from moodbox.music import musicmood
    from moodbox.music.audio import AudioError

    with ScanCache(tmp_path / "c.sqlite", music) as cache:
        scan(
            music,
            cache,
            musicmood.TrackAnalyser,
            musicmood.ANALYSIS_VERSION,
            musicmood.place,
            progress=Progress(stream=out, tty=False),
            decode_errors=(AudioError,),
        )
    lines = [line for line in out.getvalue().splitlines() if line.startswith("skipped")]
    assert len(lines) == 2, out.getvalue()
    assert all("\x1b" not in line and "\x07" not in line for line in lines)
    assert any("x.wav\\x0aJan 01" in line for line in lines) and any("bad\\x07.wav" in line for line in lines)


def latin1_song(server) -> str:
    """Copy a real song under a Latin-1 name (b'caf\\xe9.wav') into MPD's library: MPD lists it as raw bytes."""
    music = server.root / "music"
    shutil.copy(music / "happy" / "happy-1.wav", os.fsencode(music) + b"/happy/caf\xe9.wav")
    server.update()
    return "happy/caf\xe9.wav"


def test_mpd_asked_in_windows_and_a_name_that_is_not_utf8_is_left_out(mpd_server):
    """`listall` in one reply overflows MPD's output buffer on a large library, and one Latin-1 name made every
    night's `library playlists` end in a traceback."""
    from moodbox.playback.connection import MpdSettings
    from moodbox.playback.stored_playlists import known_files

    latin1_song(mpd_server)
    settings = MpdSettings(host="127.0.0.1", port=mpd_server.port)
    known = known_files(settings, window=4)  # 22 songs in 6 windows: the paging itself is what is tested
    assert known.undecodable == 1 and len(known.files) == 21
    assert "happy/happy-1.wav" in known.files and all("caf" not in f for f in known.files)


def test_a_hand_made_playlist_naming_a_latin1_file_still_plays_and_check_names_the_cause(mpd_server, tmp_path, caplog):
    """It stopped that mood's music and logged an error pair every 5 s blaming mpd.password; check agreed."""
    import logging

    from moodbox.playback.connection import MpdSettings
    from moodbox.playback.player import Player

    latin1_song(mpd_server)
    (mpd_server.root / "playlists" / "happy.m3u").write_bytes(
        b"happy/happy-1.wav\nhappy/caf\xe9.wav\nhappy/happy-2.wav\n"
    )
    caplog.set_level(logging.INFO, logger="moodbox.playback")
    player = Player(MpdSettings(host="127.0.0.1", port=mpd_server.port), {"happy": "happy"}, seed=1)
    try:
        player.follow("happy")
        for position in range(3):  # each song current in turn, the Latin-1 one among them
            client = mpd_server.client()
            try:
                assert client.status()["state"] == "play" and int(client.status()["playlistlength"]) == 3
                client.play(position)
            finally:
                client.disconnect()
            for _ in range(2):  # the unreadable name costs one connection, once; nothing is refused or raised
                player._next_poll = 0.0
                player.poll()
            assert player.problem is None and player.connected
        assert player.playlist == "happy" and len(player.recently_played()) == 2
    finally:
        player.close()
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(messages) == 1 and "not UTF-8" in messages[0] and "password" not in messages[0]

    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"camera:\n  source: {ROOT / 'tests' / 'fixtures' / 'faces' / 'happy'}\n"
        f"mpd:\n  host: 127.0.0.1\n  port: {mpd_server.port}\n"
    )
    checked = moodbox("--config", str(cfg), "check")
    (mpd_line,) = [line for line in checked.stdout.splitlines() if " mpd: " in line]
    assert "not UTF-8" in mpd_line and "password" not in mpd_line and "Traceback" not in checked.stderr


def test_a_damaged_music_model_is_refused_not_run(tmp_path):
    """A damaged musicnn.tflite loaded, gave NaN for every track and exit 0."""
    from moodbox.base.litert import ModelError
    from moodbox.music.tagger import MusicTagger

    for name in ("musicnn.tflite", "musicnn.json"):
        shutil.copy(ROOT / "models" / name, tmp_path / name)
    model = tmp_path / "musicnn.tflite"
    data = bytearray(model.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 32] = bytes(32)
    model.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the sha256"):
        MusicTagger(model)


def test_nan_never_reaches_the_cache_and_a_cached_nan_is_analysed_again(music, tmp_path):
    from moodbox.music import musicmood
    from moodbox.music.audio import AudioError

    class NaNOnSad(musicmood.TrackAnalyser):
        def analyse(self, path: Path) -> dict[str, float]:
            found = super().analyse(path)
            return {key: float("nan") for key in found} if Path(path).name == "sad-1.wav" else found

    out = io.StringIO()
    with ScanCache(tmp_path / "c.sqlite", music) as cache:
        result = scan(
            music,
            cache,
            NaNOnSad,
            musicmood.ANALYSIS_VERSION,
            musicmood.place,
            progress=Progress(stream=out, tty=False),
            decode_errors=(AudioError,),
        )
        assert "sad/sad-1.wav" not in cache.files() and result.failed == 1 and len(result.tracks) == 6
        cache.store(
            "sad/sad-1.wav", *stat_of(music / "sad" / "sad-1.wav"), musicmood.ANALYSIS_VERSION, {"x": float("nan")}
        )
        again = scan(
            music,
            cache,
            musicmood.TrackAnalyser,
            musicmood.ANALYSIS_VERSION,
            musicmood.place,
            progress=Progress(stream=io.StringIO(), tty=False),
            decode_errors=(AudioError,),
        )
    assert "not finite" in out.getvalue() and again.analysed == 1 and len(again.tracks) == 7


def stat_of(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def test_silence_and_a_1_hz_tone_stay_out_of_the_playlists_said_once(music, tmp_path):
    import numpy as np
    import soundfile

    rate = 16000
    soundfile.write(music / "silence.wav", np.zeros(rate * 40, np.float32), rate)
    t = np.arange(rate * 40) / rate
    soundfile.write(music / "one-hertz.wav", (0.5 * np.sin(2 * np.pi * 1.0 * t)).astype(np.float32), rate)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"library:\n  music_dir: {music}\n  cache: {tmp_path / 'c.sqlite'}\n")
    first = moodbox("--config", str(cfg), "library", "scan")
    assert first.returncode == 0, first.stderr
    left_out = [line for line in first.stderr.splitlines() if line.startswith("left out")]
    assert len(left_out) == 2 and "7 tracks placed" in first.stdout and "2 silent, left out" in first.stdout
    second = moodbox("--config", str(cfg), "library", "scan")
    assert "left out" not in second.stderr and "2 silent, left out" in second.stdout


def test_a_wav_header_asking_for_gigabytes_is_refused_before_decoding(tmp_path):
    """A WAV claiming 4 GB of 1024 channels asked for 5.5 GiB."""
    import struct

    from moodbox.music.audio import AudioError, decode

    channels, rate, bits = 1024, 48000, 16
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 0xFFFFFFF0)
    path = tmp_path / "huge.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 0xFFFFFFF8) + body + bytes(channels * 2 * 100))
    with pytest.raises(AudioError, match="claims 1024 channels"):
        decode(path, duration=30.0)


def test_a_file_the_decoder_crashes_on_stops_one_scan_not_every_scan(music, tmp_path):
    """The process dies on the file (a decoder's segfault, here SIGKILL); the next scan skips it and goes on."""
    cache = tmp_path / "c.sqlite"
    crashing = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from moodbox.music import musicmood\n"
        "from moodbox.music.library import Progress, scan\n"
        "from moodbox.music.scancache import ScanCache\n"
        "class Crashes(musicmood.TrackAnalyser):\n"
        "    def analyse(self, path):\n"
        "        if Path(path).name == 'fear-1.wav':\n"
        "            os.kill(os.getpid(), signal.SIGKILL)\n"
        "        return super().analyse(path)\n"
        "music, cache = Path(sys.argv[1]), Path(sys.argv[2])\n"
        "with ScanCache(cache, music) as c:\n"
        "    scan(music, c, Crashes, musicmood.ANALYSIS_VERSION, musicmood.place, progress=Progress(tty=False))\n"
    )
    died = subprocess.run([sys.executable, "-c", crashing, str(music), str(cache)], capture_output=True, text=True)
    assert died.returncode == -9
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"library:\n  music_dir: {music}\n  cache: {cache}\n")
    after = moodbox("--config", str(cfg), "library", "scan")
    assert after.returncode == 0, after.stderr
    assert "6 tracks placed" in after.stdout and "1 undecodable before" in after.stdout


def test_a_row_garbled_on_disk_is_analysed_again_not_a_traceback(tmp_path):
    """A page zeroed inside the stored rows passes SQLite's checks but held JSON that no longer parses."""
    cache = tmp_path / "c.sqlite"
    with ScanCache(cache, tmp_path) as c:
        c.store("a.wav", 1, 2, "v", evidence={"x": 1.0, "marker": 12345.0})
        c.store("b.wav", 1, 2, "v", evidence={"x": 2.0})
    sqlite3.connect(cache).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    data = cache.read_bytes()
    at = data.index(b'"marker"')
    cache.write_bytes(data[:at] + b"\x01" * 8 + data[at + 8 :])
    with ScanCache(cache, tmp_path) as c:
        assert c.lookup("a.wav", 1, 2, "v") is None and c.lookup("b.wav", 1, 2, "v").evidence == {"x": 2.0}
        assert set(c.scored("v")) == {"b.wav"}


def test_a_stored_playlist_named_in_latin1_costs_nobody_their_music(mpd_server, tmp_path):
    """Someone's `mix\\xff.m3u` made `library playlists` end in a traceback (python-mpd2 reading listplaylists)."""
    from moodbox.playback.connection import MpdSettings
    from moodbox.playback.player import Player

    with open(os.fsencode(mpd_server.root / "playlists") + b"/mix\xff.m3u", "wb") as f:
        f.write(b"happy/happy-1.wav\n")
    music = mpd_server.root / "music"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"mpd:\n  host: 127.0.0.1\n  port: {mpd_server.port}\n"
        f"library:\n  music_dir: {music}\n  cache: {tmp_path / 'c.sqlite'}\n  playlist_size: 2\n"
    )
    assert moodbox("--config", str(cfg), "library", "scan").returncode == 0
    written = moodbox("--config", str(cfg), "library", "playlists")
    assert written.returncode == 0 and "Traceback" not in written.stderr, written.stderr
    player = Player(MpdSettings(host="127.0.0.1", port=mpd_server.port), {"sad": ("sad", "moodbox-sad")}, seed=1)
    try:
        player.follow("sad")
        assert player.playlist == "sad" and player.problem is None
        assert player.survey()["sad"].chosen == "sad"
    finally:
        player.close()


def test_a_missing_song_named_with_escape_codes_is_logged_escaped(caplog):
    """MPD strips control characters from an .m3u it reads, but a client may store any name: said escaped."""
    import logging

    from moodbox.playback.player import _report_missing

    caplog.set_level(logging.INFO, logger="moodbox.playback")
    _report_missing({}, "happy", "happy", ["happy/\x1b[2Kgone.wav"], playing=1)
    (line,) = [r.getMessage() for r in caplog.records]
    assert "\x1b" not in line and "happy/\\x1b[2Kgone.wav" in line
