"""Names from the outside world, made safe to print in one log line.

A file name may hold a newline (a forged second journal line), terminal escape codes (a recoloured
or cleared terminal) or bytes that are not UTF-8 (Python keeps them as lone surrogates). Every name
moodbox prints goes through `printable`, which keeps ordinary text, spaces included, as it is.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` with control characters, escape codes and undecodable bytes written as backslash escapes."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escaped(ch) for ch in text)


def _escaped(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"
