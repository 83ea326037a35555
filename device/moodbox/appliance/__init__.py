"""The appliance shell: what makes the paths one box that runs for months.

Owns the service (`service`: frame loop, reload, watchdog), buttons and LED (`controls`), systemd
notifications (`notify`), the control socket for `moodbox status` and the page (`control`) and the
state it serves (`state`), `moodbox check` (`check`) and which MPD the unit lets it reach
(`network`), the vision and library commands (`vision_commands`, `library_commands`; the listener's
history handed to the playlists' plan and `library why`: `listener`) and what the service records
in the history (`recorder`). It may use moodbox.config and every package below it (vision,
music, playback, history, base); moodbox.web and moodbox.cli use it.
"""
