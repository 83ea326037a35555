"""The appliance shell: what makes the paths one box that runs for months.

Owns the service (`service`: frame loop, reload, watchdog), buttons and LED (`controls`), systemd
notifications (`notify`), `moodbox check` (`check`) and the library commands (`library_commands`).
It may use moodbox.config and every path below it (vision, music, playback, base); only moodbox.cli
uses it.
"""
