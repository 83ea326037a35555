"""Playlists that learn from the listener: the feedback arithmetic (clock injected), and the appliance's path from
a real history file through `moodbox library playlists` to a real MPD's rewritten moodbox-<mood> playlist, and
`moodbox library why`."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conftest import ROOT
from moodbox.history.store import Event, HistoryStore
from moodbox.music.feedback import FeedbackSettings, gather, plan_with_feedback, verdict, weight
from moodbox.music.mood_playlists import plan
from moodbox.music.scancache import ScanCache

NOW = 1_800_000_000.0
DAY = 86400.0
HAPPY, SAD, CALM = "moodbox-happy", "moodbox-sad", "moodbox-neutral"
TARGETS = {HAPPY: (0.7, 0.4), SAD: (-0.6, -0.4), CALM: (0.0, -0.2)}
# 120 tracks spread over the plane (a playlist takes at most an eighth: 15)
TRACKS = [(f"t{i:03d}.flac", -0.9 + 0.015 * i, ((i * 7) % 120) / 60.0 - 1.0) for i in range(120)]
SETTINGS = FeedbackSettings()


def listened(
    skipped: dict[tuple[str, str], int], played_in: dict[str, list[str]], days_ago: float = 0.0, plays: int = 2
) -> list[tuple[float, str, str, str]]:
    """A listener: every song of each playlist played `plays` times, except those `skipped` (playlist, file) n times."""
    out = []
    t = NOW - days_ago * DAY
    for playlist, files in played_in.items():
        for file in files:
            n = skipped.get((playlist, file), 0)
            out += [(t, playlist, file, "skipped")] * n or [(t, playlist, file, "played")] * plays
    for (playlist, file), n in skipped.items():
        if file not in played_in.get(playlist, []):
            out += [(t, playlist, file, "skipped")] * n
    return out


def alone(size: int = 12) -> dict[str, list[str]]:
    return plan(TRACKS, TARGETS, size)


def with_feedback(outcomes, size: int = 12, settings: FeedbackSettings = SETTINGS, now: float = NOW):
    return plan_with_feedback(TRACKS, TARGETS, size, gather(outcomes, now, settings.half_life_days), settings)


def test_a_listener_who_never_skips_gets_the_placement_alone():
    before = alone()
    heard = listened({}, before, plays=5)
    heard += [(NOW - 3 * DAY, SAD, before[SAD][0], "cut"), (NOW, HAPPY, before[HAPPY][1], "stopped")]  # no verdicts
    assert with_feedback(heard) == before
    assert with_feedback([]) == before


def test_a_skipped_song_sinks_and_leaves_after_repeated_skips():
    before = alone()
    song = before[HAPPY][0]  # the nearest to happy's point
    once = with_feedback(listened({(HAPPY, song): 1}, before), settings=FeedbackSettings(sink=0.2))
    assert song in once[HAPPY] and once[HAPPY].index(song) > 0  # sank, still in
    assert song not in with_feedback(listened({(HAPPY, song): 1}, before))[HAPPY]  # the default sink: out
    assert once[SAD] == before[SAD]  # one mood's skip says nothing of another's list

    no_sink = FeedbackSettings(sink=0.0)  # the exit alone: net skips, whatever the place
    assert song in with_feedback(listened({(HAPPY, song): 2}, before), settings=no_sink)[HAPPY]
    after = with_feedback(listened({(HAPPY, song): 3}, before), settings=no_sink)
    assert song not in after[HAPPY] and len(after[HAPPY]) == len(before[HAPPY])  # the next nearest came in
    judged = verdict(gather(listened({(HAPPY, song): 3}, before), NOW, 14.0), HAPPY, song, no_sink)
    assert judged.left and judged.tally.net_skips == 3


def test_songs_played_through_rise():
    before = alone()
    last = before[HAPPY][-1]
    skipped = {(HAPPY, f): 1 for f in before[HAPPY][:4]}  # the listener skips some songs, so plays say something
    heard = listened(skipped, before, plays=1) + [(NOW - DAY, HAPPY, last, "played")] * 6
    feedback = gather(heard, NOW, 14.0)
    assert verdict(feedback, HAPPY, last, SETTINGS).shift < 0
    assert with_feedback(heard)[HAPPY].index(last) < before[HAPPY].index(last)


def test_a_song_skipped_in_every_mood_sinks_everywhere():
    before = alone()
    song = before[SAD][0]
    both = {(HAPPY, song): 2, (SAD, song): 2}
    feedback = gather(listened(both, before), NOW, 14.0)
    calm = verdict(feedback, CALM, song, SETTINGS)  # never played in neutral
    assert calm.tally.heard == 0 and calm.everywhere > 0 and calm.shift > 0
    only_sad = gather(listened({(SAD, song): 2}, before), NOW, 14.0)
    assert verdict(only_sad, CALM, song, SETTINGS).shift == 0  # skipped in one mood: not everywhere


def test_evidence_fades_over_weeks():
    assert weight(0, 14) == 1.0 and abs(weight(14 * DAY, 14) - 0.5) < 1e-12 and weight(-DAY, 14) == 1.0
    before = alone()
    song = before[HAPPY][0]
    no_sink = FeedbackSettings(sink=0.0)
    fresh = listened({(HAPPY, song): 4}, before, days_ago=1)
    assert song not in with_feedback(fresh, settings=no_sink)[HAPPY]
    # the same skips, ten weeks later: 4 x 1/32 of a skip is no reason to leave
    assert song in with_feedback(fresh, settings=no_sink, now=NOW + 70 * DAY)[HAPPY]
    faded = gather(fresh, NOW + 70 * DAY, 14.0).tally(HAPPY, song)
    assert faded.skips < 4 * weight(69 * DAY, 14) + 1e-9


def test_feedback_never_leaves_a_playlist_under_its_minimum():
    before = alone(size=15)
    every = {(HAPPY, f): 5 for f, _, _ in TRACKS}
    after = with_feedback(listened(every, {SAD: before[SAD]}), size=15)
    assert len(after[HAPPY]) == 10 and len(set(after[HAPPY])) == 10  # min_tracks, not fewer
    assert len(with_feedback(listened(every, {SAD: before[SAD]}), size=8)[HAPPY]) == 8  # never more than asked


def test_random_skips_move_the_playlists_little():
    """A listener who skips the same share of every song: the fitted prior is strong, no song leaves."""
    before = alone()
    heard = []
    for playlist, files in before.items():
        for i, file in enumerate(files):  # every song heard 10 times, skipped once: the same rate for all
            heard += [(NOW - (i % 5) * DAY, playlist, file, "played")] * 9 + [(NOW - DAY, playlist, file, "skipped")]
    feedback = gather(heard, NOW, 14.0)
    assert feedback.strength(SETTINGS.prior) >= 100
    assert not any(verdict(feedback, p, f, SETTINGS).left for p, files in before.items() for f in files)


# ---- the appliance: history file -> `moodbox library playlists` -> MPD; `moodbox library why` --------------------


def moodbox(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "moodbox", *args], capture_output=True, text=True, cwd=ROOT)


def scanned_library(mpd_server, tmp_path):
    """A config for the sandbox MPD's music (3-track playlists, a history file of the test's own), and its scan done
    by `moodbox library scan`: the config's path and the history's."""
    history = tmp_path / "history.sqlite"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"mpd:\n  host: 127.0.0.1\n  port: {mpd_server.port}\n"
        f"library:\n  music_dir: {mpd_server.root / 'music'}\n  cache: {tmp_path / 'cache.sqlite'}\n"
        "  playlist_size: 3\n"
        f"history:\n  path: {history}\n"
    )
    assert moodbox("--config", str(cfg), "library", "scan").returncode == 0
    return cfg, history


def test_a_song_skipped_in_the_history_leaves_the_rewritten_playlist_and_why_says_so(mpd_server, tmp_path):
    cfg, history = scanned_library(mpd_server, tmp_path)
    first = moodbox("--config", str(cfg), "library", "playlists")
    assert first.returncode == 0, first.stderr
    assert "no listening history yet" in first.stderr
    client = mpd_server.client()
    try:
        before = {name: client.listplaylist(name) for name in ("moodbox-happy", "moodbox-sad", "happy")}
    finally:
        client.disconnect()

    song = before["moodbox-happy"][0]
    now = __import__("time").time()
    events = [Event(now - 3600, "song", "happy", "moodbox-happy", "match", song, "skipped")] * 4
    for other in before["moodbox-happy"][1:] + before["moodbox-sad"]:
        mood = "sad" if other in before["moodbox-sad"] else "happy"
        events += [Event(now - 7200, "song", mood, f"moodbox-{mood}", "match", other, "played")] * 3
    events.append(Event(now - 60, "song", "happy", "moodbox-happy", "match", song, "started"))
    with HistoryStore(history) as store:  # as the service's writer thread writes it
        store.add(events)

    again = moodbox("--config", str(cfg), "library", "playlists")
    assert again.returncode == 0, again.stderr
    client = mpd_server.client()
    try:
        after = {name: client.listplaylist(name) for name in ("moodbox-happy", "moodbox-sad", "happy")}
    finally:
        client.disconnect()
    assert song not in after["moodbox-happy"] and len(after["moodbox-happy"]) == 3
    assert after["moodbox-happy"][:2] == before["moodbox-happy"][1:3]  # the others stay, played through
    assert after["happy"] == before["happy"]  # a person's own playlist is never edited

    why = moodbox("--config", str(cfg), "library", "why", song)
    assert why.returncode == 0, why.stderr
    assert why.stdout.startswith(f"{song}: valence ")
    assert "valence from:" in why.stdout and "arousal from:" in why.stdout
    (happy_line,) = [line for line in why.stdout.splitlines() if line.strip().startswith("moodbox-happy:")]
    assert (
        "not in it (placement alone: in it)" in happy_line and "skipped 4.0" in happy_line and "left it" in happy_line
    )

    unknown = moodbox("--config", str(cfg), "library", "why", "no/such/song.flac")
    assert unknown.returncode == 2 and len(unknown.stderr.splitlines()) == 1 and not unknown.stdout
    assert "no/such/song.flac is not in the scan" in unknown.stderr


def test_a_neutral_mood_skipped_on_its_sad_side_moves_and_playlists_and_why_say_so(tmp_path):
    """A listener whose neutral is calm and content: every song of a 56-song library heard in neutral on four days,
    those far from the brightest, calmest songs skipped. `library playlists` moves neutral's point there and says so;
    its playlist is then songs played through, and `why` names the move for a song that came in by it."""
    from mpd_sandbox import MpdSandbox

    with MpdSandbox(songs_per_mood=8, song_seconds=4) as sandbox:
        _moves_neutral(sandbox, tmp_path)


def _moves_neutral(mpd_server, tmp_path):
    cfg, history = scanned_library(mpd_server, tmp_path)
    scan = moodbox("--config", str(cfg), "library", "scan", "--json")
    places = {t["file"]: (t["valence"], t["arousal"]) for t in map(json.loads, scan.stdout.splitlines()) if "file" in t}
    content = sorted(places, key=lambda f: places[f][1] - places[f][0])[:5]  # bright and calm
    truth = (sum(places[f][0] for f in content) / 5, sum(places[f][1] for f in content) / 5)
    liked = {f for f in places if math.dist(places[f], truth) <= 0.5}
    assert 3 <= len(liked) < len(places) - 5
    now = time.time()
    events = [
        Event(now - day * DAY, "song", "neutral", "moodbox-neutral", "match", f, "played" if f in liked else "skipped")
        for day in range(1, 5)
        for f in places
    ]
    with HistoryStore(history) as store:
        store.add(events)

    alone = plan([(f, v, a) for f, (v, a) in places.items()], {"n": (0.0, -0.2)}, 3)["n"]
    written = moodbox("--config", str(cfg), "library", "playlists")
    assert written.returncode == 0, written.stderr
    (moved,) = [line for line in written.stdout.splitlines() if line.startswith("moodbox-neutral: around ")]
    assert "for this listener (configured valence +0.00, arousal -0.20), from the skips" in moved
    with ScanCache(tmp_path / "cache.sqlite", (mpd_server.root / "music").resolve(), write=False) as cache:
        (stored,) = cache.mood_points().items()  # for the page's plane
    assert stored[0] == "moodbox-neutral" and moved.startswith(f"moodbox-neutral: around valence {stored[1][0]:+.2f}")
    client = mpd_server.client()
    try:
        neutral = client.listplaylist("moodbox-neutral")
    finally:
        client.disconnect()
    assert set(neutral) <= liked and set(neutral) != set(alone)
    assert not any(line.startswith("moodbox-happy: around") for line in written.stdout.splitlines())

    (newcomer,) = sorted(set(neutral) - set(alone))[:1]
    why = moodbox("--config", str(cfg), "library", "why", newcomer)
    (line,) = [line for line in why.stdout.splitlines() if line.strip().startswith("moodbox-neutral:")]
    assert "in it (placement alone: not in it)" in line and "moved the mood's point to valence" in line


def test_a_scan_cache_that_cannot_keep_the_moved_points_is_one_line_and_the_playlists_are_still_written(mpd_server):
    """`library playlists` keeps the moved points for the page in the scan cache; a cache it may read but not write
    (a read-only file, as after a root-owned scan) costs the page its moved rings, not the night's playlists."""
    folder = Path(tempfile.mkdtemp(prefix="moodbox-ro-"))  # a folder another user can enter (root drops to nobody)
    try:
        folder.chmod(0o777)
        cfg, _ = scanned_library(mpd_server, folder)
        (folder / "cache.sqlite").chmod(0o444)
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*as_user, sys.executable, "-m", "moodbox", "--config", str(cfg), "library", "playlists"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("wrote ") and "Traceback" not in result.stderr
        (line,) = [line for line in result.stderr.splitlines() if "mood points" in line]
        assert "library.cache" in line and line.endswith("; the page shows the configured mood points")
    finally:
        shutil.rmtree(folder)


