"""systemd's notify protocol: READY=1, RELOADING=1, WATCHDOG=1 and STATUS= lines to $NOTIFY_SOCKET.

The protocol is one datagram per message to a unix socket, so it is written
here in a few lines rather than pulling in a dependency. Outside systemd
(no NOTIFY_SOCKET) every call is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable


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

    def send(self, message: str) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):  # systemd gone (shutdown): nothing to tell
                self._socket.sendto(message.encode(), self._address)

    def ready(self, status: str) -> None:
        self.send(f"READY=1\nSTATUS={status}")
        self._last_status, self._last_status_at = status, self._clock()

    def status(self, status: str, urgent: bool = False) -> None:
        """Publish a STATUS line if it changed; at most once a second unless `urgent` (a new mood)."""
        now = self._clock()
        if status != self._last_status and (urgent or now - self._last_status_at >= 1.0):
            self.send(f"STATUS={status}")
            self._last_status, self._last_status_at = status, now

    def watchdog(self) -> None:
        """Call from the frame loop: pings only as often as the watchdog needs."""
        if self.watchdog_every is None:
            return
        now = self._clock()
        if now - self._last_ping >= self.watchdog_every:
            self.send("WATCHDOG=1")
            self._last_ping = now

    def reloading(self) -> None:
        """A reload (SIGHUP) begins; `ready` ends it. MONOTONIC_USEC is what sd_notify(3) asks to go with it."""
        self.send(f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
