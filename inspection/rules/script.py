"""Script findings: consent, reminder, nodes, order, answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from inspection.answers import heard_negation
from inspection.report import Finding, Severity
from inspection.rules.common import (
    PARTICIPANT_CN,
    PARTICIPANT_EN,
    ev_line,
    is_covered,
    min_similarity,
    r3,
)
from inspection.rules.evidence import NodeCoverage, Span
from inspection.rules.thresholds import Thresholds


def _coverage_evidence(cov: NodeCoverage, need: float, rule: str, th: Thresholds) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "rule": rule,
        "expected_text": cov.node.text,
        "scores": {"similarity": r3(cov.score), "key_score": r3(cov.key_score)},
        "threshold": {"min_similarity": need, "node_key_score": th.node_key_score},
    }
    if cov.start_s is not None:
        ev["transcript"] = [ev_line(cov.node.speaker, cov.start_s, cov.end_s, cov.excerpt)]
    if cov.support != "match":
        ev["support"] = cov.support
    if cov.slot is not None:
        # What was said where the node belongs (between its neighbours / on the teleprompter).
        ev["slot"] = cov.slot
        ev["threshold"] |= {
            "node_slot_similarity": th.node_slot_similarity,
            "node_slot_partial_similarity": th.node_slot_partial_similarity,
        }
    return ev


def _partial(cov: NodeCoverage) -> bool:
    """Not covered, but speech resembling the node was said where it belongs: review."""
    return cov.support == "partial"


def _unheard(cov: NodeCoverage) -> bool:
    """Not covered, but time enough for the node passed where it belongs with nothing
    recognised (speech lost by the recogniser in noise, inspection.node_slot): review."""
    return cov.support == "unheard"


def _heard(cov: NodeCoverage) -> bool:
    """Not covered, nothing like it recognised, but its own text explains the audio of its
    slot clearly better than any other node's (inspection.node_forced): review."""
    return cov.support == "heard"


def _unsure_missing(cov: NodeCoverage) -> tuple[str, str]:
    """(Chinese, English) clause saying why a missing node is only for review, or ("", "")."""
    if _unheard(cov) and cov.slot is not None:
        gap = float(cov.slot.get("unheard_s", 0.0))
        return (
            f"；该处约 {gap:.0f} 秒讲话未能识别，请人工听取",
            f"; about {gap:.0f} s of speech there could not be recognised, please listen to it",
        )
    if _heard(cov):
        return (
            "；该处录音与该节点话术相符，但未能识别，请人工听取",
            "; the audio there fits the node's text but could not be recognised, please listen to it",
        )
    return "", ""


def _answer_evidence(cov: NodeCoverage, th: Thresholds) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "question": ev_line(cov.node.speaker, cov.start_s, cov.end_s, cov.excerpt),
        "answer": cov.answer,
        "transcript": [ev_line("customer", cov.answer_start_s, cov.answer_end_s, cov.answer_text)]
        if cov.answer_text or cov.answer_start_s is not None
        else [],
        "expected_answer": cov.node.expected_answer,
        "threshold": {
            "answer_window_s": th.answer_window_s,
            "answer_min_confidence": th.answer_min_confidence,
        },
        "scores": {
            "answer_confidence": r3(cov.answer_confidence),
            "answer_score": r3(cov.answer_score),
        },
    }
    if cov.answer_uncertain:
        ev["uncertain"] = cov.answer_uncertain
    if cov.answer_uncertain_text:
        ev["uncertain_speech"] = cov.answer_uncertain_text
    if cov.answer_closed_set:
        ev["closed_set"] = cov.answer_closed_set
    if cov.answer_room:
        ev["room"] = cov.answer_room
    if cov.answer_question_back:
        ev["question_back"] = cov.answer_question_back
    return ev


def _room_clause(cov: NodeCoverage) -> tuple[str, str]:
    """(Chinese, English) clause for "no answer" in a room too loud to prove silence, or ("", "")."""
    room = cov.answer_room
    if cov.answer not in ("missing", "unsure") or not room or room.get("reason") != "room_too_loud":
        return "", ""
    m = float(room["margin_db"])
    return (
        f"；环境噪声过大（客户讲话仅高出噪声 {m:.0f} dB），无法确认确无回答，请人工听取",
        f"; the room is too loud to tell silence from a quiet answer (the customer's speech "
        f"stands {m:.0f} dB above it), please listen",
    )


