"""`moodbox run` under the faults of a home (issue 12): a real MPD frozen, down at boot or locked with a
password, a config edited and reloaded with SIGHUP, a camera that delivers nothing; what systemd hears is
read from a NOTIFY_SOCKET of the test's own."""

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
from make_clip import make_clip
from test_notify import drain
from test_service import HAPPY, NEUTRAL, grey, start, write_config

from conftest import wait_for


class Notifications(threading.Thread):
    """systemd's side of the notify protocol: every datagram with the monotonic time it came."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"}
        self.received: list[tuple[float, str]] = []
        self.done = threading.Event()
        self.start()

    def run(self):
        while not self.done.is_set():
            try:
                self.received.append((time.monotonic(), self.sock.recv(4096).decode()))
            except OSError:
                continue

    def close(self):
        time.sleep(0.3)
        self.done.set()
        self.join()
        self.sock.close()

    @property
    def messages(self) -> list[str]:
        return [m for _, m in self.received]

    def seen(self, *fragments, since=0):
        """The first message (from index `since`) containing every fragment, or None."""
        return next((m for m in self.messages[since:] if all(f in m for f in fragments)), None)

    def watchdog_times(self, start=0.0, end=float("inf")) -> list[float]:
        return [t for t, m in self.received if m == "WATCHDOG=1" and start <= t <= end]


def stop(proc, timeout=20):
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # `start` sets PYTHONFAULTHANDLER: where each thread was, in its output
        out, _ = proc.communicate()
        pytest.fail(f"moodbox run did not stop within {timeout} s of SIGTERM:\n{out[-8000:]}")
    return out


def test_frozen_mpd_stalls_neither_the_watchdog_nor_sigterm(tmp_path, mpd_server):
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 60)])
    systemd = Notifications(tmp_path / "notify.sock")
    proc = start(write_config(tmp_path, mpd_server, clip), env=systemd.env)
    mpd_pid = mpd_server._process.pid
    frozen = False
    try:
        assert wait_for(lambda: systemd.seen("STATUS=mood happy", "playlist happy"), timeout=30), systemd.messages
        os.kill(mpd_pid, signal.SIGSTOP)
        frozen = True
        frozen_at = time.monotonic()
        # past two of mpd.timeout (5 s): the command's read, then the one reconnection at once, have timed out
        time.sleep(12)
        asked = time.monotonic()
        out = stop(proc)
        exit_s = time.monotonic() - asked
    finally:
        if frozen:
            os.kill(mpd_pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        systemd.close()
    pings = [frozen_at, *systemd.watchdog_times(frozen_at, asked), asked]
    gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
    assert proc.returncode == 0, out
    assert max(gaps) <= 2.0, f"largest gap between watchdog pings while MPD was frozen: {max(gaps):.1f} s"
    assert exit_s <= 2.0, f"SIGTERM took {exit_s:.1f} s with MPD frozen"
    assert systemd.messages[-1] == "STOPPING=1"
    assert "Traceback" not in out
    assert "does not answer (timed out); it takes connections but has hung: restart it" in out, out


def test_mpd_down_at_boot_is_ready_with_mpd_in_status_then_plays_when_it_comes(tmp_path, mpd_server):
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 60)])
    mpd_server.kill()
    systemd = Notifications(tmp_path / "notify.sock")
    proc = start(write_config(tmp_path, mpd_server, clip), env=systemd.env)
    try:
        ready = wait_for(lambda: systemd.seen("READY=1"), timeout=30)
        assert ready, systemd.messages
        assert wait_for(lambda: systemd.seen("STATUS=mood happy", "unreachable"), timeout=20), systemd.messages
        mpd_server.start()
        assert wait_for(lambda: systemd.seen("STATUS=mood happy", "playlist happy"), timeout=20), systemd.messages
    finally:
        out = stop(proc)
        systemd.close()
    assert proc.returncode == 0, out
    assert "Traceback" not in out


def test_systemd_not_reading_its_socket_stalls_neither_the_loop_nor_sigterm_and_ready_waits_for_it(
    tmp_path, mpd_server
):
    """A busy PID 1: its notify socket is full (the kernel queues net.unix.max_dgram_qlen datagrams, then a
    blocking send waits, SIGTERM or not). Here it is full before moodbox sends anything."""
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 60)])
    path = tmp_path / "notify.sock"
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(path))
    systemd.setblocking(False)
    fill(path)
    proc = start(write_config(tmp_path, mpd_server, clip), env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"})
    try:
        assert wait_for(lambda: mpd_server.current_file().startswith("happy/"), timeout=30)  # the loop went on
        messages = []
        while not any(m.startswith("READY=1") for m in messages):  # systemd reads again: READY was owed
            assert wait_for(lambda: messages.extend(drain(systemd)) or messages, timeout=5), messages
        asked = time.monotonic()
        out = stop(proc)
        exit_s = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        systemd.close()
    assert proc.returncode == 0, out
    assert exit_s <= 2.0, f"SIGTERM took {exit_s:.1f} s"
    assert [m for m in messages if m != "X=1"][0].startswith("READY=1\nSTATUS=mood"), messages
    assert "notifications (" in out and "is full" in out and "takes moodbox's notifications again" in out, out
    assert "Traceback" not in out


def fill(path) -> None:
    """Datagrams until the reader's queue takes no more. A sender's own buffer can run out first (where
    net.unix.max_dgram_qlen is systemd's 512), so fresh senders go on until one cannot send even its first."""
    while True:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.setblocking(False)
            try:
                sender.sendto(b"X=1", str(path))
            except BlockingIOError:
                return
            with contextlib.suppress(BlockingIOError):
                for _ in range(100_000):
                    sender.sendto(b"X=1", str(path))


def test_the_led_blinks_error_while_mpd_is_down_and_shows_the_mood_once_it_is_back(tmp_path, mpd_server, monkeypatch):
    """In-process, with gpiozero's mock pins (the only part here that is not real)."""
    from moodbox import config
    from moodbox.appliance.controls import LedState
    from moodbox.appliance.service import Service

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setenv("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 40)])
    mpd_server.kill()
    service = Service(config.load(write_config(tmp_path, mpd_server, clip, extra="gpio:\n  led: 22\n")))
    runner = threading.Thread(target=service.run)
    runner.start()
    try:
        assert wait_for(lambda: service.ready, timeout=30)
        assert wait_for(lambda: service.controls.state == LedState.ERROR, timeout=10), service.controls.state
        mpd_server.start()
        assert wait_for(lambda: service.controls.state == LedState.PLAYING, timeout=30), service.controls.state
    finally:
        service.stop()
        runner.join(20)
    assert not runner.is_alive()


def test_sighup_reloads_the_config_without_stopping_the_music_and_keeps_it_when_the_new_one_is_bad(
    tmp_path, mpd_server_long_songs
):
    server = mpd_server_long_songs
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 90)])
    cfg = write_config(tmp_path, server, clip)
    good = cfg.read_text()
    systemd = Notifications(tmp_path / "notify.sock")
    proc = start(cfg, env=systemd.env)
    c = server.client()
    try:
        assert wait_for(lambda: systemd.seen("STATUS=mood happy", "playlist happy"), timeout=30), systemd.messages
        song = c.currentsong()["id"]

        # A harmless edit: applied, and the song plays on.
        cfg.write_text(good + "mood:\n  min_interval: 6.0\n")
        seen = len(systemd.messages)
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: systemd.seen("READY=1", since=seen), timeout=10), systemd.messages
        reloading = systemd.seen("RELOADING=1", since=seen)
        assert reloading and "MONOTONIC_USEC=" in reloading
        time.sleep(1)
        assert proc.poll() is None
        status = c.status()
        assert status["state"] == "play" and c.currentsong()["id"] == song

        # A broken edit: one error line, the old config kept.
        cfg.write_text(good + "mood:\n  dwell: -1\n")
        seen = len(systemd.messages)
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: systemd.seen("READY=1", since=seen), timeout=10), systemd.messages
        assert proc.poll() is None and c.status()["state"] == "play"

        # The happy mood's playlist changed: the music follows it.
        cfg.write_text(good + "playlists:\n  happy: neutral\n")
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: server.current_file().startswith("neutral/"), timeout=15)
    finally:
        c.disconnect()
        out = stop(proc)
        systemd.close()
    assert proc.returncode == 0, out
    errors = [line for line in out.splitlines() if "reload:" in line]
    assert len(errors) == 1 and "mood.dwell must be between" in errors[0] and "previous config" in errors[0], out
    assert out.count("reloaded") == 2, out
    assert systemd.messages[-1] == "STOPPING=1"
    assert "Traceback" not in out


