import hashlib
import json
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest

from inspection.report import FINDING_CODES
from scripts.make_corpus import main as make_corpus_main
from tests.corpus import all_lines, corpus_specs, make_session, spec_expected
from tests.corpus_kinds import KINDS
from tests.corpus_media import TTS_DIR, clip_index, has_clip


def _probe(path: Path) -> dict[str, object]:
    """Codecs, durations and audio RMS of one segment file, decoded with PyAV."""
    with av.open(str(path)) as c:
        kinds = {s.type: s.codec_context.name for s in c.streams}
        frames = [f.pts * f.time_base for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        audio = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
        rate = c.streams.audio[0].rate
    return {
        "codecs": kinds,
        "frames": len(frames),
        "video_s": float(frames[-1]) if frames else 0.0,
        "audio_s": len(audio) / rate,
        "rms": float(np.sqrt(np.mean(np.square(audio)))),
        "peak": float(np.max(np.abs(audio))),
    }


def _load(d: Path, name: str) -> dict:
    return json.loads((d / name).read_text("utf-8"))


def test_clean_vp8_session(tmp_path: Path) -> None:
    d = make_session(tmp_path, "clean", policy_key="b", fps=2.0, video_codec="libvpx")
    labels, meta = _load(d, "labels.json"), _load(d, "metadata.json")
    assert labels["expected_codes"] == [] and labels["kind"] == "clean"
    assert meta["schema"] == "kesu.session/1" and meta["template_id"] == "mini"
    assert meta["policy"]["customer_name"] == "陈静" and meta["gaps"] == []
    assert sorted(s["file"] for s in meta["segments"]) == [
        "customer-000.mkv",
        "salesperson-000.mkv",
    ]
    duration = labels["duration_s"]
    assert 35 < duration < 70  # the mini template is about 45 s spoken
    for seg in meta["segments"]:
        path = d / seg["file"]
        assert seg["bytes"] == path.stat().st_size
        assert seg["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        info = _probe(path)
        assert info["codecs"] == {"video": "vp8", "audio": "opus"}
        assert info["video_s"] == pytest.approx(seg["end_s"] - seg["start_s"], abs=0.6)
        assert info["audio_s"] == pytest.approx(seg["end_s"] - seg["start_s"], abs=0.1)
        assert info["frames"] == pytest.approx(2.0 * duration, abs=2)
    sp, cu = _probe(d / "salesperson-000.mkv"), _probe(d / "customer-000.mkv")
    assert sp["rms"] > 0.02 and sp["peak"] > 0.3  # speech, not room tone
    assert cu["peak"] > 0.3  # the customer's answers
    assert cu["rms"] < sp["rms"]  # ... who speaks much less than the salesperson
    # Every spoken line of the plan is on the timeline, in order, with node spans.
    spoken = [b for b in labels["timeline"] if b["text"]]
    assert [b["node"] for b in spoken if b["kind"] == "node"] == [
        "consent",
        "reminder",
        "premium",
        "id_card",
        "signature",
    ]
    assert all(a["end_s"] <= b["start_s"] for a, b in zip(spoken, spoken[1:], strict=False))
    assert labels["id_card"]["id_number"] == meta["policy"]["customer_id_number"]


def test_gap_session_has_two_customer_segments(tmp_path: Path) -> None:
    d = make_session(tmp_path, "media_gap", policy_key="a", seed=3)
    labels, meta = _load(d, "labels.json"), _load(d, "metadata.json")
    assert labels["expected_codes"] == ["media.gap"]
    (gap,) = meta["gaps"]
    assert gap["participant"] == "customer" and gap["end_s"] - gap["start_s"] == pytest.approx(8.0)
    segs = {s["file"]: s for s in meta["segments"]}
    assert set(segs) == {"salesperson-000.mkv", "customer-000.mkv", "customer-001.mkv"}
    first, second = segs["customer-000.mkv"], segs["customer-001.mkv"]
    assert first["status"] == "interrupted" and second["status"] == "finished"
    assert first["end_s"] <= gap["start_s"] and second["start_s"] == gap["end_s"]
    assert {e["type"] for e in meta["events"]} >= {"join", "gap", "interrupted", "end"}
    # No customer speech falls inside the gap (it is placed during a salesperson-only node).
    for b in labels["timeline"]:
        if b["speaker"] == "customer":
            assert b["end_s"] <= gap["start_s"] or b["start_s"] >= gap["end_s"]
    for name, seg in segs.items():
        info = _probe(d / name)
        assert info["codecs"] == {"video": "h264", "audio": "opus"}
        assert info["audio_s"] == pytest.approx(seg["end_s"] - seg["start_s"], abs=0.1)
        assert info["peak"] > 0.3  # each piece holds speech


def test_every_finding_code_is_covered_twice() -> None:
    specs = corpus_specs()
    counts = Counter(code for s in specs for code in {e["code"] for e in spec_expected(s)})
    assert {code: counts[code] for code in FINDING_CODES if counts[code] < 2} == {}
    assert set(counts) <= set(FINDING_CODES)
    assert sum(1 for s in specs if not spec_expected(s)) >= 4  # clean passes
    assert {s.template_id for s in specs} == {
        "mini",
        "traditional_life",
        "participating_universal",
        "investment_linked",
    }
    assert len({s.session_id for s in specs}) == len(specs)
    assert set(KINDS) == {s.kind for s in specs}  # every kind is used


def test_every_line_has_a_committed_clip() -> None:
    missing = [t for t in all_lines() if not has_clip(t)]
    assert missing == []
    index = clip_index(TTS_DIR)
    assert all((TTS_DIR / str(e["file"])).is_file() for e in index.values())
    total = sum((TTS_DIR / str(e["file"])).stat().st_size for e in index.values())
    assert total < 8_000_000


def test_list_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert make_corpus_main(["--list-lines"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed == all_lines() and "这个产品保本保息，稳赚不赔。" in printed


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a = make_session(tmp_path / "a", "wrong_days", policy_key="b", seed=5, fps=1.0)
    b = make_session(tmp_path / "b", "wrong_days", policy_key="b", seed=5, fps=1.0)
    c = make_session(tmp_path / "c", "wrong_days", policy_key="b", seed=6, fps=1.0)
    assert (a / "metadata.json").read_bytes() == (b / "metadata.json").read_bytes()
    assert (a / "labels.json").read_bytes() == (b / "labels.json").read_bytes()
    seg_a = [s["sha256"] for s in _load(a, "metadata.json")["segments"]]
    seg_c = [s["sha256"] for s in _load(c, "metadata.json")["segments"]]
    assert seg_a != seg_c  # another seed: other faces, room, pauses
    assert _load(a, "labels.json")["expected_codes"] == ["speech.number_mismatch"]