_ANSWER_EN = {
    "negative": "negative",
    "unsure": "unsure",
    "missing": "no answer",
    "unrecognised": "speech that could not be recognised",
    "affirmative": "possibly yes, but recognition is uncertain",
}
_ANSWER_CN = {
    "negative": "否定",
    "unsure": "不确定",
    "missing": "无回答",
    "unrecognised": "有讲话但无法识别",
    "affirmative": "可能是肯定，但识别不确定",
}


def answer_is_weak(cov: NodeCoverage, th: Thresholds) -> bool:
    """True when the answer rests on recognition too weak to fail a session on: unrecognised
    or uncertain speech, a closed-set guess, or words below ``answer_min_confidence``."""
    return (
        cov.answer == "unrecognised"
        or cov.answer_uncertain is not None
        or cov.answer_score < 1.0
        or (cov.answer_confidence is not None and cov.answer_confidence < th.answer_min_confidence)
    )


def _answer_ok(cov: NodeCoverage, th: Thresholds) -> bool:
    """A clear yes, on evidence strong enough to pass (a guessed yes goes to review)."""
    return cov.answer is None or (cov.answer == "affirmative" and not answer_is_weak(cov, th))


def _answer_severity(cov: NodeCoverage, th: Thresholds) -> Severity:
    return "review" if answer_is_weak(cov, th) else "fail"


def _consent_finding(cov: NodeCoverage, th: Thresholds) -> Finding | None:
    need = min_similarity(cov.node, th)
    if not is_covered(cov, th):
        # The question was not located. Failing needs strong evidence that consent was not
        # asked: nothing like it where it belongs and no yes from the customer there.
        agreed = cov.answer == "affirmative"
        if _partial(cov) and _answer_ok(cov, th) and agreed:
            return None  # said in other words where it belongs, and a clear yes after it
        ev = _coverage_evidence(cov, need, "R2", th)
        if cov.answer is not None and cov.answer != "missing":
            ev |= {k: v for k, v in _answer_evidence(cov, th).items() if k != "question"}
        if agreed or _partial(cov) or _unheard(cov) or _heard(cov):
            heard = f"：「{cov.answer_text}」" if agreed and cov.answer_text else ""
            return Finding(
                code="consent.missing",
                severity="review",
                message=f"未能定位征求录音录像同意的询问，请人工确认（客户回答{heard or '：无'}）",
                message_en=f"The request for consent to recording could not be located; please check it (the customer's answer{heard.replace('：', ': ') or ': none'})",
                node=cov.node.id,
                participant="customer",
                evidence=ev,
            )
        return Finding(
            code="consent.missing",
            severity="fail",
            message="未检测到征求客户录音录像同意的询问及客户的同意",
            message_en="No request for the customer's consent to recording, and no consent, was found",
            node=cov.node.id,
            participant="customer",
            evidence=ev,
        )
    if _answer_ok(cov, th):
        return None
    if cov.node.requires_answer and answer_is_weak(cov, th) and not _maybe_refusal(cov):
        # The question was asked; only the answer is in doubt, on weak recognition. Its
        # answer.not_affirmative (review) already shows it, with the same evidence: a second
        # finding for one unsure answer was the consent code's false alarms (issue 7). A
        # refusal, even weakly heard, is evidence of no consent and keeps both (review).
        return None
    ev = _coverage_evidence(cov, need, "R2", th) | _answer_evidence(cov, th)
    ev["rule"] = "R2"
    said = f"：「{cov.answer_text}」" if cov.answer_text else ""
    said_en = f": 「{cov.answer_text}」" if cov.answer_text else ""
    room, room_en = _room_clause(cov)
    said, said_en = said + room, said_en + room_en
    return Finding(
        code="consent.missing",
        severity=_answer_severity(cov, th),
        message=f"客户未明确同意录音录像（{_ANSWER_CN.get(cov.answer or '', '无回答')}{said}）",
        message_en=f"The customer did not clearly consent to recording ({_ANSWER_EN.get(cov.answer or '', 'no answer')}{said_en})",
        node=cov.node.id,
        participant="customer",
        start_s=cov.start_s,
        end_s=cov.answer_end_s or cov.end_s,
        evidence=ev,
    )


