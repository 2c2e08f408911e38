"""A recording cut after the server finished it (its size no longer what metadata.json says)
is reported as a media.gap over what it lost, not only as answers that went "missing"."""

from __future__ import annotations

import json
from pathlib import Path

from inspection.inputs import load_session_dir
from inspection.media import probe
from inspection.rules import Thresholds, gap_findings
from inspection.short_media import short_media_gaps
from tests.corpus_plan import policy_for
from tests.test_media import write_clip


def _session(d: Path, status: str = "finished", seconds: float = 6.0) -> Path:
    d.mkdir(parents=True)
    clip = d / "customer-000.mkv"
    write_clip(clip, seconds=seconds)
    seg = {"participant": "customer", "index": 0, "file": clip.name, "start_s": 1.0}
    if status == "finished":
        seg |= {"status": status, "end_s": 1.0 + seconds, "bytes": clip.stat().st_size}
    else:
        seg |= {"status": status, "end_s": 1.0 + seconds}
    meta = {
        "schema": "kesu.session/1",
        "session_id": "s-1",
        "template_id": "traditional_life",
        "policy": policy_for("traditional_life", "a").to_dict(),
        "segments": [seg],
        "events": [],
        "gaps": [],
    }
    (d / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    return d


def _gaps(d: Path) -> list:
    inp = load_session_dir(d)
    return short_media_gaps([("customer", t, probe(t.path)) for t in inp.customer])


def test_a_file_cut_after_recording_is_a_gap_over_what_it_lost(tmp_path: Path) -> None:
    d = _session(tmp_path / "s")
    clip = d / "customer-000.mkv"
    recorded = clip.stat().st_size
    clip.write_bytes(clip.read_bytes()[: recorded // 3])
    (gap,) = _gaps(d)
    assert gap.participant == "customer" and gap.cause == "file_changed"
    assert 1.0 <= gap.start_s < 5.0 and gap.end_s == 7.0
    assert gap.detail["recorded_bytes"] == recorded and gap.detail["bytes"] == recorded // 3
    (finding,) = gap_findings([gap], Thresholds())
    assert finding.code == "media.gap" and finding.severity == "review"
    assert finding.evidence["cause"] == "file_changed" and "customer-000.mkv" in finding.message


def test_an_intact_or_unfinished_file_is_no_gap(tmp_path: Path) -> None:
    assert _gaps(_session(tmp_path / "intact")) == []
    # An interrupted segment has no size on record: its end is the last media flushed.
    d = _session(tmp_path / "interrupted", status="interrupted")
    clip = d / "customer-000.mkv"
    clip.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    assert _gaps(d) == []
