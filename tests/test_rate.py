"""The analysis rate (issue 13): which frames are analysed, with time passed in; and the Sampler on a real clip."""

import cv2
import pytest
from make_clip import make_clip

from conftest import FACES
from moodbox.vision import camera
from moodbox.vision.camera import ImageFolderSource, VideoFileSource
from moodbox.vision.rate import AnalysisRate, Sampler

FACE = cv2.imread(str(FACES / "happy" / "fer2013_row35200.png"), cv2.IMREAD_GRAYSCALE)


def analysed(rate, times):
    return [t for t in times if rate.due(t)]


def test_a_30fps_camera_is_analysed_at_8_frames_a_second_on_a_steady_grid():
    times = [i / 30 for i in range(300)]  # 10 s
    taken = analysed(AnalysisRate(8), times)
    assert len(taken) == 80
    gaps = [b - a for a, b in zip(taken, taken[1:], strict=False)]
    assert max(gaps) <= 1 / 8 + 1 / 30 + 1e-6  # the newest frame at each grid point, never a late one


def test_a_10fps_source_keeps_8_a_second_not_5():
    """Rounding each wait up to the next frame would give 5; the grid keeps the rate asked for."""
    taken = analysed(AnalysisRate(8), [i / 10 for i in range(100)])
    assert len(taken) == 80


def test_15fps_gives_8_a_second_despite_float_times():
    times = [i / 15 for i in range(150)]
    taken = analysed(AnalysisRate(8), times)
    assert len(taken) == 80 and taken[:9] == [times[i] for i in (0, 2, 4, 6, 8, 10, 12, 14, 15)]


def test_a_slower_source_than_the_rate_has_every_frame_analysed():
    times = [i / 5 for i in range(50)]
    assert analysed(AnalysisRate(8), times) == times


def test_a_gap_restarts_the_grid_instead_of_catching_up():
    rate = AnalysisRate(8)
    assert analysed(rate, [0.0, 0.05, 0.125]) == [0.0, 0.125]
    assert analysed(rate, [30.0, 30.01, 30.1, 30.125]) == [30.0, 30.125]


def test_wait_says_how_long_until_the_next_frame_is_due():
    rate = AnalysisRate(4)
    assert rate.wait(100.0) == 0.0  # nothing analysed yet
    assert rate.due(100.0)
    assert rate.wait(100.1) == pytest.approx(0.15, abs=1e-5)
    assert rate.wait(100.3) == 0.0
    rate.reset()
    assert rate.due(0.0)


def test_the_rate_must_be_positive():
    with pytest.raises(ValueError):
        AnalysisRate(0)


def test_sampler_takes_a_clip_at_the_rate_by_media_time(tmp_path):
    clip = make_clip(tmp_path / "c.avi", [(FACE, 2)], fps=15)
    sampler = Sampler(VideoFileSource(clip), AnalysisRate(8), wait=lambda s: None)
    got = []
    while (frame := sampler.next()) is not None:
        got.append(frame)
    assert sampler.ended
    assert [f.t for f in got] == pytest.approx(
        [i / 15 for i in (0, 2, 4, 6, 8, 10, 12, 14, 15, 17, 19, 21, 23, 25, 27, 29)]
    )
    assert got[0].image.shape == (480, 640)  # a Motion-JPEG clip is decoded straight to grey


def test_sampler_decodes_only_the_frames_it_analyses(tmp_path, monkeypatch):
    """A skipped frame of a Motion-JPEG clip is read as a packet and never decoded: 8 decodes a second, not 15."""
    decoded, decode_grey = [], camera.decode_grey

    def counting(packet):
        decoded.append(packet.size)
        return decode_grey(packet)

    monkeypatch.setattr(camera, "decode_grey", counting)
    clip = make_clip(tmp_path / "c.avi", [(FACE, 2)], fps=15)
    sampler = Sampler(VideoFileSource(clip), AnalysisRate(8), wait=lambda s: None)
    got = []
    while (frame := sampler.next()) is not None:
        got.append(frame)
    assert len(got) == 16 and len(decoded) == 16
    assert all(f.image.ndim == 2 for f in got)


def test_sampler_skips_frames_of_a_folder_without_grab(tmp_path):
    for i in range(10):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), FACE)
    sampler = Sampler(ImageFolderSource(tmp_path, fps=20), AnalysisRate(8), wait=lambda s: None)
    got = []
    while (frame := sampler.next()) is not None:
        got.append(frame.t)
    assert got == pytest.approx([0.0, 0.15, 0.25, 0.4])
