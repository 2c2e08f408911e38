"""Pipeline: session-dir loading, document windows, and end-to-end runs on small real sessions
(synthetic TTS speech, real face photos, rendered documents; real models)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from inspection.media import Track
from inspection.pipeline import (
    InputError,
    Inspector,
    NodeMarker,
    document_windows,
    load_session_dir,
    make_input,
)
from inspection.rules import NodeCoverage, Thresholds
from inspection.templates import load_template, render
from models.registry import ModelRegistry
from tests.corpus import MINI_TEMPLATE, make_session, policy_for

TH = Thresholds()


# --- loading -------------------------------------------------------------------------------


def _metadata(**kw: object) -> dict[str, object]:
    meta: dict[str, object] = {
        "schema": "kesu.session/1",
        "session_id": "s-1",
        "template_id": "traditional_life",
        "policy": policy_for("traditional_life", "a").to_dict(),
        "segments": [
            {
                "participant": "salesperson",
                "index": 0,
                "file": "salesperson-000.mkv",
                "start_s": 0.0,
            },
            {"participant": "customer", "index": 0, "file": "customer-000.mkv", "start_s": 0.5},
            {"participant": "customer", "index": 1, "file": "customer-001.mkv", "start_s": 40.0},
            {"participant": "customer", "index": 2, "file": "customer-002.mkv", "start_s": 80.0},
        ],
        "events": [
            {"t_s": 1.0, "type": "node", "node": "consent"},
            {"t_s": 0.2, "type": "join", "participant": "customer"},
            {"t_s": 9.0, "type": "node", "node": "reminder"},
        ],
        "gaps": [{"participant": "customer", "start_s": 30.0, "end_s": 40.0}],
    }
    meta.update(kw)
    return meta


def _write(d: Path, meta: dict[str, object]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    for name in ("salesperson-000.mkv", "customer-000.mkv", "customer-001.mkv"):
        (d / name).write_bytes(b"x")  # customer-002.mkv is missing: skipped
    return d


def test_load_session_dir(tmp_path: Path) -> None:
    inp = load_session_dir(_write(tmp_path / "s", _metadata()))
    assert inp.salesperson == [Track("salesperson", tmp_path / "s" / "salesperson-000.mkv", 0.0)]
    assert [t.offset_s for t in inp.customer] == [0.5, 40.0]
    assert inp.markers == [NodeMarker("consent", 1.0), NodeMarker("reminder", 9.0)]
    assert inp.gaps is not None and [(g.participant, g.start_s, g.end_s) for g in inp.gaps] == [
        ("customer", 30.0, 40.0)
    ]
    assert inp.template.id == "traditional_life" and inp.session_id == "s-1"
    assert inp.evidence_dir == tmp_path / "s" / "evidence" and inp.session_dir == tmp_path / "s"


def test_template_snapshot_and_override(tmp_path: Path) -> None:
    d = _write(tmp_path / "s", _metadata(template_id="mini"))
    with pytest.raises(InputError, match="template: .*no such file or built-in template"):
        load_session_dir(d)
    assert load_session_dir(d, template=str(MINI_TEMPLATE)).template.id == "mini"
    shutil.copy(MINI_TEMPLATE, d / "template.yaml")
    assert load_session_dir(d).template.id == "mini"


def test_bad_session_dirs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="metadata.json not found"):
        load_session_dir(tmp_path)
    with pytest.raises(InputError, match="schema must be kesu.session/1"):
        load_session_dir(_write(tmp_path / "a", _metadata(schema="other")))
    with pytest.raises(InputError, match="policy data lacks customer_id_number"):
        load_session_dir(
            _write(tmp_path / "b", _metadata(policy={"customer_name": "x", "product_name": "y"}))
        )
    with pytest.raises(InputError, match="customer reference photo"):
        photo = {**policy_for("traditional_life", "a").to_dict(), "customer_photo": "nope.jpg"}
        load_session_dir(_write(tmp_path / "c", _metadata(policy=photo)))


def test_make_input_errors(tmp_path: Path) -> None:
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(policy_for("mini", "a").to_dict()), encoding="utf-8")
    media = tmp_path / "a.mkv"
    media.write_bytes(b"x")
    with pytest.raises(InputError, match="nope.mkv not found"):
        make_input([media], [tmp_path / "nope.mkv"], "traditional_life", policy)
    with pytest.raises(InputError, match="template"):
        make_input([media], [media], "no_such", policy)
    inp = make_input([media], [media], str(MINI_TEMPLATE), policy)
    assert inp.template.id == "mini" and inp.gaps is None and inp.evidence_dir is None


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
