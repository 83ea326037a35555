"""Each song's fate told from a real MPD: started, then played to its end, skipped (any client or the button),
or cut by a mood switch; the switch itself with its reason."""

from test_player import player_for

from conftest import wait_for
from moodbox.playback.songs import SongEvent, SwitchEvent


def songs(events, outcome=None):
    return [e for e in events if isinstance(e, SongEvent) and (outcome is None or e.outcome == outcome)]


def polled_until(player, condition, timeout=15.0):
    def step():
        player.poll()
        return condition()

    return wait_for(step, timeout=timeout)


def test_a_song_skipped_with_next_and_the_next_played_to_its_end(mpd_server_8s_songs):
    mpd_server = mpd_server_8s_songs
    events = []
    player = player_for(mpd_server, transition="now")
    player.songs.on_event = events.append
    player.follow("happy", why="mood happy (0.80)")
    switches = [e for e in events if isinstance(e, SwitchEvent)]
    assert switches == [SwitchEvent("happy", "happy", "now", "mood happy (0.80)")]
    first = polled_until(player, lambda: songs(events, "started"))[0]
    c = mpd_server.client()
    c.next()  # another client moves on: python-mpd2's next, as `mpc next` or a phone app would
    c.disconnect()
    assert polled_until(player, lambda: songs(events, "skipped"))
    second = polled_until(player, lambda: songs(events, "started")[1:])[0]
    assert polled_until(player, lambda: songs(events, "played"), timeout=30)  # an 8 s song, to its end
    skipped, played = songs(events, "skipped")[0], songs(events, "played")[0]
    assert skipped.file == first.file and played.file == second.file and first.file != second.file
    assert all(e.mood == "happy" and e.playlist == "happy" for e in songs(events))
    assert skipped.by == "" and skipped.elapsed < skipped.duration - 1
    assert played.duration and played.elapsed >= played.duration - 2


def test_the_skip_button_and_a_switch_that_cuts_the_song_are_moodboxs_own(mpd_server_long_songs):
    server = mpd_server_long_songs
    events = []
    player = player_for(server, transition="now")
    player.songs.on_event = events.append
    player.follow("happy")
    polled_until(player, lambda: songs(events, "started"))
    player.skip()  # the next song is known at once: a second press skips it too
    assert [(e.outcome, e.by, e.mood) for e in songs(events)[1:]] == [
        ("skipped", "button", "happy"),
        ("started", "", "happy"),
    ]
    player.follow("sad", why="mood sad (0.55)")  # transition now: the happy song is cut, no verdict on it
    cut, sad = songs(events)[3:]
    assert (cut.outcome, cut.by, cut.mood, cut.file) == ("cut", "moodbox", "happy", songs(events)[2].file)
    assert (sad.outcome, sad.mood, sad.playlist) == ("started", "sad", "sad") and sad.file.startswith("sad/")
    assert not songs(events, "played")


def test_after_song_lets_the_song_end_as_played_then_the_new_mood_starts(mpd_server):
    events = []
    player = player_for(mpd_server, transition="after_song")
    player.songs.on_event = events.append
    player.follow("neutral")
    first = polled_until(player, lambda: songs(events, "started"))[0]
    player.follow("happy")
    assert not songs(events, "cut")
    assert polled_until(player, lambda: [e for e in songs(events, "started") if e.mood == "happy"], timeout=20)
    assert (songs(events)[1].outcome, songs(events)[1].file) == ("played", first.file)


def test_a_one_song_queue_on_repeat_counts_each_play(mpd_server):
    server = mpd_server
    server.write_playlist("one", ["happy/happy-1.wav"])
    events = []
    player = player_for(server, transition="now")
    player.playlists["happy"] = ("one",)
    player.songs.on_event = events.append
    player.follow("happy")
    assert polled_until(player, lambda: len(songs(events, "played")) >= 1, timeout=20)
    played = songs(events, "played")[0]
    assert played.file == "happy/happy-1.wav" and played.elapsed >= played.duration - 2
    assert not songs(events, "skipped")
