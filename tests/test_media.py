"""Media input: real tiny files written with PyAV (VP8/Opus Matroska, H264/AAC MP4)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from inspection.media import MediaError, Track, load_audio, probe, probe_duration, sample_frames
from tests.test_rtc_review_video import browser_pictures, write_vp8_with_gap

SIZE = (64, 48)
FPS = 10


def _gray(index: int) -> int:
    return (index * 10) % 250


def write_clip(
    path: Path,
    vcodec: str = "libvpx",
    acodec: str | None = "libopus",
    seconds: float = 2.0,
    frame_times: Sequence[float] | None = None,
    tone_from_s: float = 0.0,
    rate: int = 48000,
    options: dict[str, str] | None = None,
    copy_at_s: float | None = None,
    copy_to: Path | None = None,
    codec_options: dict[str, str] | None = None,
) -> None:
    """Write frames of gray level 10*i at ``frame_times`` and a 440 Hz tone from ``tone_from_s``.

    With ``copy_at_s`` the file is copied to ``copy_to`` while still being written, which
    is what a killed recorder leaves behind.
    """
    times = (
        list(frame_times)
        if frame_times is not None
        else [i / FPS for i in range(int(seconds * FPS))]
    )
    out = av.open(str(path), "w", options=options or {})
    video = out.add_stream(vcodec, rate=FPS)
    video.width, video.height = SIZE
    video.pix_fmt = "yuv420p"
    video.options = codec_options or {}
    audio = out.add_stream(acodec, rate=rate, layout="mono") if acodec else None
    n = int(seconds * rate)
    t = np.arange(n) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * (t >= tone_from_s)).astype(np.float32)
    chunk = 960 if acodec == "libopus" else 1024
    done = 0
    for i, ft in enumerate(times):
        if (
            copy_at_s is not None
            and copy_to is not None
            and ft >= copy_at_s
            and not copy_to.exists()
        ):
            shutil.copyfile(path, copy_to)
        image = np.full((SIZE[1], SIZE[0], 3), _gray(i), np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = round(ft * 1000), Fraction(1, 1000)
        for packet in video.encode(frame):
            out.mux(packet)
        while audio is not None and done < min(n, (ft + 1 / FPS) * rate):
            piece = av.AudioFrame.from_ndarray(
                tone[None, done : done + chunk], format="flt", layout="mono"
            )
            piece.sample_rate, piece.pts, piece.time_base = rate, done, Fraction(1, rate)
            for packet in audio.encode(piece):
                out.mux(packet)
            done += chunk
    for stream in [video, audio] if audio is not None else [video]:
        for packet in stream.encode(None):
            out.mux(packet)
    out.close()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    paths = {
        "mkv": root / "vp8-opus.mkv",
        "mp4": root / "h264-aac.mp4",
        "late_tone_mp4": root / "late-tone.mp4",
    }
    write_clip(paths["mkv"], options={"cluster_time_limit": "500"})
    write_clip(paths["mp4"], "libx264", "aac", rate=44100)
    write_clip(paths["late_tone_mp4"], "libx264", "aac", tone_from_s=1.0, rate=44100)
    return paths


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


@pytest.mark.parametrize(
    ("key", "video", "audio", "rate"),
    [("mkv", "vp8", "opus", 48000), ("mp4", "h264", "aac", 44100)],
)
def test_probe_reads_codecs_size_and_duration(
    clips: dict[str, Path], key: str, video: str, audio: str, rate: int
) -> None:
    info = probe(clips[key])
    assert (info.video_codec, info.audio_codec, info.sample_rate) == (video, audio, rate)
    assert (info.width, info.height) == SIZE
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    assert not info.truncated
    assert probe_duration(clips[key]) == pytest.approx(info.duration_s)


def test_load_audio_places_segments_on_the_session_timeline(clips: dict[str, Path]) -> None:
    # Segment 1 at 0 s (tone throughout); segment 2 at 3 s, whose tone starts 1 s in.
    tracks = [Track("customer", clips["mkv"], 0.0), Track("customer", clips["late_tone_mp4"], 3.0)]
    sr = 16000
    audio = load_audio(tracks, sample_rate=sr)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / sr == pytest.approx(5.0, abs=0.03)
    assert _rms(audio[int(0.2 * sr) : int(1.8 * sr)]) == pytest.approx(0.5 / np.sqrt(2), abs=0.03)
    assert np.abs(audio[int(2.02 * sr) : int(3.98 * sr)]).max() < 0.01  # gap + leading silence
    onset = (np.flatnonzero(np.abs(audio[3 * sr :]) > 0.1)[0]) / sr + 3
    assert onset == pytest.approx(4.0, abs=0.02)
    assert _rms(audio[int(4.2 * sr) : int(4.8 * sr)]) == pytest.approx(0.5 / np.sqrt(2), abs=0.03)


def test_load_audio_honours_sample_rate_and_mixes_overlaps(clips: dict[str, Path]) -> None:
    single = load_audio([Track("a", clips["mkv"], 0.5)], sample_rate=8000)
    assert len(single) / 8000 == pytest.approx(2.5, abs=0.03)
    assert np.abs(single[: int(0.45 * 8000)]).max() == 0.0
    mixed = load_audio([Track("a", clips["mkv"], 0.0), Track("b", clips["mp4"], 0.0)])
    assert np.abs(mixed).max() <= 1.0
    assert _rms(mixed[4000:28000]) > 0.5  # two in-phase tones of RMS 0.35 add up


@pytest.mark.parametrize("key", ["mkv", "mp4"])
def test_sample_frames_picks_the_nearest_frame_at_session_instants(
    clips: dict[str, Path], key: str
) -> None:
    frames = list(sample_frames(Track("salesperson", clips[key], 0.27), fps=2))
    # Instant 0.5 s is file time 0.23 s: nearest frame is #2 (0.2 s), and so on; the last
    # frame (#19, shown 2.17-2.27 s) does not stretch to the instant 2.5 s.
    assert [t for t, _ in frames] == [0.5, 1.0, 1.5, 2.0]
    for (_, image), index in zip(frames, [2, 7, 12, 17], strict=True):
        assert image.shape == (SIZE[1], SIZE[0], 3) and image.dtype == np.uint8
        assert abs(float(image.mean()) - _gray(index)) < 6


def test_sample_frames_skips_instants_where_the_video_stopped(tmp_path: Path) -> None:
    path = tmp_path / "hole.mkv"
    times = [i / FPS for i in range(10)] + [3 + i / FPS for i in range(10)]
    write_clip(path, frame_times=times, seconds=4.0, acodec=None)
    track = Track("customer", path, 0.0)
    # By default an instant takes a frame up to 1/fps = 0.5 s away: 2.5 s takes the 3.0 s one.
    assert [t for t, _ in sample_frames(track, fps=2)] == [0.0, 0.5, 1.0, 2.5, 3.0, 3.5, 4.0]
    strict = [t for t, _ in sample_frames(track, fps=2, max_distance_s=0.3)]
    assert strict == [0.0, 0.5, 1.0, 3.0, 3.5, 4.0]


def test_vp8_after_a_gap_is_sampled_as_a_browser_plays_it(tmp_path: Path) -> None:
    # Before: FFmpeg's own VP8 decoder (frame threads here) decoded the inter frames after
    # the 3 s gap into other pictures than a browser's libvpx shows (mean difference above
    # 100 of 255), so the inspection judged pictures nobody sees when the recording plays.
    path = tmp_path / "gap.mkv"
    write_vp8_with_gap(path, 15)
    browser = browser_pictures(path, "bgr24")
    sampled = list(sample_frames(Track("customer", path), fps=1))
    assert {4.0, 5.0} <= {t for t, _ in sampled}
    for t, bgr in sampled:
        _, seen = min(browser, key=lambda b: abs(b[0] - t))
        assert float(np.abs(bgr.astype(np.int16) - seen).mean()) < 1.0, t


def test_crashed_matroska_decodes_up_to_the_cut(tmp_path: Path) -> None:
    live, crashed = tmp_path / "live.mkv", tmp_path / "crashed.mkv"
    write_clip(
        live,
        seconds=3.0,
        options={"cluster_time_limit": "500", "flush_packets": "1"},
        copy_at_s=2.0,
        copy_to=crashed,
    )
    info = probe(crashed)
    assert info.header_duration_s is None and info.truncated
    assert 1.0 <= info.duration_s <= 2.1
    audio = load_audio([Track("customer", crashed, 0.0)])
    assert len(audio) / 16000 == pytest.approx(info.duration_s, abs=0.15)
    assert _rms(audio[1600:-1600]) == pytest.approx(0.5 / np.sqrt(2), abs=0.03)
    instants = [t for t, _ in sample_frames(Track("customer", crashed, 0.0), fps=5)]
    assert instants[0] == 0.0 and 1.0 <= instants[-1] <= 2.1
    assert instants == pytest.approx([i / 5 for i in range(len(instants))])


def test_crashed_fragmented_mp4_decodes_up_to_the_cut(tmp_path: Path) -> None:
    live, crashed = tmp_path / "live.mp4", tmp_path / "crashed.mp4"
    write_clip(
        live,
        "libx264",
        "aac",
        seconds=3.0,
        rate=44100,
        options={
            "movflags": "empty_moov+default_base_moof",
            "frag_duration": "500000",
            "flush_packets": "1",
        },
        codec_options={"tune": "zerolatency"},
        copy_at_s=2.0,
        copy_to=crashed,
    )
    duration = probe_duration(crashed)
    assert 1.0 <= duration <= 2.1
    instants = [t for t, _ in sample_frames(Track("customer", crashed, 0.0), fps=5)]
    assert instants[0] == 0.0 and duration - 0.3 <= instants[-1] <= duration + 0.1
    assert len(load_audio([Track("customer", crashed, 0.0)])) / 16000 == pytest.approx(
        duration, abs=0.15
    )


def test_byte_truncated_file_decodes_up_to_the_cut(clips: dict[str, Path], tmp_path: Path) -> None:
    data = clips["mkv"].read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10])
    info = probe(cut)
    assert info.truncated and 0.5 < info.duration_s < 1.9
    assert probe(cut, scan=False).duration_s == pytest.approx(2.0, abs=0.05)  # header lies
    frames = list(sample_frames(Track("x", cut, 0.0), fps=5))
    assert 0.5 < frames[-1][0] < 1.9
    assert 0.5 < len(load_audio([Track("x", cut, 0.0)])) / 16000 < 1.9


def test_damaged_middle_is_skipped_and_decoding_goes_on(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    data = bytearray(clips["mkv"].read_bytes())
    middle = len(data) // 3
    data[middle : middle + 400] = np.random.default_rng(7).integers(0, 256, 400, np.uint8).tobytes()
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(bytes(data))
    instants = [t for t, _ in sample_frames(Track("x", damaged, 0.0), fps=5)]
    assert instants[0] == 0.0 and instants[-1] >= 1.8
    assert len(load_audio([Track("x", damaged, 0.0)])) / 16000 > 1.8


def test_unreadable_files_raise_media_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mkv"
    garbage.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, np.uint8).tobytes())
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for path in [garbage, empty, tmp_path / "missing.mkv"]:
        with pytest.raises(MediaError, match=str(path.name)):
            probe(path)
        with pytest.raises(MediaError):
            load_audio([Track("x", path, 0.0)])
        with pytest.raises(MediaError):
            list(sample_frames(Track("x", path, 0.0), fps=1))


def test_audio_only_file_has_no_frames(tmp_path: Path) -> None:
    path = tmp_path / "voice.ogg"
    out = av.open(str(path), "w")
    stream = out.add_stream("libopus", rate=48000, layout="mono")
    tone = (0.3 * np.sin(np.arange(48000) / 48000 * 2 * np.pi * 300)).astype(np.float32)
    for start in range(0, 48000, 960):
        frame = av.AudioFrame.from_ndarray(
            tone[None, start : start + 960], format="flt", layout="mono"
        )
        frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    info = probe(path)
    assert info.has_audio and not info.has_video
    assert list(sample_frames(Track("x", path, 0.0), fps=1)) == []
    assert len(load_audio([Track("x", path, 1.0)])) / 16000 == pytest.approx(2.0, abs=0.03)


def _adts(path: Path, rate: int, layout: str) -> bytes:
    out = av.open(str(path), "w", format="adts")
    stream = out.add_stream("aac", rate=rate, layout=layout)
    tone = (0.5 * np.sin(np.arange(rate) / rate * 2 * np.pi * 440)).astype(np.float32)
    for start in range(0, rate, 1024):
        planes = np.repeat(tone[None, start : start + 1024], 2 if layout == "stereo" else 1, 0)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(planes), format="fltp", layout=layout
        )
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    return path.read_bytes()


def test_audio_format_change_mid_stream_is_resampled(tmp_path: Path) -> None:
    # Raw AAC: 1 s mono at 44.1 kHz followed by 1 s stereo at 48 kHz in one stream.
    joined = tmp_path / "joined.aac"
    joined.write_bytes(
        _adts(tmp_path / "m.aac", 44100, "mono") + _adts(tmp_path / "s.aac", 48000, "stereo")
    )
    audio = load_audio([Track("x", joined, 0.0)])
    assert 1.9 < len(audio) / 16000 < 2.3
    assert _rms(audio[2000:14000]) > 0.3 and _rms(audio[-14000:-2000]) > 0.3


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_sample_frames_on_the_callers_thread_gives_the_same_frames(
    clips: dict[str, Path],
) -> None:
    track = Track("salesperson", clips["mkv"], 0.27)
    threaded = list(sample_frames(track, fps=2))
    before = _os_threads()
    own = []
    for t, image in sample_frames(track, fps=2, threads=1):
        own.append((t, image))
        assert _os_threads() == before  # no decoder threads: the caller's lane does the work
    assert [t for t, _ in own] == [t for t, _ in threaded]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(own, threaded, strict=True))
