"""The MPD player against a real MPD server (a private one per test, on loopback)."""

import time

import mpd
import pytest

from conftest import wait_for
from moodbox.player import MpdSettings, Player, PlayerError

PLAYLISTS = {m: m for m in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")}


def player_for(server, **settings) -> Player:
    return Player(MpdSettings(host="127.0.0.1", port=server.port, **settings), PLAYLISTS, seed=1)


def playing(server) -> str | None:
    c = server.client()
    try:
        status = c.status()
        return c.currentsong().get("file") if status["state"] == "play" else None
    finally:
        c.disconnect()


def queue(server) -> list[str]:
    c = server.client()
    try:
        return [s["file"] for s in c.playlistinfo()]
    finally:
        c.disconnect()


def test_now_switches_at_once_to_the_moods_playlist_shuffled(mpd_server):
    player = player_for(mpd_server, transition="now")
    player.follow("happy")
    assert playing(mpd_server).startswith("happy/")
    assert sorted(queue(mpd_server)) == ["happy/happy-1.wav", "happy/happy-2.wav", "happy/happy-3.wav"]
    player.follow("sad")
    assert playing(mpd_server).startswith("sad/")
    assert all(f.startswith("sad/") for f in queue(mpd_server))


def test_after_song_lets_the_current_song_finish_then_plays_the_new_mood(mpd_server):
    player = player_for(mpd_server, transition="after_song")
    player.follow("neutral")
    current = playing(mpd_server)
    player.follow("happy")
    q = queue(mpd_server)  # the playing song stays where it is (not interrupted), the new mood's songs follow it
    assert q[0] == current and all(f.startswith("happy/") for f in q[1:]) and len(q) == 4
    assert playing(mpd_server) in (current, q[1])  # a 4 s song may end just now on a busy machine
    assert wait_for(lambda: (playing(mpd_server) or "").startswith("happy/"), timeout=8)


def test_recently_played_songs_go_to_the_back(mpd_server_long_songs):
    # Long songs: on a busy machine a 4 s song could end between reading it and poll() remembering it.
    server = mpd_server_long_songs
    player = player_for(server, transition="now")
    player.follow("happy")
    first = playing(server)
    player.poll()
    assert player.recently_played() == [first]
    player.follow("sad")
    player.poll()
    player.follow("happy")
    assert queue(server)[-1] == first


def test_another_client_taking_over_makes_moodbox_back_off(mpd_server):
    clock = [0.0]
    player = Player(
        MpdSettings(host="127.0.0.1", port=mpd_server.port, transition="now", yield_for=60),
        PLAYLISTS,
        clock=lambda: clock[0],
    )
    player.follow("happy")
    c = mpd_server.client()
    c.pause(1)  # the listener pauses from their phone
    c.disconnect()
    clock[0] += 1
    player.poll()
    player.follow("sad")
    assert all(f.startswith("happy/") for f in queue(mpd_server))  # moodbox did not fight them
    clock[0] += 61
    player.follow("surprise")
    assert playing(mpd_server).startswith("surprise/")


def test_away_can_pause(mpd_server):
    player = player_for(mpd_server, transition="now", away="pause")
    player.follow("happy")
    player.follow("away")
    c = mpd_server.client()
    assert c.status()["state"] == "pause"
    c.disconnect()


def test_mpd_restart_is_survived_and_control_resumes(mpd_server):
    player = player_for(mpd_server, transition="now")
    player.follow("happy")
    mpd_server.kill()
    player.poll()  # notices, never raises
    assert not player.connected
    player.follow("sad")  # decided while MPD is down: remembered
    mpd_server.start()
    restarted = time.monotonic()

    def resumed():
        player.poll()
        return (playing(mpd_server) or "").startswith("sad/")

    assert wait_for(resumed, timeout=5)
    assert time.monotonic() - restarted < 5


def test_idle_socket_closed_by_mpd_is_reopened_transparently(mpd_server):
    player = player_for(mpd_server, transition="now")
    player.follow("happy")
    player._client._sock.close()  # what MPD's connection_timeout does to a quiet client
    player.follow("sad")
    assert playing(mpd_server).startswith("sad/")


def test_unreachable_mpd_backs_off_without_hammering():
    clock = [0.0]
    player = Player(MpdSettings(host="127.0.0.1", port=1), PLAYLISTS, clock=lambda: clock[0])
    attempts = []
    real_connect = player._client.connect
    player._client.connect = lambda *a: (attempts.append(clock[0]), real_connect(*a))[1]
    for _ in range(50):
        player.poll()
        player.follow("happy")
        clock[0] += 0.1
    assert 3 <= len(attempts) <= 6  # every 0.5, 1, 2, 2 s over 5 s; not 100 tries
    assert "refused" in player.last_error.lower()


def test_missing_or_empty_playlists_are_reported(mpd_server):
    player = Player(MpdSettings(host="127.0.0.1", port=mpd_server.port), {"happy": "happy", "sad": "blues"})
    assert player.check_playlists() == {"sad": "playlist 'blues' does not exist in MPD"}
    player.follow("sad")  # logged, not raised
    assert not player.connected or player.playlist is None


def test_wrong_password_is_a_clear_error():
    from mpd_sandbox import MpdSandbox

    with MpdSandbox(songs_per_mood=1, song_seconds=1, password="secret") as server:
        player = Player(MpdSettings(host="127.0.0.1", port=server.port, password="wrong"), PLAYLISTS)
        with pytest.raises(PlayerError, match="MPD refused the password"):
            player.connect()
        good = Player(MpdSettings(host="127.0.0.1", port=server.port, password="secret"), PLAYLISTS)
        good.follow("happy")
        assert good.playlist == "happy"


def test_python_mpd2_is_what_we_think_it_is():
    assert issubclass(mpd.ConnectionError, mpd.MPDError)
