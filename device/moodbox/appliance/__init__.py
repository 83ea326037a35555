"""The appliance shell: what makes the paths one box that runs for months.

Owns the service (`service`: frame loop, reload, watchdog), buttons and LED (`controls`), systemd
notifications (`notify`), `moodbox check` (`check`), the library commands (`library_commands`; the
listener's history handed to the playlists' plan and `library why`: `listener`) and what the service
records in the history (`recorder`). It may use moodbox.config and every package below it (vision,
music, playback, history, base); only moodbox.cli uses it.
"""
