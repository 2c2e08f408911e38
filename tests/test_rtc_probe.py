"""probe_recording (tests, e2e checks, the session benchmark) describes a recording as a
browser plays it."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.rtc.probe import probe_recording
from tests.test_rtc_review_video import browser_pictures, write_vp8_with_gap


def test_vp8_after_a_gap_is_described_as_a_browser_plays_it(tmp_path: Path) -> None:
    # Before: the probe decoded VP8 with FFmpeg's own decoder, which refused every inter
    # frame after the 3 s gap (the recorder's keyframe hold for a sender that ignores
    # keyframe requests): 15 of 45 frames, 30 decode errors, video ending at 0.93 s, while
    # a browser (libvpx) plays all 45 up to 5.93 s.
    path = tmp_path / "gap.mkv"
    written = write_vp8_with_gap(path, 15)
    browser = browser_pictures(path)
    assert len(browser) == written
    probe = probe_recording(path)
    assert probe.video_codec == "vp8" and (probe.width, probe.height) == (160, 120)
    assert probe.video_frames == written and probe.decode_errors == 0
    assert probe.video_end == pytest.approx(browser[-1][0], abs=0.002)
