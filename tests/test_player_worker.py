"""PlayerWorker against a real MPD: requests return at once, the snapshot tells the truth, settings change live."""

import dataclasses
import time

from conftest import wait_for
from moodbox.playback.connection import AnotherInstance, MpdSettings, PlayerError
from moodbox.playback.worker import PlayerState, PlayerWorker, is_fatal

PLAYLISTS = {mood: mood for mood in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")}


def settings(server, **changes):
    return dataclasses.replace(MpdSettings(host="127.0.0.1", port=server.port, transition="now"), **changes)


def playing(server, folder):
    c = server.client()
    try:
        return c.status()["state"] == "play" and c.currentsong().get("file", "").startswith(folder + "/")
    finally:
        c.disconnect()


def test_follow_plays_and_the_snapshot_says_so(mpd_server):
    worker = PlayerWorker(settings(mpd_server), PLAYLISTS)
    assert worker.state == PlayerState(address=f"127.0.0.1:{mpd_server.port}")  # before the thread ran
    worker.start()
    try:
        worker.follow("happy")
        assert wait_for(lambda: playing(mpd_server, "happy"))
        assert wait_for(lambda: worker.state.playlist == "happy")
        assert worker.state.ok and worker.state.describe() == "playlist happy"
    finally:
        worker.close()


def test_the_state_of_a_hung_mpd_says_restart_it_and_clears_when_it_answers(mpd_server):
    """What `moodbox status` and the page show: for an MPD that takes connections but answers nothing, the fix."""
    worker = PlayerWorker(settings(mpd_server, timeout=1.0), PLAYLISTS)
    worker.start()
    try:
        worker.follow("happy")
        assert wait_for(lambda: worker.state.playlist == "happy")
        with mpd_server.frozen():
            hung = wait_for(lambda: "restart it" in worker.state.describe() and worker.state, timeout=15)
        assert hung and hung.hung and not hung.ok
        assert hung.describe().startswith(f"MPD at 127.0.0.1:{mpd_server.port} does not answer (timed out)")
        assert "sudo systemctl restart mpd" in hung.describe()
        assert wait_for(lambda: worker.state.ok and not worker.state.hung, timeout=15)
    finally:
        worker.close()


def test_requests_return_at_once_while_mpd_is_frozen_and_are_done_when_it_thaws(mpd_server):
    worker = PlayerWorker(settings(mpd_server), PLAYLISTS)
    worker.start()
    try:
        worker.follow("happy")
        assert wait_for(lambda: worker.state.playlist == "happy")
        with mpd_server.frozen():
            time.sleep(1)  # the worker is now stuck in a poll
            worker.follow("sad")
            worker.skip()
            state = worker.state  # readable at once
            assert state.playlist == "happy"
        assert wait_for(lambda: playing(mpd_server, "sad"), timeout=20)
    finally:
        worker.close()


def test_new_playlists_apply_to_the_mood_playing_and_other_settings_leave_the_music_alone(mpd_server_long_songs):
    server = mpd_server_long_songs
    worker = PlayerWorker(settings(server), PLAYLISTS)
    worker.start()
    try:
        worker.follow("happy")
        assert wait_for(lambda: playing(server, "happy"))
        c = server.client()
        song = c.currentsong()["id"]
        worker.reconfigure(settings(server, yield_for=30.0), {**PLAYLISTS, "sad": "neutral"})
        time.sleep(1)
        assert c.currentsong()["id"] == song and c.status()["state"] == "play"
        worker.reconfigure(settings(server, yield_for=30.0), {**PLAYLISTS, "happy": "surprise"})
        assert wait_for(lambda: playing(server, "surprise"))
        c.disconnect()
    finally:
        worker.close()


def test_a_new_mpd_address_moves_the_mood_to_that_server(mpd_server):
    from mpd_sandbox import MpdSandbox

    worker = PlayerWorker(settings(mpd_server, port=1), PLAYLISTS)  # nothing listens on port 1
    worker.start()
    try:
        worker.follow("sad")
        assert wait_for(lambda: worker.state.tried and worker.state.last_error)
        assert "unreachable" in worker.state.describe() and not worker.state.ok
        with MpdSandbox(songs_per_mood=2, song_seconds=4) as other:
            worker.reconfigure(settings(other), PLAYLISTS)
            assert wait_for(lambda: playing(other, "sad"))
            assert wait_for(lambda: worker.state.ok)
    finally:
        worker.close()


def test_only_another_instance_ends_the_run():
    assert is_fatal(AnotherInstance("another moodbox steers this MPD"))
    assert not is_fatal(PlayerError("MPD refused the password; set mpd.password"))
