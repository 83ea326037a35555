"""Image folders and video files as frame sources, fed the bad files a home has: real files, real OpenCV."""

import logging
import os
import shutil
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest

from conftest import FACES, ROOT, one_line_error
from moodbox.vision.camera import CameraError, ImageFolderSource, VideoFileSource, frames


def watch(source) -> subprocess.CompletedProcess:
    """`moodbox watch SOURCE` as a user runs it, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "moodbox", "watch", str(source)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def png_header_only(path, width, height):
    """A PNG whose header claims width x height, with almost no pixel data behind it."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def png_giant(path, side):
    """A real, complete grey PNG of side x side pixels (about 100 kB for 10000 px)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\0" * (side + 1)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def good_faces(folder, count=3):
    folder.mkdir(exist_ok=True)
    faces = sorted(FACES.glob("happy/*.png"))[:count]
    for n, face in enumerate(faces):
        shutil.copy(face, folder / f"f{n}.png")
    return [folder / f"f{n}.png" for n in range(len(faces))]


def bad_files(folder):
    """One of each file that cannot be a frame, named to sort between the good ones."""
    (folder / "f0a-empty.png").write_bytes(b"")
    (folder / "f0b-folder.png").mkdir()
    (folder / "f0c-broken.png").symlink_to(folder / "nowhere.png")
    os.mkfifo(folder / "f0d-fifo.png")  # unreadable without a writer, also for root
    png_header_only(folder / "f0e-huge.png", 100_000, 100_000)
    (folder / "f0f-garbage.jpg").write_bytes(bytes(range(256)) * 4)
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    whole = cv2.imencode(".png", noise)[1].tobytes()
    (folder / "f0g-cut.png").write_bytes(whole[: len(whole) // 2])  # libpng would print its own line about it


def test_bad_files_are_skipped_with_one_warning_each(tmp_path, caplog):
    folder = tmp_path / "frames"
    good = good_faces(folder)
    bad_files(folder)
    source = ImageFolderSource(folder, fps=10)
    with caplog.at_level(logging.WARNING, logger="moodbox.vision.camera"):
        got = list(frames(source))
    assert len(got) == len(good)
    assert [f.t for f in got] == pytest.approx([0.0, 0.8, 0.9])  # time still counts the skipped files
    skipped = [r.getMessage() for r in caplog.records]
    assert len(skipped) == 7, skipped
    for name, why in [
        ("f0a-empty.png", "an empty file"),
        ("f0b-folder.png", "not a regular file"),
        ("f0c-broken.png", "a broken link"),
        ("f0d-fifo.png", "not a regular file"),
        ("f0e-huge.png", "too large or damaged to decode"),
        ("f0f-garbage.jpg", "not a readable image"),
        ("f0g-cut.png", "a PNG cut short"),
    ]:
        assert any(name in line and why in line for line in skipped), (name, skipped)


def test_vanished_files_are_dropped_and_a_vanished_folder_is_a_lost_source(tmp_path, caplog):
    folder = tmp_path / "frames"
    paths = good_faces(folder, 3)
    source = ImageFolderSource(folder, fps=10)
    assert source.read() is not None
    paths[1].unlink()
    with caplog.at_level(logging.WARNING, logger="moodbox.vision.camera"):
        assert source.read() is not None  # f2
    assert "1 image(s) vanished" in caplog.text
    assert source.read() is None  # the end, as before

    source = ImageFolderSource(folder, fps=10)
    assert source.read() is not None
    shutil.rmtree(folder)
    with pytest.raises(CameraError, match=r"image folder .*frames is gone or unreadable .*; check camera.source"):
        source.read()


def test_every_image_left_vanishing_is_a_lost_source(tmp_path):
    folder = tmp_path / "frames"
    paths = good_faces(folder, 3)
    source = ImageFolderSource(folder, fps=10)
    assert source.read() is not None
    for path in paths[1:]:
        path.unlink()
    with pytest.raises(CameraError, match="vanished while being read; put them back or check camera.source"):
        source.read()


def test_an_image_over_the_pixel_limit_is_not_decoded(tmp_path):
    """A real 10000x10000 PNG (100 MP) is skipped, not decoded into 300 MB: moodbox sets OpenCV's pixel limit."""
    folder = tmp_path / "frames"
    good_faces(folder, 2)
    png_giant(folder / "f0-giant.png", 10_000)
    result = watch(folder)
    assert result.returncode == 0, result.stderr
    assert '"frames": 2' in result.stdout.splitlines()[-1]
    (warning,) = result.stderr.splitlines()
    assert "skipping" in warning and "f0-giant.png: too large or damaged to decode" in warning


