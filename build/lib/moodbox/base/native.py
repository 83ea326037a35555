"""Native libraries (LiteRT, OpenCV, FFmpeg) that write to stderr behind Python's back."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Mute native code's own stderr lines for one call (fd 2, so C and C++ writes too).

    LiteRT ("INFO: Created TensorFlow Lite XNNPACK delegate") and OpenCV's
    container parsers write straight to stderr with no Python switch to turn
    them off; those lines would break the CLI's one-line errors and clutter the
    service journal. Their real failures still reach us as Python exceptions.
    Anything native written to stderr meanwhile is lost too; Python's own lines
    are not, once `python_stderr_apart` has run.
    """
    saved = os.dup(2)
    try:
        os.dup2(_devnull(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.cache
def _devnull() -> int:
    """/dev/null, opened once: a Motion-JPEG clip is muted around every decode, several times a second."""
    return os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)


def python_stderr_apart() -> None:
    """Give Python's stderr (logging, warnings, tracebacks) its own copy of fd 2, so muting never eats a log line.

    `native_stderr_silenced` points fd 2 at /dev/null for the length of one
    native call, and a Motion-JPEG clip is decoded that way several times a second:
    a line the player's thread logged in that window went to /dev/null with it.
    The copy writes to the same place (the terminal, the journal's stream) and
    is left alone by the muting. Does nothing where sys.stderr is not fd 2
    (captured by a test, or already moved).
    """
    try:
        if sys.stderr is None or sys.stderr.fileno() != 2:
            return
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return
    sys.stderr.flush()
    sys.stderr = open(  # noqa: SIM115 - lives as long as the process, as sys.stderr does
        os.dup(2), "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace"
    )
