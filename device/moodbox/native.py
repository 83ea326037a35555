"""Native libraries (LiteRT, OpenCV, FFmpeg) that write to stderr behind Python's back."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Mute native code's own stderr lines for one call (fd 2, so C and C++ writes too).

    LiteRT ("INFO: Created TensorFlow Lite XNNPACK delegate") and OpenCV's
    container parsers write straight to stderr with no Python switch to turn
    them off; those lines would break the CLI's one-line errors and clutter the
    service journal. Their real failures still reach us as Python exceptions.
    Only for one-time set-up calls: anything else written to stderr meanwhile
    is lost too.
    """
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