def test_mpd_refusing_moodbox_keeps_the_service_up_with_the_fix_in_status(tmp_path):
    from mpd_sandbox import MpdSandbox

    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 60)])
    # With a password line, MPD grants nothing without the password.
    with MpdSandbox(songs_per_mood=3, song_seconds=4, password="SECRET") as server:
        cfg = write_config(tmp_path, server, clip)  # no mpd.password
        systemd = Notifications(tmp_path / "notify.sock")
        proc = start(cfg, env=systemd.env)
        try:
            assert wait_for(lambda: systemd.seen("READY=1"), timeout=30), systemd.messages
            assert wait_for(lambda: systemd.seen("STATUS=mood happy", "mpd.password"), timeout=20), systemd.messages
            assert proc.poll() is None
            cfg.write_text(cfg.read_text().replace("  transition: now\n", "  transition: now\n  password: SECRET\n"))
            proc.send_signal(signal.SIGHUP)
            assert wait_for(lambda: systemd.seen("STATUS=mood happy", "playlist happy"), timeout=20), systemd.messages
        finally:
            out = stop(proc)
            systemd.close()
    assert proc.returncode == 0, out
    assert "Traceback" not in out


def test_a_second_moodbox_on_the_same_mpd_ends_with_one_line(tmp_path, mpd_server):
    clip = make_clip(tmp_path / "c.avi", [(grey(NEUTRAL), 60)])
    cfg = write_config(tmp_path, mpd_server, clip)
    first = start(cfg)
    try:
        assert wait_for(lambda: mpd_server.current_file().startswith("neutral/"), timeout=30)
        second = start(cfg)
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 2, out
        errors = [line for line in out.splitlines() if line.startswith("moodbox:")]
        assert len(errors) == 1 and "Traceback" not in out, out
        assert first.poll() is None
    finally:
        stop(first)


