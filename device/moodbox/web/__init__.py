"""The page on the local network (`moodbox web`): its own process, its own unit.

Owns the web application (`app`: aiohttp routes, Server-Sent Events), who may use it (`auth`:
the password's hash, sessions, CSRF, login limits), the music as the page shows it
(`library_view`) and the page itself (`static/`: our own HTML, CSS and JavaScript). It talks to
the service only through the control socket (moodbox.appliance.control) and reads the scan cache
read-only; it may use the appliance, config and the paths below; only moodbox.cli uses it.
"""
