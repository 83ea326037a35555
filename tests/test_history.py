"""The history: a real SQLite file written by the writer thread, read while written, bounded, surviving kill -9,
and a file that cannot be used costs one line, never the service."""

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from make_clip import make_clip
from test_service import HAPPY, grey, start, write_config

from conftest import ROOT, wait_for
from moodbox import config
from moodbox.appliance.recorder import Recorder
from moodbox.history.settings import HistorySettings
from moodbox.history.store import APPLICATION_ID, DAY, HistoryError, HistoryStore
from moodbox.history.writer import HistoryWriter
from moodbox.playback.connection import MpdSettings
from moodbox.playback.songs import SongEvent
from moodbox.playback.worker import PlayerWorker
from moodbox.vision.mood import Decision


def writer(path, **settings):
    w = HistoryWriter(HistorySettings(path=path, **settings))
    w.start()
    assert w.opened.wait(10)
    return w


def rows(path):
    with HistoryStore(path, write=False) as history:
        return history.events()


def count(path):
    """Rows a reader sees now; 0 before the writer made the file and its table."""
    try:
        return len(rows(path))
    except HistoryError:
        return 0


def test_a_reader_sees_the_rows_while_the_writer_runs(tmp_path):
    path = tmp_path / "history.sqlite"
    w = writer(path)
    try:
        w.record("mood", mood="happy", confidence=0.8)
        assert wait_for(lambda: len(rows(path)) == 1, timeout=5)
        reader = HistoryStore(path, write=False)
        reader._db.execute("BEGIN")  # a reader in the middle of a long read (WAL: the writer is not held up)
        reader._db.execute("SELECT count(*) FROM events").fetchone()
        w.record("song", mood="happy", playlist="happy", policy="match", file="a/b.flac", outcome="skipped")
        assert wait_for(lambda: [e.kind for e in rows(path)] == ["mood", "song"], timeout=5)
        reader._db.execute("COMMIT")
        reader.close()
        assert not w.off and w.dropped == 0
    finally:
        w.close()
    (mood, song) = rows(path)
    assert (mood.mood, mood.confidence) == ("happy", 0.8)
    assert (song.file, song.mood, song.playlist, song.policy, song.outcome) == (
        "a/b.flac",
        "happy",
        "happy",
        "match",
        "skipped",
    )


def test_song_outcomes_are_asked_per_track_mood_and_time_through_the_index(tmp_path):
    path = tmp_path / "history.sqlite"
    now = time.time()
    w = writer(path)
    for t, mood, outcome in [
        (now - 50, "happy", "skipped"),
        (now - 40, "happy", "skipped"),
        (now - 30, "sad", "played"),
    ]:
        w.record("song", t=t, mood=mood, file="x.ogg", outcome=outcome)
    w.record("song", t=now - 20, mood="happy", file="y.ogg", outcome="played")
    w.close()
    with HistoryStore(path, write=False) as history:
        assert history.song_outcomes("x.ogg", "happy") == {"skipped": 2}
        assert history.song_outcomes("x.ogg", "happy", since=now - 45) == {"skipped": 1}
        assert history.song_outcomes("x.ogg") == {"skipped": 2, "played": 1}
        plan = history._db.execute(
            "EXPLAIN QUERY PLAN SELECT outcome, count(*) FROM events "
            "WHERE kind = 'song' AND file = ? AND mood = ? AND t >= ? GROUP BY outcome",
            ("x.ogg", "happy", 0),
        ).fetchall()
    assert "events_song" in str(plan)


WRITER = """
import sys, time
from pathlib import Path
from moodbox.history.settings import HistorySettings
from moodbox.history.writer import HistoryWriter
from moodbox.playback.connection import MpdSettings
from moodbox.playback.songs import SongEvent
from moodbox.playback.worker import PlayerWorker
w = HistoryWriter(HistorySettings(path=Path(sys.argv[1])))
w.start()
w.opened.wait()
seq = 0
while True:
    w.record("mood", mood="happy", confidence=0.5, detail={"seq": seq})
    seq += 1
    time.sleep(0.002)
"""