def test_the_history_is_read_per_written_playlist_and_a_foreign_file_is_one_note(tmp_path):
    import dataclasses

    from moodbox.appliance.listener import read_feedback
    from moodbox.config import Config
    from moodbox.history.settings import HistorySettings

    path = tmp_path / "history.sqlite"
    cfg = dataclasses.replace(Config(), history=HistorySettings(path=path))
    assert read_feedback(cfg, NOW)[1].startswith("no listening history yet")
    with HistoryStore(path) as store:
        store.add(
            [
                Event(NOW - DAY, "song", "sad", "moodbox-sad-uplift", "uplift", "a.flac", "skipped"),
                Event(NOW - DAY, "song", "sad", "sad", "match", "a.flac", "played"),  # a hand-made list: sad's own
                Event(NOW - DAY, "song", None, None, None, "b.flac", "skipped"),  # not queued by moodbox: no mood
                Event(NOW - DAY, "song", "happy", "moodbox-happy", "match", "b.flac", "cut"),  # no verdict
                Event(NOW - DAY, "mood", "happy"),
            ]
        )
    feedback, note = read_feedback(cfg, NOW)
    assert note == ""
    assert {p: set(files) for p, files in feedback.tallies.items()} == {
        "moodbox-sad-uplift": {"a.flac"},
        "moodbox-sad": {"a.flac"},
    }
    off = dataclasses.replace(cfg, library=dataclasses.replace(cfg.library, feedback=FeedbackSettings(enabled=False)))
    nothing, said = read_feedback(off, NOW)
    assert not nothing.tallies and said == ""

    path.unlink()
    path.write_bytes(b"not a history at all" * 100)
    feedback, note = read_feedback(cfg, NOW)
    assert not feedback.tallies and "not a moodbox history" in note and note.endswith("the placement alone")
    assert len(note.splitlines()) == 1