def _maybe_refusal(cov: NodeCoverage) -> bool:
    """A refusal, or words that carry a 不/没 outside agreement idioms whatever they were
    guessed to be: 嗯嗯，这个我不同意 heard as 这个我不讨厌, guessed a yes by the closed set
    (了解 ahead of 我不同意 by 0.007 nats per token), lost the consent code of a refused
    recording (frozen test split)."""
    return cov.answer == "negative" or heard_negation(cov.answer_text or "") is not None


def _missing_finding(cov: NodeCoverage, th: Thresholds) -> Finding | None:
    need = min_similarity(cov.node, th)
    if is_covered(cov, th) or not cov.node.required:
        return None
    unsure = _partial(cov) or _unheard(cov) or _heard(cov)
    why, why_en = _unsure_missing(cov)
    if cov.node.role == "reminder":
        return Finding(
            code="reminder.missing",
            severity="review" if unsure else "fail",
            message=f"未完整宣读录音录像提示语（相似度 {cov.score:.2f}，要求 ≥ {need:.2f}{why}）",
            message_en=f"The recording reminder was not read in full (similarity {cov.score:.2f}, required ≥ {need:.2f}{why_en})",
            node=cov.node.id,
            participant="salesperson",
            start_s=cov.start_s,
            end_s=cov.end_s,
            evidence=_coverage_evidence(cov, need, "R3", th),
        )
    who = PARTICIPANT_CN[cov.node.speaker]
    return Finding(
        code="script.node_missing",
        severity="review" if unsure else "fail",
        message=f"{who}未讲解话术节点「{cov.node.title}」（相似度 {cov.score:.2f}，要求 ≥ {need:.2f}{why}）",
        message_en=f"{PARTICIPANT_EN[cov.node.speaker]} did not cover the script node 「{cov.node.title}」 (similarity {cov.score:.2f}, required ≥ {need:.2f}{why_en})",
        node=cov.node.id,
        participant=cov.node.speaker,
        evidence=_coverage_evidence(cov, need, "R5, R7-R10", th),
    )


def _order_targets(
    c: NodeCoverage, covered: Sequence[NodeCoverage]
) -> tuple[list[NodeCoverage], bool]:
    """The covered nodes ``c`` must start before, and whether the rule is the old
    ``order_critical`` one (before every other node) rather than ``must_precede``."""
    if c.node.must_precede:
        wanted = set(c.node.must_precede)
        return [o for o in covered if o.node.id in wanted], c.node.order_critical
    if c.node.order_critical:  # a node built without the resolved list
        return [o for o in covered if not o.node.order_critical], True
    return [], False


def _order_findings(coverage: Sequence[NodeCoverage], th: Thresholds) -> list[Finding]:
    """script.out_of_order for each node spoken after a node it must precede
    (``order_critical`` or ``must_precede`` in the template), against the earliest such node."""
    covered = [c for c in coverage if is_covered(c, th) and c.start_s is not None]
    out = []
    for c in covered:
        targets, legacy = _order_targets(c, covered)
        if not targets or c.start_s is None:
            continue
        first = min(targets, key=lambda o: o.start_s or 0.0)
        if first.start_s is None or c.start_s <= first.start_s:
            continue
        if legacy:
            message = f"「{c.node.title}」应在其他内容之前完成，实际在「{first.node.title}」之后"
            message_en = f"「{c.node.title}」must come before everything else, but came after 「{first.node.title}」"
        else:
            message = f"「{c.node.title}」应在「{first.node.title}」之前完成，实际在其之后"
            message_en = (
                f"「{c.node.title}」must come before 「{first.node.title}」, but came after it"
            )
        out.append(
            Finding(
                code="script.out_of_order",
                severity="fail",
                message=message,
                message_en=message_en,
                node=c.node.id,
                participant=c.node.speaker,
                start_s=c.start_s,
                end_s=c.end_s,
                evidence={
                    "rule": "R2-R3",
                    "transcript": [
                        ev_line(first.node.speaker, first.start_s, first.end_s, first.excerpt),
                        ev_line(c.node.speaker, c.start_s, c.end_s, c.excerpt),
                    ],
                    "earlier_node": first.node.id,
                    "must_precede": list(c.node.must_precede),
                    "scores": {"similarity": r3(c.score)},
                },
            )
        )
    return out