def test_a_writer_killed_mid_write_loses_nothing_but_the_last_moment(tmp_path):
    path = tmp_path / "history.sqlite"
    env = os.environ | {"PYTHONPATH": str(ROOT / "device")}
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], env=env)
    try:
        assert wait_for(lambda: count(path) > 300, timeout=30)
        time.sleep(1.3)  # mid-stream: a batch is always being gathered or written
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    killed = time.time()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    events = rows(path)
    assert [e.detail["seq"] for e in events] == list(range(len(events)))  # nothing lost before the last commit
    assert events[-1].t > killed - 2.5  # and the last commit was about a second before the kill (a busy machine: 2.5)
    w = writer(path)  # the next start carries on in the same file
    w.record("service", outcome="start")
    w.close()
    assert w.problem == "" and len(rows(path)) == len(events) + 1


def test_old_events_are_pruned_at_start_and_daily(tmp_path):
    path = tmp_path / "history.sqlite"
    now = time.time()
    w = writer(path, keep_days=90)
    for age_days in (200, 91, 89, 1):
        w.record("mood", t=now - age_days * DAY, mood="sad")
    w.close()
    assert len(rows(path)) == 4
    w = writer(path, keep_days=90)  # at start
    w.close()
    assert [round((now - e.t) / DAY) for e in rows(path)] == [89, 1]

    clock = [now]
    w = HistoryWriter(HistorySettings(path=path, keep_days=30), clock=lambda: clock[0], prune_every=0.2)
    w.start()
    try:
        assert wait_for(lambda: [round((now - e.t) / DAY) for e in rows(path)] == [1], timeout=5)
        clock[0] = now + 30 * DAY  # a month later, the service still running: the daily pruning drops the rest
        assert wait_for(lambda: rows(path) == [], timeout=5)
    finally:
        w.close()


def test_a_damaged_history_is_moved_aside_with_one_line_and_a_new_one_started(tmp_path, caplog):
    path = tmp_path / "history.sqlite"
    w = writer(path)
    for i in range(2000):
        w.record("song", file=f"music/{i:05d}.flac", mood="happy", outcome="played")
    w.close()
    data = bytearray(path.read_bytes())
    assert int.from_bytes(data[68:72], "big") == APPLICATION_ID
    data[4096 * 3 : 4096 * 6] = os.urandom(4096 * 3)  # pages of the table and its indexes, as a failing SD card
    path.write_bytes(bytes(data))
    caplog.set_level(logging.INFO, logger="moodbox")
    w = writer(path)
    w.record("service", outcome="start")
    w.close()
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "damaged" in lines[0].getMessage() and ".corrupt" in lines[0].getMessage()
    assert (tmp_path / "history.sqlite.corrupt").exists() and not w.off
    assert [e.kind for e in rows(path)] == ["service"]


@pytest.mark.parametrize(
    "make, fix",
    [
        (lambda p: p.write_text("my notes\n"), "not a moodbox history"),
        (lambda p: sqlite3.connect(p).execute("CREATE TABLE t (x)").connection.commit(), "another program"),
        (lambda p: (p.parent / "file").write_text("x"), "history.path"),
    ],
    ids=["text", "foreign-sqlite", "parent-is-a-file"],
)
def test_a_history_that_cannot_be_used_is_one_line_and_recording_goes_on_as_a_no_op(tmp_path, caplog, make, fix):
    path = tmp_path / "history.sqlite"
    make(path)
    if (tmp_path / "file").exists():
        path = tmp_path / "file" / "history.sqlite"
    before = path.read_bytes() if path.is_file() else None
    caplog.set_level(logging.INFO, logger="moodbox")
    w = writer(path)
    for _ in range(3):
        w.record("mood", mood="happy")  # returns, never raises
    w.close()
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and fix in lines[0] and "without history" in lines[0], lines
    assert w.off and w.problem
    if before is not None:
        assert path.read_bytes() == before  # left untouched


