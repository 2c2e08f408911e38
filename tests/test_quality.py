import cv2
import numpy as np
import pytest

from inspection.quality import (
    audio_quality,
    frame_quality,
    sharpness,
    video_quality,
    window_levels,
)
from tests.render import place_in_frame, render_id_card

SR = 16000


def _tone(seconds: float, amplitude: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_silence() -> None:
    q = audio_quality(np.zeros(2 * SR, np.float32))
    assert q.duration_s == 2.0
    assert q.rms_dbfs == -120.0 and q.peak_dbfs == -120.0
    assert q.speech_dbfs is None
    assert q.silent_share == 1.0
    assert q.silent_spans == [(0.0, 2.0)]


def test_tone_level() -> None:
    q = audio_quality(_tone(2.0, 0.1))
    expected = 20 * np.log10(0.1 / np.sqrt(2))  # -23.0 dBFS
    assert q.rms_dbfs == pytest.approx(expected, abs=0.05)
    assert q.speech_dbfs == pytest.approx(expected, abs=0.05)
    assert q.peak_dbfs == pytest.approx(-20.0, abs=0.05)
    assert q.silent_share == 0.0 and q.clipped_share == 0.0 and q.silent_spans == []


def test_pause_in_the_middle() -> None:
    audio = np.concatenate([_tone(1.0, 0.3), np.zeros(SR, np.float32), _tone(1.0, 0.3)])
    q = audio_quality(audio, window_s=0.5)
    assert q.silent_share == pytest.approx(1 / 3)
    assert q.silent_spans == [(1.0, 2.0)]
    # The pause does not drag the speech level down, only the overall level.
    assert q.speech_dbfs == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=0.05)
    assert q.rms_dbfs < q.speech_dbfs - 1.5


def test_quiet_speech_is_not_silence_but_measures_low() -> None:
    q = audio_quality(_tone(1.0, 0.005), silence_dbfs=-60.0)
    assert q.silent_share == 0.0
    assert q.speech_dbfs is not None and -50 < q.speech_dbfs < -45


def test_clipping() -> None:
    clipped = np.clip(_tone(1.0, 2.0), -1.0, 1.0)
    q = audio_quality(clipped)
    assert q.clipped_share > 0.5
    assert audio_quality(_tone(1.0, 0.5)).clipped_share == 0.0


def test_window_levels_partial_last_window() -> None:
    levels = window_levels(np.full(int(1.25 * SR), 0.1, np.float32), SR, 0.5)
    assert levels.shape == (3,)
    np.testing.assert_allclose(levels, -20.0, atol=1e-6)
    assert window_levels(np.zeros(0, np.float32)).size == 0
    with pytest.raises(ValueError):
        window_levels(np.zeros((2, 10), np.float32))


def test_empty_audio() -> None:
    q = audio_quality(np.zeros(0, np.float32))
    assert q.duration_s == 0.0 and q.silent_share == 1.0


def test_dark_frame() -> None:
    frame = place_in_frame(render_id_card("张三", "11010519491231002X"))
    dark = (frame.astype(np.float32) * 0.08).astype(np.uint8)
    bright_q, dark_q = frame_quality(frame), frame_quality(dark)
    assert bright_q.mean_luma > 120
    assert dark_q.mean_luma < 20
    assert dark_q.luma_std < bright_q.luma_std / 5


def test_blurred_frame() -> None:
    frame = place_in_frame(
        render_id_card("张三", "11010519491231002X"), blur_sigma=0, noise_sigma=0, jpeg_quality=95
    )
    blurred = cv2.GaussianBlur(frame, (0, 0), 3.0)
    assert sharpness(blurred) < sharpness(frame) / 10


def test_sharpness_measures_large_frames_at_640_wide() -> None:
    card = render_id_card("张三", "11010519491231002X")
    big = place_in_frame(card, size=(1280, 960), doc_width=840, blur_sigma=0, jpeg_quality=95)
    small = cv2.resize(big, (640, 480), interpolation=cv2.INTER_AREA)
    assert sharpness(big) == pytest.approx(sharpness(small), rel=0.01)
    assert frame_quality(small[:, :, 0]).sharpness == sharpness(small[:, :, 0])


def test_video_quality_keeps_times() -> None:
    frame = np.full((48, 64, 3), 128, np.uint8)
    out = video_quality([(0.0, frame), (1.5, frame // 4)])
    assert [q.t_s for q in out] == [0.0, 1.5]
    assert out[0].mean_luma == 128.0 and out[1].mean_luma == 32.0
    assert out[0].sharpness == 0.0
