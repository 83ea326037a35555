"""The page on the local network (`moodbox web`): its own process, its own unit.

Owns the web application (`app`: aiohttp routes, Server-Sent Events), who may use it (`auth`:
the password's hash, sessions, CSRF, login limits), the music and the days as the page shows them
(`library_view`, `history_view`) and the page itself (`static/`: our own HTML, CSS and JavaScript). It talks to
the service only through the control socket (moodbox.appliance.control) and reads the scan cache
and the history read-only; it may use the appliance, config and the paths below; only moodbox.cli uses it.
"""