def test_a_history_from_a_newer_moodbox_is_refused_not_rewritten(tmp_path):
    path = tmp_path / "history.sqlite"
    writer(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=99")
    db.commit()
    db.close()
    with pytest.raises(HistoryError, match="newer moodbox"):
        HistoryStore(path)


def test_record_never_waits_for_a_stalled_disk_it_drops_counts_and_says_so_once(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="moodbox")
    w = HistoryWriter(HistorySettings(path=tmp_path / "history.sqlite"))  # its thread never started: a stalled disk
    for i in range(w.QUEUE_SIZE + 500):
        w.record("mood", mood="happy", detail={"seq": i})
    assert w.dropped == 500
    said = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(said) == 1


def test_the_history_section_of_the_config(tmp_path):
    assert config.Config().history == HistorySettings()
    cfg = tmp_path / "c.yaml"
    cfg.write_text("history:\n  path: h.sqlite\n  keep_days: 30\n  enabled: false\n")
    assert config.load(cfg).history == HistorySettings(enabled=False, path=tmp_path / "h.sqlite", keep_days=30)
    cfg.write_text("history:\n  keep_days: 0\n")
    with pytest.raises(config.ConfigError, match="history.keep_days must be between 1 and 3650"):
        config.load(cfg)
    shipped = config.load(ROOT / "config.yaml").history
    assert shipped == HistorySettings()


def test_a_disabled_history_writes_nothing(tmp_path):
    w = writer(tmp_path / "history.sqlite", enabled=False)
    w.record("mood", mood="happy")
    w.close()
    assert not (tmp_path / "history.sqlite").exists()


PLAYLISTS = {mood: mood for mood in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")}


def test_a_song_skipped_with_next_and_one_played_to_its_end_are_recorded_so(tmp_path, mpd_server_8s_songs):
    """The real chain: MPD -> PlayerWorker's song tracking -> the service's recorder -> the history file."""
    mpd_server = mpd_server_8s_songs
    path = tmp_path / "history.sqlite"
    recorder = Recorder(HistorySettings(path=path), policy="uplift")
    started = threading.Event()

    def tell(event):
        recorder.playback(event)
        if isinstance(event, SongEvent) and event.outcome == "started":
            started.set()

    settings = MpdSettings(host="127.0.0.1", port=mpd_server.port, transition="now")
    worker = PlayerWorker(settings, PLAYLISTS, on_event=tell)
    recorder.start()
    worker.start()
    try:
        worker.follow("sad", "mood sad (0.70)")
        assert started.wait(10)
        c = mpd_server.client()
        c.next()  # as `mpc next` or a phone app would
        c.disconnect()
        assert wait_for(lambda: any(e.outcome == "played" for e in songs(path)), timeout=30)  # read while written
    finally:
        worker.close()
        recorder.close()
    first, second = [e.file for e in songs(path) if e.outcome == "started"][:2]
    with HistoryStore(path, write=False) as history:
        assert history.song_outcomes(first, "sad") == {"started": 1, "skipped": 1}
        assert history.song_outcomes(second, "sad") == {"started": 1, "played": 1}
        assert all(e.playlist == "sad" and e.policy == "uplift" for e in history.events(kinds=["song"]))
        (switch,) = history.events(kinds=["switch"])
    assert (switch.mood, switch.playlist, switch.detail["why"]) == ("sad", "sad", "mood sad (0.70)")


def songs(path):
    try:
        return [e for e in rows(path) if e.kind == "song"]
    except HistoryError:
        return []


def test_the_service_runs_on_without_a_usable_history_with_one_line(tmp_path, mpd_server):
    (tmp_path / "not-a-folder").write_text("")
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 8)])
    cfg = write_config(tmp_path, mpd_server, clip)
    cfg.write_text(cfg.read_text().replace(str(tmp_path / "history.sqlite"), str(tmp_path / "not-a-folder" / "h")))
    proc = start(cfg)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "mood happy" in out and "Traceback" not in out
    said = [line for line in out.splitlines() if "history" in line]
    assert len(said) == 1 and "history.path" in said[0] and "without history" in said[0], out


def test_the_recorder_marks_away_and_back_and_keeps_moodboxs_error_lines(tmp_path):
    path = tmp_path / "history.sqlite"
    recorder = Recorder(HistorySettings(path=path), policy="match")
    recorder.start()
    try:
        for t, mood in [(1.0, "happy"), (20.0, "away"), (40.0, "sad")]:
            recorder.mood(Decision(t=t, mood=mood, confidence=0.75), locked=mood == "sad")
        logging.getLogger("moodbox.playback.player").error("playlist 'x' for sad: No such playlist; create it")
        logging.getLogger("moodbox.playback.player").warning("only a warning")
        logging.getLogger("elsewhere").error("not ours")
    finally:
        recorder.close()
    events = rows(path)
    moods = [(e.mood, e.outcome, e.detail) for e in events if e.kind == "mood"]
    assert moods == [("happy", None, {}), ("away", "away", {}), ("sad", "back", {"locked": True})]
    errors = [e.detail for e in events if e.kind == "error"]
    assert errors == [
        {"message": "playlist 'x' for sad: No such playlist; create it", "logger": "moodbox.playback.player"}
    ]
