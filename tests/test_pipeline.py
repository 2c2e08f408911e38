"""Pipeline: document windows, and end-to-end runs on small real sessions
(synthetic TTS speech, real face photos, rendered documents; real models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspection.inputs import NodeMarker, load_session_dir
from inspection.pipeline import Inspector
from inspection.rules import NodeCoverage, Thresholds
from inspection.templates import load_template, render
from inspection.windows import document_windows
from models.registry import ModelRegistry
from tests.corpus import make_session
from tests.corpus_plan import MINI_TEMPLATE, policy_for

TH = Thresholds()


# --- document windows ----------------------------------------------------------------------


def test_document_windows() -> None:
    tpl = load_template(MINI_TEMPLATE)
    nodes = render(tpl, policy_for("mini", "a"))
    by = {n.id: n for n in nodes}
    cov = [
        NodeCoverage(by["consent"], 0.9, 1.0, 4.0),
        NodeCoverage(by["id_card"], 0.9, 20.0, 23.0, answer="affirmative", answer_end_s=25.0),
        NodeCoverage(by["signature"], 0.9, 40.0, 43.0),
        NodeCoverage(by["premium"], 0.1),
    ]
    windows = document_windows(nodes, cov, [], 60.0, TH)
    assert windows == {"id_card": (20.0, 40.0), "signature": (40.0, 48.0)}
    # Not spoken: the salesperson's marker gives the window; neither: no window.
    cov[2] = NodeCoverage(by["signature"], 0.2)
    markers = [NodeMarker("id_card", 19.0), NodeMarker("signature", 39.0)]
    assert document_windows(nodes, cov, markers, 60.0, TH)["signature"] == (39.0, 60.0)
    assert "signature" not in document_windows(nodes, cov, [], 60.0, TH)


# --- end to end (real models) --------------------------------------------------------------


@pytest.fixture(scope="module")
def inspector() -> Inspector:
    return Inspector(ModelRegistry.from_env(), Thresholds(), threads=2)


@pytest.mark.slow
def test_clean_session_passes(inspector: Inspector, tmp_path: Path) -> None:
    session = make_session(tmp_path, "clean", "mini", "a", seed=1)
    seen: list[tuple[str, float]] = []
    report = inspector.run(
        load_session_dir(session, template=str(MINI_TEMPLATE)),
        progress=lambda s, f: seen.append((s, f)),
    )
    assert report.verdict == "pass", [f.message for f in report.findings]
    assert [n.id for n in report.nodes if n.covered] == [
        "consent",
        "reminder",
        "premium",
        "id_card",
        "signature",
    ]
    assert [n.answer for n in report.nodes] == ["affirmative", None, None, "affirmative", None]
    assert {t.participant for t in report.transcript} == {"salesperson", "customer"}
    assert 45 < report.duration_s < 60
    for stage in ("probe", "audio", "speech", "script", "video", "documents", "rules", "total"):
        assert report.timings[stage] >= 0, stage
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert report.faces["customer"] and report.faces["salesperson"]
    assert set(report.meta["windows"]) == {"id_card", "signature"}
    # What the speech model ran on is in the report, oneDNN whatever the CPU's vendor.
    backend = report.meta["speech_backend"]
    assert backend["gemm"] == "DNNL" and backend["ctranslate2"][0].isdigit()
    assert json.loads(json.dumps(report.to_dict()))["verdict"] == "pass"


@pytest.mark.slow
def test_wrong_name_on_id_card_is_flagged_with_a_thumbnail(
    inspector: Inspector, tmp_path: Path
) -> None:
    session = make_session(tmp_path, "id_card_wrong_name", "mini", "b", seed=2)
    speech_model = inspector.speech
    report = inspector.run(load_session_dir(session, template=str(MINI_TEMPLATE)))
    assert inspector.speech is speech_model  # built once per Inspector
    assert [f.code for f in report.findings] == ["document.id_card_mismatch"]
    f = report.findings[0]
    assert f.node == "id_card" and f.participant == "customer" and f.severity == "fail"
    assert f.evidence["read"]["name"] == "王建国" and f.evidence["expected"]["name"] == "陈静"
    assert f.evidence["frame"].startswith("evidence/") and (session / f.evidence["frame"]).is_file()
    assert (session / f.evidence["frame"]).read_bytes()[:2] == b"\xff\xd8"  # JPEG
    assert any("身份证" in line["text"] for line in f.evidence["transcript"])  # context
    assert "load_speech" not in report.timings  # the model was already built


@pytest.mark.slow
def test_long_salesperson_track_is_decoded_in_pieces_on_two_lanes(tmp_path: Path) -> None:
    # Pieces of 15 s on the ~50 s mini session: cut at pauses, decoded on both lanes.
    inspector = Inspector(ModelRegistry.from_env(), Thresholds(), threads=2, speech_piece_s=15)
    session = make_session(tmp_path, "clean", "mini", "a", seed=1)
    report = inspector.run(load_session_dir(session, template=str(MINI_TEMPLATE)))
    assert report.meta["speech_pieces"]["salesperson"] >= 2
    assert report.meta["speech_pieces"]["customer"] == 1  # per-region decoding: whole
    assert report.verdict == "pass", [f.message for f in report.findings]
    assert all(n.covered for n in report.nodes)
    starts = [t.start_s for t in report.transcript if t.participant == "salesperson"]
    assert starts == sorted(starts)
    # CPU seconds per stage, measured on the threads that ran it.
    cpu = report.meta["cpu_s"]
    assert cpu["speech"] > 0 and cpu["video"] > 0 and cpu["documents"] > 0
    assert inspector.lanes == 2
    tasks = {t["task"] for t in report.meta["tasks"]}
    assert {"script", "documents", "video:customer", "speech:salesperson"} <= tasks


@pytest.mark.slow
def test_salesperson_track_cut_at_a_gap_decodes_on_two_lanes_without_doubled_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default cut needs 80 s of speech per piece (a 2-minute session stays whole); on the
    # ~50 s mini session a few seconds do, so the track is cut at a gap (the customer's turn)
    # and the second piece decoded from its lead-in, whose words it must drop.
    from inspection import speech_cuts

    monkeypatch.setattr(speech_cuts, "MIN_PIECE_SPEECH_S", 5.0)
    monkeypatch.setattr(speech_cuts, "MIN_GAP_S", 1.5)
    inspector = Inspector(ModelRegistry.from_env(), Thresholds(), threads=2)
    session = make_session(tmp_path, "clean", "mini", "a", seed=1)
    report = inspector.run(load_session_dir(session, template=str(MINI_TEMPLATE)))
    assert report.meta["speech_pieces"]["salesperson"] == 2
    pieces = [t for t in report.meta["tasks"] if t["task"].startswith("speech:salesperson:")]
    assert len(pieces) == 2
    assert report.verdict == "pass", [f.message for f in report.findings]
    assert all(n.covered for n in report.nodes)
    said = [t for t in report.transcript if t.participant == "salesperson"]
    starts = [t.start_s for t in said]
    assert starts == sorted(starts)
    # No stretch of the track comes out twice (the lead-in's utterances are the first
    # piece's only).
    assert all(b.start_s >= a.end_s - 0.05 for a, b in zip(said, said[1:], strict=False)), said
