"""The notify protocol against a real unix datagram socket that systemd's side does not read: a full socket
never blocks the caller, READY and RELOADING are owed and go first, in order, once it takes messages again."""

import logging
import socket

import pytest

from moodbox.appliance.notify import Notifier


@pytest.fixture
def systemd(tmp_path, monkeypatch):
    """The socket systemd would read; the test reads it only when it says so."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    yield sock
    sock.close()


def drain(sock) -> list[str]:
    """Every datagram waiting on a non-blocking socket."""
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def fill(notifier) -> int:
    """Status lines until the socket takes no more (the kernel's net.unix.max_dgram_qlen)."""
    sent = 0
    while notifier.send(f"STATUS=filler {sent}"):
        sent += 1
        assert sent < 100_000, "the socket never filled"
    return sent


def test_a_full_socket_never_blocks_and_ready_is_owed_until_systemd_reads(systemd, caplog):
    clock = Clock()
    notifier = Notifier(clock=clock)
    filled = fill(notifier)
    with caplog.at_level(logging.INFO, logger="moodbox"):
        notifier.reloading()  # returns at once: a blocking send would wait here for ever
        notifier.ready("mood happy, playlist happy")
        clock.now += 1
        notifier.watchdog()
        notifier.status("mood sad", urgent=True)
    assert len(drain(systemd)) == filled  # nothing got past the full queue
    clock.now += 1
    notifier.watchdog()  # the loop's next frame
    after = drain(systemd)
    assert after[0].startswith("RELOADING=1\nMONOTONIC_USEC=")
    assert after[1:] == ["READY=1\nSTATUS=mood happy, playlist happy", "WATCHDOG=1"]
    notifier.status("mood sad", urgent=True)  # the status that did not go is sent again
    assert drain(systemd) == ["STATUS=mood sad"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "is full" in warnings[0]


def test_a_watchdog_ping_that_did_not_go_is_sent_at_the_next_frame(systemd):
    clock = Clock()
    notifier = Notifier(clock=clock)
    notifier.ready("starting")
    fill(notifier)
    drain(systemd)
    fill(notifier)
    clock.now += 1
    notifier.watchdog()  # full: not sent, and not counted as sent
    drain(systemd)
    clock.now += 0.01
    notifier.watchdog()
    assert drain(systemd) == ["WATCHDOG=1"]


def test_outside_systemd_every_call_is_a_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    notifier.ready("x")
    notifier.reloading()
    notifier.watchdog()
    assert notifier.send("STATUS=y")
    notifier.close()
