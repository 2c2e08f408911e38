"""Findings carry their time and their English message, and face absence counts only while a
participant is in the session (issue 7, class 7)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from inspection import rules
from inspection.inputs import AttendanceEvent, presence_spans
from inspection.report import FINDING_CODES, Finding, Report
from inspection.rules import (
    AudioLevels,
    FaceMatch,
    FrameFaces,
    FrameStats,
    Gap,
    IdCardEvidence,
    NodeCoverage,
    NumberCheck,
    PhraseHit,
    SignatureEvidence,
)
from server.reviews import finding_json
from server.store.models import FindingRow
from server.worker import _english
from tests.rules_fixtures import ID, NAME, SENTENCE, TH, coverage, mini_nodes


@pytest.fixture(scope="module")
def nodes() -> list[rules.RenderedNode]:
    return mini_nodes()


# --- script findings take their time from the teleprompter -----------------------------------


@pytest.mark.parametrize("which", range(4))
def test_missing_node_takes_the_teleprompter_time(
    nodes: list[rules.RenderedNode], which: int
) -> None:
    node = nodes[which]
    markers = rules.marker_spans([(n.id, 3.0 + 7.0 * i) for i, n in enumerate(nodes)], 200.0)
    found = rules.script_findings(coverage(nodes, {node.id}), TH, markers)
    mine = [f for f in found if f.node == node.id]
    assert mine and all(f.start_s == 3.0 + 7.0 * which for f in mine)
    assert all(f.end_s == 3.0 + 7.0 * (which + 1) for f in mine)
    assert all(f.evidence["time_from"] == "teleprompter" for f in mine)


def test_missing_node_without_markers_uses_its_best_match_or_no_time(
    nodes: list[rules.RenderedNode],
) -> None:
    node = nodes[2]
    cov = coverage(nodes, {node.id})
    cov[2] = NodeCoverage(node, 0.3, 50.0, 53.0, "别的内容")
    found = [f for f in rules.script_findings(cov, TH) if f.node == node.id]
    assert [(f.start_s, f.end_s, f.evidence["time_from"]) for f in found] == [
        (50.0, 53.0, "alignment")
    ]
    bare = [f for f in rules.script_findings(coverage(nodes, {node.id}), TH) if f.node == node.id]
    assert bare and all(f.start_s is None and "time_from" not in f.evidence for f in bare)


def test_marker_spans_first_showing_until_the_next() -> None:
    spans = rules.marker_spans([("b", 10.0), ("a", -2.0), ("c", 30.0), ("b", 40.0)], 60.0)
    assert spans == {"a": (0.0, 10.0), "b": (10.0, 30.0), "c": (30.0, 40.0)}


# --- face absence only while in the session -------------------------------------------------


def frames_from(t0: float, t1: float, away: tuple[float, float] | None = None) -> list[FrameFaces]:
    out = []
    t = t0
    while t < t1:
        seen = away is None or not away[0] <= t < away[1]
        out.append(FrameFaces(t, (120.0,), (0.9,)) if seen else FrameFaces(t))
        t += 1.0
    return out


@pytest.mark.parametrize("join", [3.6, 8.0, 12.5, 30.0])
@pytest.mark.parametrize("leave", [None, 45.0])
def test_no_absence_before_join_or_after_leave(join: float, leave: float | None) -> None:
    events = [AttendanceEvent("customer", "join", join)]
    if leave is not None:
        events.append(AttendanceEvent("customer", "leave", leave))
    present = presence_spans(events, "customer", [(join, leave or 60.0)])
    frames = frames_from(join, leave or 60.0)
    found = rules.face_absence_findings("customer", frames, 1.0, (0.0, 60.0), [], TH, present)
    assert found == []
    # Looking away for 8 s after joining is still reported, from when it began.
    away = (join + 2.0, join + 10.0)
    frames = frames_from(join, leave or 60.0, away)
    found = rules.face_absence_findings("customer", frames, 1.0, (0.0, 60.0), [], TH, present)
    assert [(f.code, f.start_s) for f in found] == [("face.absent", away[0])]


def test_presence_spans_from_joins_and_leaves() -> None:
    ev = [
        AttendanceEvent("customer", "join", 3.6),
        AttendanceEvent("customer", "leave", 20.0),
        AttendanceEvent("customer", "join", 31.0),
        AttendanceEvent("salesperson", "join", 0.0),
    ]
    assert presence_spans(ev, "customer", [(3.6, 20.0), (31.0, 90.0)]) == [
        (3.6, 20.0),
        (31.0, 90.0),
    ]
    # No join events: the recordings' span; a leave without a join: from the first media.
    assert presence_spans([], "customer", [(2.0, 50.0), (55.0, 80.0)]) == [(2.0, 80.0)]
    left = [AttendanceEvent("customer", "leave", 40.0), AttendanceEvent("customer", "join", 41.0)]
    assert presence_spans(left[:1], "customer", [(1.0, 60.0)]) == [(1.0, 40.0)]
    assert presence_spans(ev, "customer", []) == []


# --- English messages ------------------------------------------------------------------------


def every_finding(nodes: list[rules.RenderedNode]) -> list[Finding]:
    """At least one finding of every code, from the rule functions."""
    by_id = {n.id: n for n in nodes}
    cov = coverage(nodes, {"reminder", "premium"})
    consent = next(c for c in cov if c.node.role == "consent")
    cov[cov.index(consent)] = dataclasses.replace(consent, answer="negative", answer_text="不同意")
    late = [*cov, NodeCoverage(by_id["consent"], 0.95, 500.0, 504.0, "同意吗")]
    out = rules.script_findings(cov, TH) + rules.script_findings(late[1:], TH)
    out += rules.forbidden_findings(
        [PhraseHit("保本保息", "salesperson", 1, 2, "保本保息", 0.95)], TH
    )
    out += rules.number_findings([NumberCheck("premium", "premium", 12000, 15000, 1, 2, "15000元")])
    out += rules.face_absence_findings("customer", [], 1.0, (0.0, 30.0), [], TH)
    many = [FrameFaces(float(t), (120.0, 110.0), (0.9, 0.9)) for t in range(10)]
    out += rules.extra_person_findings("salesperson", many, 1.0, [], TH)
    out += rules.identity_findings([FaceMatch("customer", "id_card", 0.1, 5.0)], TH)
    card = IdCardEvidence("id_card", (20.0, 30.0), 3)
    out += rules.id_card_findings(card, NAME, ID, TH)
    wrong = dataclasses.replace(card, name="王五", id_number=ID[:17] + "0", id_valid=False)
    out += rules.id_card_findings(wrong, NAME, ID, TH)
    page = SignatureEvidence("signature", (40.0, 50.0), 3, "王建国", "本人已阅读保险条款", "", 44.0)
    out += rules.signature_findings(page, NAME, SENTENCE, TH)
    blank = SignatureEvidence("signature", (40.0, 50.0), 3, None, "", "", 44.0)
    out += rules.signature_findings(blank, NAME, SENTENCE, TH)
    out += rules.audio_findings(AudioLevels("customer", -45.0, 0.05, 60.0), TH)
    out += rules.video_findings("customer", [FrameStats(float(t), 10.0, 5.0) for t in range(5)], TH)
    lines = [
        rules.TranscriptLine("customer", float(t), t + 2.0, "嗯", 0.2) for t in range(0, 20, 2)
    ]
    out += rules.asr_findings("customer", lines, TH)
    out += rules.gap_findings([Gap("customer", 10.0, 20.0)], TH)
    return out


def test_every_finding_has_an_english_message(nodes: list[rules.RenderedNode]) -> None:
    found = every_finding(nodes)
    assert {f.code for f in found} == set(FINDING_CODES)
    for f in found:
        assert f.message_en, f.code
        # Chinese only inside quotes (titles, what was said or read) and the excerpt.
        bare = re.sub(r"「[^」]*」|: .*$", "", f.message_en)
        assert not re.search(r"[\u4e00-\u9fff]", bare), (f.code, f.message_en)


def test_report_json_round_trip_and_old_reports(nodes: list[rules.RenderedNode]) -> None:
    f = every_finding(nodes)[0]
    data = Report(60.0, [f]).to_dict()
    assert data["findings"][0]["message_en"] == f.message_en
    assert Report.from_dict(data).findings[0] == f
    old: dict[str, Any] = {k: v for k, v in data["findings"][0].items() if k != "message_en"}
    assert Finding.from_dict(old).message_en is None


def test_stored_finding_gives_message_en_to_the_review_page() -> None:
    stored = {
        "message": "客户离开画面",
        "message_en": "The customer left",
        "evidence": {"rule": "R12"},
    }
    row = FindingRow(
        id=1,
        session_id="s",
        code="face.absent",
        severity="fail",
        message=stored["message"],
        message_en=_english(stored),
        evidence=stored["evidence"],
        review_state="open",
        review_comment="",
    )
    out = finding_json(row, {})
    assert out["message_en"] == "The customer left" and out["evidence"] == {"rule": "R12"}
    row.message_en = None  # stored before message_en existed
    assert finding_json(row, {})["message_en"] is None
    row.evidence = {"rule": "R12", "_message_en": "x"}  # only a key of the evidence now
    assert finding_json(row, {})["evidence"] == row.evidence
    assert finding_json(row, {})["message_en"] is None
