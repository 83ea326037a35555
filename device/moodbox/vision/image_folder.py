"""A folder of images as a frame source: one frame per image, in name order, `1/fps` apart."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import cv2
import numpy as np

from moodbox.base.native import native_stderr_silenced
from moodbox.vision.frame import CameraError, Frame

log = logging.getLogger("moodbox.vision.camera")  # one logger for every frame source, as before this module

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class ImageFolderSource:
    """Every image in a folder, in name order, as frames `1/fps` apart.

    A file that cannot be a frame (empty, a folder or a FIFO named x.png, a
    broken link, unreadable, over-sized or not an image) is skipped with one
    warning: the first NAMED_SKIPS by name, the rest counted and said in one
    line at the end, and a folder with no usable image at all is a CameraError
    once read through. Files that vanish are dropped; a folder that vanishes, or loses
    every image left to show, is a lost source: one CameraError, as for a
    camera that stops.
    """

    live = False
    NAMED_SKIPS = 10  # a folder of 10,000 empty PNGs was 10,000 journal lines
    MAX_BYTES = 50_000_000  # a 640x480 frame is ~0.5 MB; never read a stray huge file into memory

    def __init__(self, folder: Path, fps: float = 10.0) -> None:
        self.folder = folder
        # Plain name strings, joined to a plain string per frame. A stored Path caches its full
        # string the first time it is opened (and pathlib interns the name when one is built), so
        # a listing of Paths grew by ~90 bytes with every frame read: issue 12's 94 B per frame.
        self._names = self._listing()
        if not self._names:
            raise CameraError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {folder}; check the path")
        self.fps = fps
        self._index = 0
        self.delivered = self.skipped = 0
        self._ended = False

    def _listing(self) -> list[str]:
        try:
            return sorted(p.name for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        except OSError as e:
            raise CameraError(
                f"image folder {self.folder} is gone or unreadable ({e.strerror}); check camera.source "
                "or the path given"
            ) from None

    def read(self) -> Frame | None:
        while self._index < len(self._names):
            path = os.path.join(self.folder, self._names[self._index])
            t = self._index / self.fps
            self._index += 1
            image = self._load(path)
            if isinstance(image, np.ndarray):
                self.delivered += 1
                return Frame(image, t)
            if image is _VANISHED:
                self._forget_vanished()
            else:
                self._skip(path, image)
        self._at_end()
        return None

    def _skip(self, path: str, why: str) -> None:
        self.skipped += 1
        if self.skipped <= self.NAMED_SKIPS:
            more = (
                "; further unusable files are counted, and said at the end" if self.skipped == self.NAMED_SKIPS else ""
            )
            log.warning("skipping %s: %s%s", path, why, more)

    def _at_end(self) -> None:
        if self._ended:
            return
        self._ended = True
        if self.skipped > self.NAMED_SKIPS:
            log.warning("skipped %d more unusable files in %s", self.skipped - self.NAMED_SKIPS, self.folder)
        if self.delivered == 0 and self.skipped:
            raise CameraError(
                f"none of the {self.skipped} image files in folder {self.folder} is a usable image (empty, damaged "
                "or not an image); put camera frames there or check camera.source"
            )

    def _forget_vanished(self) -> None:
        """A file is gone: drop every vanished one, or fail like a lost camera if nothing is left."""
        present = set(self._listing())
        left = [name for name in self._names[self._index :] if name in present]
        gone = len(self._names) - self._index - len(left) + 1
        if not left:
            raise CameraError(
                f"the images in folder {self.folder} vanished while being read; put them back or check camera.source"
            )
        log.warning("%d image(s) vanished from %s; going on with the %d left", gone, self.folder, len(left))
        self._names = self._names[: self._index] + left

    def _load(self, path: str) -> np.ndarray | str:
        """The decoded image, or why it cannot be a frame (_VANISHED when the file is gone)."""
        try:
            # O_NONBLOCK: a FIFO named x.png must not block the frame loop waiting for a writer.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except FileNotFoundError:
            return "a broken link" if os.path.islink(path) else _VANISHED
        except OSError as e:
            return f"cannot open it ({e.strerror})"
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return "not a regular file"
            if info.st_size == 0:
                return "an empty file"
            if info.st_size > self.MAX_BYTES:
                return f"larger than {self.MAX_BYTES // 1_000_000} MB"
            data = np.frombuffer(os.read(fd, info.st_size), np.uint8)
        except OSError as e:
            return f"cannot read it ({e.strerror})"
        finally:
            os.close(fd)
        if data[:8].tobytes() == PNG_SIGNATURE and data[-12:].tobytes() != PNG_END:
            return "a PNG cut short (still being copied?)"  # checked here: libpng would print its own line
        try:
            with native_stderr_silenced():  # libpng and libjpeg print their own lines about damaged data
                image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        except cv2.error:  # e.g. a header claiming more than OPENCV_IO_MAX_IMAGE_PIXELS
            return "too large or damaged to decode"
        return "not a readable image" if image is None else image

    def close(self) -> None:
        self._ended = True  # closed, not read through: nothing to say
        self._index = len(self._names)


_VANISHED = "vanished"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\0\0\0\0IEND\xaeB`\x82"  # the empty IEND chunk every complete PNG ends with
