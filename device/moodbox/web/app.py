"""`moodbox web`: the page on the local network, its own process, talking to the service over its socket.

The camera process opens no port; this one does (`web.host`, `web.port`), as an unprivileged
user, and everything but the login needs the password (moodbox.web.auth). What it serves:

* `/` the page (our own HTML, CSS and JavaScript, no CDN, no outside fonts);
* `/api/state` and `/api/events` the service's state, pushed as Server-Sent Events: one watch
  connection to the control socket per page, forwarded as each change comes (well within a second);
* `/api/command` the buttons' commands (CSRF token in a header), passed to the service;
* `/api/history` today's or this week's moods over the hours, each mood's share, songs played and
  skipped (read from the service's history, read-only);
* `/api/scan` how far the library scan is, and (POST) a scan now (moodbox-library.path starts it);
* `/api/library` every scanned track on the valence/arousal plane, each mood's point, and
  `/api/track` why one track sits where it does (read from the scan cache, read-only).

No response ever carries image bytes: the camera's aim is a box and a number, drawn as SVG by the
page itself, and a middleware refuses any image type on the way out.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from moodbox.appliance.control import MAX_LINE, ControlError, ask, parse
from moodbox.config import Config
from moodbox.music.scan_progress import progress_path, read_progress, request_scan
from moodbox.web.auth import LoginLimiter, Sessions, read_hash, verify_password
from moodbox.web.history_view import summary
from moodbox.web.library_view import LibraryView

log = logging.getLogger(__name__)

COOKIE = "moodbox_session"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN = {"/login", "/style.css"}  # the only paths served without a session
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'none'; media-src 'none'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def static(name: str) -> str:
    return resources.files("moodbox.web").joinpath("static", name).read_text()


class WebApp:
    """The page's routes, bound to one config (its control socket, scan cache and password file)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.sessions = Sessions()
        self.limiter = LoginLimiter()
        self.library = LibraryView(cfg.library)

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.add_routes(
            [
                web.get("/login", self.login_page),
                web.post("/login", self.login),
                web.post("/logout", self.logout),
                web.get("/", self.index),
                web.get("/style.css", self.asset),
                web.get("/app.js", self.asset),
                web.get("/api/state", self.state),
                web.get("/api/events", self.events),
                web.post("/api/command", self.command),
                web.get("/api/library", self.library_points),
                web.get("/api/track", self.track),
                web.get("/api/history", self.history),
                web.get("/api/scan", self.scan_progress),
                web.post("/api/scan", self.scan_now),
            ]
        )
        return app

    # ---- every request ------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Sessions, CSRF on every POST but the login, security headers, and never an image out."""
        if request.path not in OPEN:
            session = self.sessions.get(request.cookies.get(COOKIE))
            if session is None:
                if request.method == "GET" and not request.path.startswith("/api/"):
                    raise web.HTTPSeeOther("/login")
                raise web.HTTPUnauthorized(text="log in first")
            if request.method == "POST" and request.headers.get("X-CSRF-Token") != session.csrf:
                raise web.HTTPForbidden(text="missing or wrong CSRF token; reload the page")
        response = await handler(request)
        if (response.content_type or "").startswith("image/"):
            raise web.HTTPInternalServerError(text="moodbox never sends images")
        response.headers.update(SECURITY_HEADERS)
        return response

    # ---- login --------------------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.Response:
        page = static("login.html").replace("{{wrong}}", "" if request.query.get("wrong") else "hidden")
        return web.Response(text=page, content_type="text/html")

    async def login(self, request: web.Request) -> web.Response:
        address = request.remote or "?"
        wait = self.limiter.wait(address)
        if wait > 0:
            return web.Response(
                status=429,
                text=f"too many wrong passwords; try again in {wait:.0f} s",
                headers={"Retry-After": str(int(wait) + 1)},
            )
        form = await request.post()
        password = form.get("password")
        try:
            stored = read_hash(self.cfg.web.password_file)
        except Exception as e:  # PasswordError, or a file gone bad: one line for whoever logs in
            log.error("web: %s", e)
            return web.Response(status=503, text=str(e))
        ok = isinstance(password, str) and await asyncio.get_running_loop().run_in_executor(
            None, verify_password, password, stored
        )
        if not ok:
            self.limiter.failed(address)
            log.warning("web: wrong password from %s", address)
            raise web.HTTPSeeOther("/login?wrong=1")
        token, _ = self.sessions.open()
        response = web.HTTPSeeOther("/")
        response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", max_age=30 * 86400, path="/")
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        self.sessions.close(request.cookies.get(COOKIE))
        response = web.HTTPSeeOther("/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    # ---- the page -----------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.cookies.get(COOKIE))
        assert session is not None  # the guard let it through
        page = static("index.html").replace("{{csrf}}", session.csrf)
        return web.Response(text=page, content_type="text/html")

    async def asset(self, request: web.Request) -> web.Response:
        name = request.path.lstrip("/")
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return web.Response(text=static(name), content_type=kind)

    # ---- the service ----------------------------------------------------------------------

    async def state(self, request: web.Request) -> web.Response:
        try:
            reply = await asyncio.get_running_loop().run_in_executor(
                None, ask, self.cfg.control.socket, {"cmd": "state"}
            )
        except ControlError as e:
            return web.json_response({"running": False, "error": str(e)})
        return web.json_response({"running": True, "state": reply.get("state", {})})

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: each change of the service's state, as it comes; the service going away, said."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(str(self.cfg.control.socket), limit=1 << 20)
            except OSError:
                await response.write(b"event: down\ndata: {}\n\n")
                await asyncio.sleep(2.0)
                continue
            try:
                writer.write(b'{"cmd": "watch"}\n')
                await writer.drain()
                while line := await reader.readline():
                    message = json.loads(line)
                    if "state" in message:
                        await response.write(b"data: " + json.dumps(message["state"]).encode() + b"\n\n")
                    else:
                        await response.write(b": alive\n\n")  # a closed page is noticed here
            except (ConnectionError, ValueError):
                pass
            finally:
                writer.close()
            await response.write(b"event: down\ndata: {}\n\n")
            await asyncio.sleep(1.0)

    async def command(self, request: web.Request) -> web.Response:
        body = await request.read()
        if len(body) > MAX_LINE:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_LINE, actual_size=len(body))
        try:
            parse(body)  # refused here already, with the same words the service would use
            request_json: dict[str, Any] = json.loads(body)
        except ValueError as e:
            return web.json_response({"ok": False, "error": str(e)}, status=400)
        try:
            reply = await asyncio.get_running_loop().run_in_executor(None, ask, self.cfg.control.socket, request_json)
        except ControlError as e:
            return web.json_response({"ok": False, "error": str(e)}, status=503)
        return web.json_response(reply)

    # ---- the music --------------------------------------------------------------------------

    async def library_points(self, request: web.Request) -> web.Response:
        data = await asyncio.get_running_loop().run_in_executor(None, self.library.points)
        return web.json_response(data)

    async def history(self, request: web.Request) -> web.Response:
        days = 7 if request.query.get("days") == "7" else 1
        found = await asyncio.get_running_loop().run_in_executor(None, summary, self.cfg.history, days)
        return web.json_response(found)

    async def scan_progress(self, request: web.Request) -> web.Response:
        return web.json_response(read_progress(progress_path(self.cfg.library.cache)))

    async def scan_now(self, request: web.Request) -> web.Response:
        """Ask for a library scan: moodbox-library.path starts the scan unit when the request file changes."""
        try:
            request_scan(self.cfg.library.cache)
        except OSError as e:
            return web.json_response({"ok": False, "error": f"cannot ask for a scan: {e.strerror or e}"}, status=503)
        return web.json_response({"ok": True})

    async def track(self, request: web.Request) -> web.Response:
        file = request.query.get("file", "")
        found = await asyncio.get_running_loop().run_in_executor(None, self.library.why, file)
        if found is None:
            raise web.HTTPNotFound(text="no such track in the scan")
        return web.json_response(found)


def serve(cfg: Config, host: str | None = None, port: int | None = None) -> None:
    """Run the page until SIGTERM; one line if the address cannot be had."""
    app = WebApp(cfg).build()
    where_host, where_port = host or cfg.web.host, port or cfg.web.port
    log.info("web page on http://%s:%d/ (password in %s)", where_host, where_port, cfg.web.password_file)
    # Open event streams never end by themselves: SIGTERM closes them after a second, not aiohttp's minute.
    web.run_app(
        app, host=where_host, port=where_port, print=None, access_log=None, handle_signals=True, shutdown_timeout=1.0
    )
