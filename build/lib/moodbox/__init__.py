"""moodbox: a Raspberry Pi that reads the listener's expression and plays music to fit the mood.

The packages follow the data paths, each using only those below it (ARCHITECTURE.md; the test run
checks it with import-linter's contracts in pyproject.toml):

    cli                        the `moodbox` command
    appliance                  service, buttons and LED, systemd, `check`, the library commands
    config                     config.yaml, built from each path's own settings
    vision | music | playback  camera -> mood; audio -> place and playlists; MPD (independent)
    base                       the moods, LiteRT, shipped models, native libraries' stderr
"""

import os

# OpenCV reads this once, when cv2 is first imported (here, before any moodbox module imports it): an image
# file whose header claims more pixels is refused instead of decoded into gigabytes (a 50 MP photo is fine).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(50_000_000))
# OpenCV's own lines ("[ WARN:0@0.2] global cap_v4l.cpp ... can't open camera by index") would break the
# one-line errors and flood the journal while a camera is retried; our own messages say what failed. The
# variable works on every OpenCV 4.x (cv2.utils.logging is missing from 4.11, the Pi's with Debian's numpy).
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")

__version__ = "0.1.0"
