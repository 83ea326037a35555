"""The service's control socket: what it is doing, for `moodbox status` and the web page, and the buttons' commands.

The camera process opens no network port. It listens on a unix socket (`control.socket`, in the
unit's RuntimeDirectory, 0660 so only root and the moodbox group may connect), and speaks lines of
JSON, one request and one reply each:

    {"cmd": "state"}                    -> {"ok": true, "state": {...}}
    {"cmd": "watch"}                    -> {"ok": true, "state": {...}}, then a line per change, until closed
    {"cmd": "skip" | "reread" | "pause" | "resume"}
    {"cmd": "lock" | "privacy", "on": true | false}
    {"cmd": "policy", "value": "match" | "uplift"}
                                        -> {"ok": true} or {"ok": false, "error": "..."}

The state is a snapshot the frame loop publishes (`publish`) and readers only read, so no client
can make the loop wait; a command is put on the loop's event queue and done there, as a button
press is. The state never holds an image: a face is a box, the light a number. At most
MAX_CLIENTS connections are served at once and a request line is at most MAX_LINE bytes, so a
flood of clients costs threads and memory that are bounded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moodbox.base.errors import Explained

log = logging.getLogger(__name__)

MAX_CLIENTS = 8
MAX_LINE = 4096
WATCH_EVERY = 0.25  # seconds between looks for a new snapshot while a client watches
COMMANDS = {"skip", "reread", "pause", "resume", "lock", "privacy", "policy"}


@dataclass(frozen=True)
class Command:
    """A command from the socket, done by the frame loop: `name` and, for lock, privacy and policy, `value`."""

    name: str
    value: bool | str | None = None


class ControlError(Explained, RuntimeError):
    """The service cannot be asked: it is not running, or the socket is not ours to use. One line, with the fix."""


def parse(line: bytes) -> Command | str:
    """A request line as a Command, or "state"/"watch", or raises ValueError with what is wrong."""
    try:
        request = json.loads(line)
    except ValueError:
        raise ValueError("not a JSON line") from None
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        raise ValueError('a request is {"cmd": ...}')
    name = request["cmd"]
    if name in ("state", "watch"):
        return name
    if name not in COMMANDS:
        raise ValueError(f"unknown command {name!r}")
    if name in ("lock", "privacy"):
        on = request.get("on")
        if not isinstance(on, bool):
            raise ValueError(f'{name} needs "on": true or false')
        return Command(name, on)
    if name == "policy":
        value = request.get("value")
        if value not in ("match", "uplift"):
            raise ValueError('policy needs "value": "match" or "uplift"')
        return Command(name, value)
    return Command(name)


class ControlServer:
    """Serves the socket on threads of its own; `publish` hands it the newest state, commands go to `events`."""

    def __init__(self, path: Path, events: queue.SimpleQueue[Any]) -> None:
        self.path, self.events = Path(path), events
        self._state: dict[str, Any] = {}
        self._version = 0
        self._changed = threading.Condition()
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen; a stale socket file left by a crash is replaced, anything else in the way is an error."""
        if self.path.is_socket():
            with contextlib.suppress(OSError):  # no answer: a socket file a crash left behind
                self._ask_alive()
                raise ControlError(
                    f"another moodbox answers on {self.path}; stop it first: sudo systemctl stop moodbox"
                )
            self.path.unlink()
        elif self.path.exists():
            raise ControlError(f"{self.path} exists and is not a socket; set control.socket to a free path")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handler = _handler_for(self)
        old_umask = os.umask(0o117)  # the socket file is 0660 from its creation: no moment of wider access
        try:
            self._server = _Server(str(self.path), handler)
        finally:
            os.umask(old_umask)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moodbox-control", daemon=True)
        self._thread.start()

    def start_or_say(self) -> None:
        """Start; if the socket cannot be had, say so in one line and go on (the music does not depend on it)."""
        try:
            self.start()
        except (ControlError, OSError) as e:
            why = e if isinstance(e, ControlError) else f"cannot listen on {self.path}: {e.strerror or e}"
            log.error("control socket: %s; moodbox status and the web page cannot reach the service", why)

    def _ask_alive(self) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(str(self.path))

    def publish(self, state: dict[str, Any]) -> None:
        """The frame loop's newest state; watchers hear of it if it changed. Never waits on a client."""
        if state == self._state:
            return
        with self._changed:
            self._state, self._version = state, self._version + 1
            self._changed.notify_all()

    def snapshot(self) -> tuple[int, dict[str, Any]]:
        return self._version, self._state

    def wait_for_change(self, seen: int, timeout: float) -> tuple[int, dict[str, Any]]:
        with self._changed:
            self._changed.wait_for(lambda: self._version != seen, timeout)
            return self._version, self._state

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-reply (a closed page, a flood): nothing to say, and no traceback."""
        log.debug("control socket: a client went away", exc_info=True)


def _handler_for(server: ControlServer) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        timeout = 30.0  # a client that connects and says nothing is dropped

        def handle(self) -> None:
            if not server._slots.acquire(blocking=False):
                with contextlib.suppress(OSError):
                    self._reply({"ok": False, "error": f"too many clients (at most {MAX_CLIENTS})"})
                return
            try:
                self._serve()
            except (OSError, TimeoutError):
                pass  # the client went away
            finally:
                server._slots.release()

        def _serve(self) -> None:
            for line in iter(lambda: self.rfile.readline(MAX_LINE + 1), b""):
                if len(line) > MAX_LINE:
                    self._reply({"ok": False, "error": f"request longer than {MAX_LINE} bytes"})
                    return
                try:
                    request = parse(line)
                except ValueError as e:
                    self._reply({"ok": False, "error": str(e)})
                    continue
                if request == "state":
                    self._reply({"ok": True, "state": server.snapshot()[1]})
                elif request == "watch":
                    self._watch()
                    return
                else:
                    server.events.put(request)
                    self._reply({"ok": True})

        def _watch(self) -> None:
            seen, state = server.snapshot()
            self._reply({"ok": True, "state": state})
            while True:
                version, state = server.wait_for_change(seen, WATCH_EVERY * 40)
                if version != seen:
                    seen = version
                    self._reply({"state": state})
                else:
                    self._reply({})  # a keep-alive: a vanished client is noticed here

        def _reply(self, message: dict[str, Any]) -> None:
            self.wfile.write(json.dumps(message).encode() + b"\n")
            self.wfile.flush()

    return Handler


@contextlib.contextmanager
def connection(path: Path, timeout: float = 0.5) -> Iterator[socket.socket]:
    """A connection to a running service's socket; ControlError (one line, the fix) when there is none."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        s.close()
        raise ControlError(
            f"moodbox is not running (nothing answers on {path}); start it: sudo systemctl start moodbox"
        ) from None
    except PermissionError:
        s.close()
        raise ControlError(f"may not use {path}; run as root or as a member of the moodbox group") from None
    except OSError as e:
        s.close()
        raise ControlError(f"cannot reach moodbox on {path}: {e.strerror or e}") from None
    try:
        yield s
    finally:
        s.close()


def ask(path: Path, request: dict[str, Any], timeout: float = 0.5) -> dict[str, Any]:
    """One request and its reply; ControlError if the service does not answer within `timeout` seconds."""
    with connection(path, timeout) as s:
        try:
            s.sendall(json.dumps(request).encode() + b"\n")
            with s.makefile("rb") as replies:
                line = replies.readline(1 << 20)
        except TimeoutError:
            raise ControlError(
                f"moodbox did not answer on {path} within {timeout} s; is it stuck? journalctl -u moodbox"
            ) from None
        except OSError as e:
            raise ControlError(f"moodbox closed {path} ({e.strerror or e}); try again") from None
    try:
        reply = json.loads(line)
    except ValueError:
        raise ControlError(f"moodbox answered on {path} with something that is not JSON; try again") from None
    if not isinstance(reply, dict):
        raise ControlError(f"moodbox answered on {path} with something unexpected; try again")
    return reply
