"""Review video: segments on the session timeline, side by side, black in gaps, mixed audio."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from server.rtc.client import COLOURS, MediaTimeline, encode_video_loop, pattern_frame, tone_frame
from server.rtc.matroska import mux_packet, open_matroska, video_template
from server.rtc.review_video import MAX_SCALER_GRAPHS, PanelScaler, make_review_video
from server.session_dir import SessionDir

T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


def write_segment(path: Path, role: str, seconds: float, size: tuple[int, int]) -> None:
    """A VP8 + Opus Matroska file like the recorder writes."""
    timeline = MediaTimeline(marker_period_s=1000)
    with av.open(str(path), "w", format="matroska") as out:
        video = out.add_stream("libvpx", rate=15)  # 15 fps in, 10 fps out
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.codec_context.options = {"deadline": "realtime", "cpu-used": "8"}
        audio = out.add_stream("libopus", rate=48000, layout="mono")
        for n in range(round(seconds * 15)):
            frame = pattern_frame(n, 15, size, COLOURS[role], False)
            frame.pts, frame.time_base = n, Fraction(1, 15)
            out.mux(video.encode(frame))
        for n in range(round(seconds * 50)):
            out.mux(audio.encode(tone_frame(n, timeline)))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


async def add(sdir: SessionDir, role: str, start: float, end: float, size: tuple[int, int]) -> None:
    path = await sdir.open_segment(role)
    await sdir.start_segment(path, T0 + timedelta(seconds=start))
    write_segment(path, role, end - start, size)
    await sdir.close_segment(path, T0 + timedelta(seconds=end))


def panel_at(frames: list[av.VideoFrame], t: float, split: int) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) luma+chroma means of the frame shown at time t."""
    for frame in frames:
        if float(frame.time or 0.0) >= t:
            yuv = frame.to_ndarray(format="yuv420p")
            h, w = frame.height, frame.width
            y = yuv[:h]
            v = yuv[h + h // 4 :].reshape(h // 2, w // 2)
            left = np.array([y[:, :split].mean(), v[:, : split // 2].mean()])
            right = np.array([y[:, split:].mean(), v[:, split // 2 :].mean()])
            return left, right
    raise AssertionError(f"no frame at {t}")


async def test_side_by_side_with_gap(tmp_path: Path) -> None:
    sdir = SessionDir.create(tmp_path, "s-review")
    await add(sdir, "salesperson", 0.0, 3.0, (160, 120))
    await add(sdir, "customer", 0.6, 1.4, (120, 160))  # a phone held upright
    await add(sdir, "customer", 2.0, 3.0, (120, 160))  # rejoined after a drop

    out = make_review_video(sdir.path, height=120, fps=10)
    assert out == sdir.path / "review.mp4" and not list(sdir.path.glob(".*tmp"))
    with av.open(str(out)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, a.codec_context.name) == ("h264", "aac")
        assert (v.codec_context.width, v.codec_context.height) == (160 + 90, 120)
        assert float(c.duration / 1_000_000) == pytest.approx(3.0, abs=0.15)
        frames = list(c.decode(video=0))
        assert len(frames) == 30
        sales_v, cust_v = COLOURS["salesperson"][1], COLOURS["customer"][1]
        for t, customer_visible in ((0.2, False), (1.0, True), (1.7, False), (2.5, True)):
            left, right = panel_at(frames, t, 160)
            assert left[1] == pytest.approx(sales_v, abs=8)
            if customer_visible:
                assert right[1] == pytest.approx(cust_v, abs=8), t
            else:
                assert right[0] < 20 and right[1] == pytest.approx(128, abs=3), t
    with av.open(str(out)) as c:
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    rms = lambda a, b: float(np.sqrt(np.mean(samples[int(a * 48000) : int(b * 48000)] ** 2)))  # noqa: E731
    assert rms(0.1, 0.5) == pytest.approx(0.1 / np.sqrt(2), rel=0.25)  # the salesperson's tone
    assert rms(0.8, 1.2) > rms(0.1, 0.5) * 1.1  # both talking
    assert rms(1.6, 1.9) == pytest.approx(rms(0.1, 0.5), rel=0.25)  # customer gap: silence


async def test_session_without_media_is_refused(tmp_path: Path) -> None:
    sdir = SessionDir.create(tmp_path, "s-empty")
    with pytest.raises(ValueError):
        make_review_video(sdir.path)


async def test_a_strip_of_a_picture_gets_a_bounded_panel(tmp_path: Path) -> None:
    """The sender chooses its picture's shape: a panel of that shape made a 1024 x 32 stream's
    review video 16,000 pixels wide, and a 4096 x 2 one a width libx264 refuses (no review
    video at all). Now a panel is at most 4 times as wide as high (or as high as wide), and
    the picture is scaled into it."""
    for size, width in (((1024, 8), 160 + 480), ((8, 1024), 160 + 30)):
        sdir = SessionDir.create(tmp_path, f"s-strip-{size[0]}")
        await add(sdir, "salesperson", 0.0, 1.0, (160, 120))
        await add(sdir, "customer", 0.0, 1.0, size)
        out = make_review_video(sdir.path, height=120, fps=10)
        with av.open(str(out)) as c:
            v = c.streams.video[0].codec_context
            assert (v.width, v.height) == (width, 120), size
            left, right = panel_at(list(c.decode(video=0)), 0.5, 160)
        assert left[1] == pytest.approx(COLOURS["salesperson"][1], abs=8)


def test_a_picture_size_changing_on_every_frame_holds_few_scalers() -> None:
    # A sender chooses a new size for every keyframe: before, the review video kept a
    # filter graph per size it had seen (about 1 MB each; 1500 sizes held 1.7 GB).
    scaler = PanelScaler((64, 48))
    for k in range(40):
        w, h = 16 + 2 * k, 48 + 2 * (k % 8)
        picture = av.VideoFrame.from_ndarray(np.zeros((h * 3 // 2, w), np.uint8), "yuv420p")
        out = scaler(picture)
        assert (out.width, out.height) == (64, 48)
        assert scaler.graphs_held <= MAX_SCALER_GRAPHS


def write_vp8_with_gap(path: Path, fps: int) -> int:
    """6 s of 160 x 120 VP8 as the recorder writes it (one keyframe, at 0 s) with the frames
    of 1 s to 4 s lost, as after a 3 s keyframe hold; returns how many frames it wrote."""
    loop = encode_video_loop("customer", 6, (160, 120), fps, 6 * fps, MediaTimeline())
    keep = [n for n in range(len(loop.packets)) if not fps <= n < 4 * fps]
    with video_template("vp8", loop.packets[0]) as template:
        out, streams = open_matroska(path, template, has_audio=False, cluster_ms=1000)
        with out:
            for n in keep:
                mux_packet(out, streams["video"], loop.packets[n], n * 1000 // fps, n == 0)
    return len(keep)


def browser_pictures(path: Path, fmt: str = "gray") -> list[tuple[float, np.ndarray]]:
    """(time, picture in ``fmt``) of every picture of ``path`` as a browser decodes it
    (libvpx). After a gap FFmpeg's own VP8 decoder refuses the frames (slice threads) or
    decodes them into other pictures than libvpx does (one thread, frame threads)."""
    ctx = av.CodecContext.create("libvpx", "r")
    with av.open(str(path)) as c:
        return [
            (float(f.time or 0.0), f.to_ndarray(format=fmt).astype(np.int16))
            for packet in c.demux(video=0)
            for f in ctx.decode(packet)
        ]


async def test_vp8_after_a_gap_is_shown_as_a_browser_plays_it(tmp_path: Path) -> None:
    # Before: FFmpeg's own VP8 decoder refused every inter frame written after a 3 s gap
    # (the recorder's keyframe hold for a sender that ignores keyframe requests) up to the
    # next keyframe, so the review video froze on the last picture before the gap while the
    # recording played on in a browser (libvpx).
    fps = 15
    sdir = SessionDir.create(tmp_path, "s-vp8-gap")
    path = await sdir.open_segment("customer")
    await sdir.start_segment(path, T0)
    written = write_vp8_with_gap(path, fps)
    await sdir.close_segment(path, T0 + timedelta(seconds=6))
    browser = browser_pictures(path)
    assert len(browser) == written  # libvpx decodes every frame written

    review = make_review_video(sdir.path, height=120, fps=fps)
    with av.open(str(review)) as c:
        frames = [(float(f.time or 0.0), f.to_ndarray(format="gray")) for f in c.decode(video=0)]
    after_gap = [(t, luma) for t, luma in frames if 4.1 <= t <= 5.9]
    assert len(after_gap) >= fps
    for t, luma in after_gap:
        shown = luma[:, 160:].astype(np.int16)  # the customer's panel: the picture unscaled
        _, seen = min(browser, key=lambda b: abs(b[0] - t))
        assert float(np.abs(shown - seen).mean()) < 4.0, t
