"""systemd's notify protocol: READY=1, RELOADING=1, WATCHDOG=1 and STATUS= lines to $NOTIFY_SOCKET.

The protocol is one datagram per message to a unix socket, so it is written
here in a few lines rather than pulling in a dependency. Outside systemd
(no NOTIFY_SOCKET) every call is a no-op.

A send never waits. A unix datagram socket holds only so many messages
(net.unix.max_dgram_qlen: 10 by the kernel, 512 where systemd sets it), and a
blocking send to a full one waits until the reader takes one: a busy or stalled
PID 1 would stop the frame loop, and SIGTERM with it (the send is retried after
the handler). So a message systemd cannot take now is handled by what it is:
READY=1 and RELOADING=1 are owed, in order, and go first once it takes messages
again (a READY never sent would have systemd kill the service at its start
timeout); a WATCHDOG=1 or STATUS= that did not go is sent again at the next
call, as the loop makes them every frame.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        address = os.environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket: socket.socket | None = None
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        usec = os.environ.get("WATCHDOG_USEC", "")
        # Ping at half the watchdog interval, as sd_watchdog_enabled(3) advises.
        self.watchdog_every = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else None
        self._clock = clock
        self._last_ping = -1e9
        self._last_status = ""
        self._last_status_at = -1e9
        self._owed: list[str] = []  # READY/RELOADING messages systemd's full socket did not take yet, in order
        self._full = False  # the socket was full at the last try: said once, until it takes messages again

    def send(self, message: str) -> bool:
        """Send now if systemd takes it, after anything owed; False if it did not go (the socket is full)."""
        return self._deliver_owed() and self._transmit(message)

    def ready(self, status: str) -> None:
        self._owe(f"READY=1\nSTATUS={status}")
        self._last_status, self._last_status_at = status, self._clock()

    def status(self, status: str, urgent: bool = False) -> None:
        """Publish a STATUS line if it changed; at most once a second unless `urgent` (a new mood)."""
        now = self._clock()
        due = status != self._last_status and (urgent or now - self._last_status_at >= 1.0)
        if due and self.send(f"STATUS={status}"):
            self._last_status, self._last_status_at = status, now

    def watchdog(self) -> None:
        """Call from the frame loop: pings only as often as the watchdog needs, and sends what is owed."""
        if not self._deliver_owed() or self.watchdog_every is None:
            return
        now = self._clock()
        if now - self._last_ping >= self.watchdog_every and self._transmit("WATCHDOG=1"):
            self._last_ping = now

    def reloading(self) -> None:
        """A reload (SIGHUP) begins; `ready` ends it. MONOTONIC_USEC is what sd_notify(3) asks to go with it."""
        self._owe(f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _owe(self, message: str) -> None:
        self._owed.append(message)
        self._deliver_owed()  # outside systemd this empties it at once: every transmit "succeeds"

    def _deliver_owed(self) -> bool:
        """Send what is owed, oldest first; True when nothing is owed any more."""
        while self._owed and self._transmit(self._owed[0]):
            self._owed.pop(0)
        return not self._owed

    def _transmit(self, message: str) -> bool:
        if self._socket is None:
            return True
        try:
            self._socket.sendto(message.encode(), socket.MSG_DONTWAIT, self._address)
        except BlockingIOError:
            if not self._full:
                log.warning(
                    "systemd is not taking moodbox's notifications (%s is full: PID 1 busy?); "
                    "READY and RELOADING wait for it, the frame loop does not",
                    self._address,
                )
            self._full = True
            return False
        except OSError:  # systemd gone (shutdown): nothing to tell
            pass
        if self._full:
            log.info("systemd takes moodbox's notifications again")
            self._full = False
        return True