def test_skips_and_play_throughs_on_a_real_mpd_are_recorded_and_rewrite_the_playlist(mpd_server, tmp_path):
    """The whole chain, nothing written by hand: the player steers a real MPD to moodbox-happy; one song is skipped
    each time it comes up by another client's `next` (python-mpd2, as mpc or a phone app would), the others play to
    their end; the service's recorder writes what MPD did to the history; `moodbox library playlists` rewrites the
    playlist without the skipped song, and `moodbox library why` says so."""
    from conftest import wait_for
    from moodbox.appliance.recorder import Recorder
    from moodbox.history.settings import HistorySettings
    from moodbox.playback.connection import MpdSettings
    from moodbox.playback.player import Player
    from moodbox.playback.songs import SongEvent

    cfg, history = scanned_library(mpd_server, tmp_path)
    assert moodbox("--config", str(cfg), "library", "playlists").returncode == 0
    client = mpd_server.client()
    try:
        before = client.listplaylist(HAPPY)
    finally:
        client.disconnect()

    recorder = Recorder(HistorySettings(path=history), policy="match")
    recorder.start()
    songs: list[SongEvent] = []

    def record(event):
        recorder.playback(event)
        if isinstance(event, SongEvent):
            songs.append(event)

    player = Player(MpdSettings(host="127.0.0.1", port=mpd_server.port, transition="now"), {"happy": HAPPY}, seed=1)
    player.songs.on_event = record
    try:
        player.follow("happy", why="mood happy (0.90)")
        disliked = ""
        nexted = 0  # songs started when we last sent `next`: one per start, however late the player sees it

        def listen():  # the listener: skips the first song heard whenever it comes round, lets the rest play
            nonlocal disliked, nexted
            player.poll()
            started = [e for e in songs if e.outcome == "started"]
            if started and not disliked:
                disliked = started[0].file
            if started and started[-1].file == disliked and songs[-1].outcome == "started" and nexted < len(started):
                nexted = len(started)
                other = mpd_server.client()
                try:
                    other.next()
                finally:
                    other.disconnect()
            skipped = [e for e in songs if e.outcome == "skipped"]
            played = [e for e in songs if e.outcome == "played"]
            return len(skipped) >= 2 and len(played) >= 3

        assert wait_for(listen, timeout=60), [(e.file, e.outcome) for e in songs]
    finally:
        player.close()
        recorder.close()
    assert {e.file for e in songs if e.outcome == "skipped"} == {disliked}
    assert disliked in before and {e.file for e in songs if e.outcome == "played"} == set(before) - {disliked}

    again = moodbox("--config", str(cfg), "library", "playlists")
    assert again.returncode == 0, again.stderr
    client = mpd_server.client()
    try:
        after = client.listplaylist(HAPPY)
    finally:
        client.disconnect()
    assert disliked not in after and len(after) == 3
    assert set(before) - {disliked} < set(after)  # the songs played through stay

    why = moodbox("--config", str(cfg), "library", "why", disliked)
    (happy_line,) = [line for line in why.stdout.splitlines() if line.strip().startswith(f"{HAPPY}:")]
    assert "not in it (placement alone: in it)" in happy_line and "skipped 2.0" in happy_line, why.stdout