def _answer_finding(cov: NodeCoverage, th: Thresholds) -> Finding | None:
    node = cov.node
    if not node.requires_answer or not is_covered(cov, th):
        return None
    if _answer_ok(cov, th):
        return None
    said = f"「{cov.answer_text}」" if cov.answer_text else f"{th.answer_window_s:g} 秒内无回答"
    said_en = (
        f"「{cov.answer_text}」"
        if cov.answer_text
        else f"no answer within {th.answer_window_s:g} s"
    )
    room, room_en = _room_clause(cov)
    said, said_en = said + room, said_en + room_en
    if cov.answer == "unrecognised":
        said = f"{cov.answer_start_s or 0.0:.1f} 秒起有讲话，请人工听取"
        said_en = f"speech from {cov.answer_start_s or 0.0:.1f} s on; please listen to it"
        if cov.answer_question_back:
            # The question back was read, the final answer after the reply was not.
            said = f"客户反问「{cov.answer_question_back}」后的回答未能识别（{said}）"
            said_en = (
                f"the answer after the customer's question back 「{cov.answer_question_back}」 "
                f"could not be recognised ({said_en})"
            )
    return Finding(
        code="answer.not_affirmative",
        severity=_answer_severity(cov, th),
        message=f"客户对「{node.title}」的回答不是明确肯定（{_ANSWER_CN.get(cov.answer or '', cov.answer)}：{said}）",
        message_en=f"The customer's answer to 「{node.title}」 is not a clear yes ({_ANSWER_EN.get(cov.answer or '', cov.answer)}: {said_en})",
        node=node.id,
        participant="customer",
        start_s=cov.start_s,
        end_s=cov.answer_end_s or cov.end_s,
        evidence={"rule": "R11", **_answer_evidence(cov, th)},
    )


def _timed(f: Finding, cov: NodeCoverage, markers: Mapping[str, Span]) -> Finding:
    """A finding about a node that was not found gets a time: when the teleprompter showed
    the node, else the best (insufficient) match of its text, so reviewers can seek to it."""
    if f.start_s is not None:
        return f
    span = markers.get(cov.node.id)
    source = "teleprompter"
    if span is None and cov.start_s is not None:
        span, source = (cov.start_s, cov.end_s or cov.start_s), "alignment"
    if span is None and cov.slot is not None:
        span, source = (float(cov.slot["start_s"]), float(cov.slot["end_s"])), "slot"
    if span is None:
        return f
    return replace(
        f,
        start_s=round(span[0], 3),
        end_s=round(span[1], 3),
        evidence={**f.evidence, "time_from": source},
    )


def script_findings(
    coverage: Sequence[NodeCoverage], th: Thresholds, markers: Mapping[str, Span] | None = None
) -> list[Finding]:
    """consent.missing, reminder.missing, script.node_missing, script.out_of_order,
    answer.not_affirmative from the alignment of every rendered node.

    ``markers``: node id -> when the teleprompter showed it (``marker_spans``); findings on
    nodes that were not found take their time from it."""
    out: list[Finding] = []
    for cov in coverage:
        if cov.node.role == "consent":
            # A refused or unanswered consent (strong evidence) is both: no consent, and a
            # non-affirmative answer; a weak one is only the answer's review, unless it is
            # a refusal.
            found = [_consent_finding(cov, th), _answer_finding(cov, th)]
        else:
            found = [_missing_finding(cov, th) or _answer_finding(cov, th)]
        out += [_timed(f, cov, markers or {}) for f in found if f is not None]
    out += _order_findings(coverage, th)
    return out