def test_a_camera_that_delivers_nothing_keeps_the_watchdog_fed_until_it_gives_up(tmp_path, mpd_server):
    if os.path.exists("/dev/video0"):
        pytest.skip("a real /dev/video0 is present")
    cfg = write_config(tmp_path, mpd_server, "0", extra="")
    cfg.write_text(cfg.read_text().replace("  source: 0\n", "  source: 0\n  give_up_after: 4\n"))
    systemd = Notifications(tmp_path / "notify.sock")
    began = time.monotonic()
    proc = start(cfg, env=systemd.env)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        ended = time.monotonic()
        systemd.close()
    pings = systemd.watchdog_times()
    assert proc.returncode == 2, out
    errors = [line for line in out.splitlines() if line.startswith("moodbox:")]
    assert len(errors) == 1 and "delivered no frame for 4 s" in errors[0], out
    assert len(pings) >= 4, systemd.received
    gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
    assert max(gaps) <= 2.0, gaps
    assert pings[0] - began < ended - began
    assert "Traceback" not in out


def test_buttons_work_while_the_camera_is_being_retried(tmp_path, mpd_server, monkeypatch):
    """In-process, with gpiozero's mock pins; the camera is /dev/video0, which does not exist here."""
    if os.path.exists("/dev/video0"):
        pytest.skip("a real /dev/video0 is present")
    from gpiozero import Device

    from moodbox import config
    from moodbox.appliance.service import Service

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setenv("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    extra = "gpio:\n  lock_button: 27\n  led: 22\n"
    cfg = write_config(tmp_path, mpd_server, "0", extra=extra)
    cfg.write_text(cfg.read_text().replace("  source: 0\n", "  source: 0\n  give_up_after: 120\n"))
    service = Service(config.load(cfg))
    runner = threading.Thread(target=service.run)
    runner.start()
    try:
        time.sleep(1.5)  # the camera has failed to open and is in its backoff
        pin = Device.pin_factory.pin(27)
        pin.drive_low()
        time.sleep(0.2)
        pin.drive_high()
        assert wait_for(lambda: service.locked, timeout=5), "the lock press was not handled"
    finally:
        service.stop()
        runner.join(20)
        Device.pin_factory.reset()
    assert not runner.is_alive()


def test_reload_moves_the_led_to_its_new_pin(tmp_path, mpd_server, monkeypatch):
    """In-process, with gpiozero's mock pins."""
    from gpiozero import Device

    from moodbox import config
    from moodbox.appliance.service import Service

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setenv("GPIOZERO_MOCK_PIN_CLASS", "mockpwmpin")
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    clip = make_clip(tmp_path / "c.avi", [(grey(HAPPY), 40)])
    cfg = write_config(tmp_path, mpd_server, clip, extra="gpio:\n  led: 22\n")
    service = Service(config.load(cfg), config_path=cfg)
    runner = threading.Thread(target=service.run)
    runner.start()
    try:
        assert wait_for(lambda: service.ready, timeout=30)
        cfg.write_text(cfg.read_text().replace("led: 22", "led: 23"))
        service.reload_requested.set()  # what SIGHUP does (signals reach only the main thread)
        assert wait_for(lambda: service.controls is not None and str(service.controls.led.pin) == "GPIO23")
        assert wait_for(lambda: service.controls.state is not None)
    finally:
        service.stop()
        runner.join(20)
        Device.pin_factory.reset()
    assert not runner.is_alive()