def test_an_image_damaged_mid_file_is_one_warning_without_the_decoders_own_line(tmp_path):
    """libpng printed "libpng error: IDAT: CRC error" beside our line for a PNG whose data is damaged."""
    folder = tmp_path / "frames"
    first, *_ = good_faces(folder, 2)
    damaged = bytearray(first.read_bytes())
    start = damaged.index(b"IDAT") + 8
    damaged[start : start + 16] = bytes(b ^ 0x5A for b in damaged[start : start + 16])
    (folder / "f0-damaged.png").write_bytes(bytes(damaged))
    result = watch(folder)
    assert result.returncode == 0, result.stderr
    assert '"frames": 2' in result.stdout.splitlines()[-1]
    (warning,) = result.stderr.splitlines()
    assert "skipping" in warning and "f0-damaged.png: not a readable image" in warning


def test_watch_survives_a_folder_of_bad_files(tmp_path):
    folder = tmp_path / "frames"
    good = good_faces(folder)
    bad_files(folder)
    result = watch(folder)
    assert result.returncode == 0, result.stderr
    assert f'"frames": {len(good)}' in result.stdout.splitlines()[-1]
    assert len(result.stderr.splitlines()) == 7 and "Traceback" not in result.stderr


def make_clip(path):
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_clip.py"), str(path), f"{next(FACES.glob('happy/*.png'))}:1"],
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize(("suffix", "keep"), [(".avi", 1000), (".mp4", 30_000), (".avi", 0)])
def test_a_cut_video_is_one_line(tmp_path, suffix, keep):
    """OpenCV's own parsers used to print their complaints ("Unexpected element...") around our line."""
    clip = tmp_path / f"clip{suffix}"
    make_clip(clip)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(clip.read_bytes()[:keep])
    result = watch(cut)
    one_line_error(result, "cannot decode video", str(cut))
    with pytest.raises(CameraError):
        VideoFileSource(cut)


def avi_video_chunks(data):
    """(index entry offset, chunk offset, size) of each video chunk of an AVI, from its idx1 index."""
    index = data.rfind(b"idx1")
    count = struct.unpack_from("<I", data, index + 4)[0] // 16
    movi = data.find(b"movi")  # idx1 offsets count from the 'movi' fourcc
    chunks = []
    for entry in range(index + 8, index + 8 + 16 * count, 16):
        _, _, offset, size = struct.unpack_from("<4sIII", data, entry)
        chunks.append((entry, movi + offset, size))
    return chunks


def damage_frames(clip, out, garbled=(), unreadable=(), empty=()):
    """A copy of an MJPEG .avi with frames damaged in place: entropy data garbled (libjpeg decodes what it can
    and complains), the JPEG start marker gone (nothing to decode), or an AVI zero-length "repeat" chunk."""
    data = bytearray(clip.read_bytes())
    chunks = avi_video_chunks(bytes(data))
    for k in garbled:
        _, at, size = chunks[k]
        data[at + 8 + size // 2 : at + 8 + size // 2 + 200] = b"\x55" * 200
    for k in unreadable:
        _, at, _ = chunks[k]
        assert data[at + 8 : at + 10] == b"\xff\xd8"
        data[at + 8 : at + 10] = b"\0\0"
    for k in empty:  # the chunk shrinks to nothing; a JUNK chunk fills its old room, the index says size 0
        entry, at, size = chunks[k]
        data[at + 4 : at + 8] = struct.pack("<I", 0)
        data[at + 8 : at + 16] = b"JUNK" + struct.pack("<I", size + size % 2 - 8)
        struct.pack_into("<I", data, entry + 12, 0)
    out.write_bytes(bytes(data))
    return out


def test_damaged_frames_mid_clip_are_skipped_with_one_warning_and_no_libjpeg_noise(tmp_path, caplog, capfd):
    clip = tmp_path / "clip.avi"
    make_clip(clip)  # 15 frames a second, 1 s
    damaged = damage_frames(clip, tmp_path / "damaged.avi", garbled=[3], unreadable=[5, 9], empty=[12])
    source = VideoFileSource(damaged)
    with caplog.at_level(logging.WARNING, logger="moodbox.vision.camera"):
        got = list(frames(source))
    assert source.jpeg and source.damaged == 2
    # the garbled frame is what libjpeg could make of it; the empty chunk is dropped by FFmpeg's AVI reader
    assert [round(f.t * 15) for f in got] == [0, 1, 2, 3, 4, 6, 7, 8, 10, 11, 12, 13]
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "damaged.avi: the frame at 0.33 s is damaged" in warning
    assert capfd.readouterr().err == ""  # libjpeg's "Corrupt JPEG data: ..." lines are not let through

    result = watch(damaged)
    assert result.returncode == 0, result.stderr
    assert '"frames": 12' in result.stdout.splitlines()[-1]
    (line,) = result.stderr.splitlines()
    assert "the frame at 0.33 s is damaged" in line
