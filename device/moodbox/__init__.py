"""moodbox: a Raspberry Pi that reads the listener's expression and plays music to fit the mood."""

import os

# OpenCV reads this once, when cv2 is first imported (here, before any moodbox module imports it): an image
# file whose header claims more pixels is refused instead of decoded into gigabytes (a 50 MP photo is fine).
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(50_000_000))

__version__ = "0.1.0"
