"""Script findings: consent, reminder, nodes, order, answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inspection.report import Finding
from inspection.rules.common import PARTICIPANT_CN, ev_line, is_covered, min_similarity, r3
from inspection.rules.evidence import NodeCoverage
from inspection.rules.thresholds import Thresholds


def _coverage_evidence(cov: NodeCoverage, need: float, rule: str) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "rule": rule,
        "expected_text": cov.node.text,
        "scores": {"similarity": r3(cov.score)},
        "threshold": {"min_similarity": need},
    }
    if cov.start_s is not None:
        ev["transcript"] = [ev_line(cov.node.speaker, cov.start_s, cov.end_s, cov.excerpt)]
    return ev


def _answer_evidence(cov: NodeCoverage, th: Thresholds) -> dict[str, Any]:
    return {
        "question": ev_line(cov.node.speaker, cov.start_s, cov.end_s, cov.excerpt),
        "answer": cov.answer,
        "transcript": [ev_line("customer", cov.answer_start_s, cov.answer_end_s, cov.answer_text)]
        if cov.answer_text
        else [],
        "expected_answer": cov.node.expected_answer,
        "threshold": {"answer_window_s": th.answer_window_s},
    }


_ANSWER_CN = {"negative": "否定", "unsure": "不确定", "missing": "无回答"}


def _consent_finding(cov: NodeCoverage, th: Thresholds) -> Finding | None:
    need = min_similarity(cov.node, th)
    if not is_covered(cov, th):
        return Finding(
            code="consent.missing",
            severity="fail",
            message="未检测到征求客户录音录像同意的询问及客户的同意",
            node=cov.node.id,
            participant="customer",
            evidence=_coverage_evidence(cov, need, "R2"),
        )
    if cov.answer == "affirmative":
        return None
    ev = _coverage_evidence(cov, need, "R2") | _answer_evidence(cov, th)
    ev["rule"] = "R2"
    said = f"：「{cov.answer_text}」" if cov.answer_text else ""
    return Finding(
        code="consent.missing",
        severity="fail",
        message=f"客户未明确同意录音录像（{_ANSWER_CN.get(cov.answer or '', '无回答')}{said}）",
        node=cov.node.id,
        participant="customer",
        start_s=cov.start_s,
        end_s=cov.answer_end_s or cov.end_s,
        evidence=ev,
    )


def _missing_finding(cov: NodeCoverage, th: Thresholds) -> Finding | None:
    need = min_similarity(cov.node, th)
    if is_covered(cov, th) or not cov.node.required:
        return None
    if cov.node.role == "reminder":
        return Finding(
            code="reminder.missing",
            severity="fail",
            message=f"未完整宣读录音录像提示语（相似度 {cov.score:.2f}，要求 ≥ {need:.2f}）",
            node=cov.node.id,
            participant="salesperson",
            start_s=cov.start_s,
            end_s=cov.end_s,
            evidence=_coverage_evidence(cov, need, "R3"),
        )
    who = PARTICIPANT_CN[cov.node.speaker]
    return Finding(
        code="script.node_missing",
        severity="fail",
        message=f"{who}未讲解话术节点「{cov.node.title}」（相似度 {cov.score:.2f}，要求 ≥ {need:.2f}）",
        node=cov.node.id,
        participant=cov.node.speaker,
        evidence=_coverage_evidence(cov, need, "R5, R7-R10"),
    )


def _order_findings(coverage: Sequence[NodeCoverage], th: Thresholds) -> list[Finding]:
    covered = [c for c in coverage if is_covered(c, th)]
    others = [c for c in covered if not c.node.order_critical and c.start_s is not None]
    if not others:
        return []
    first = min(others, key=lambda c: c.start_s or 0.0)
    out = []
    for c in covered:
        if not c.node.order_critical or c.start_s is None or first.start_s is None:
            continue
        if c.start_s > first.start_s:
            out.append(
                Finding(
                    code="script.out_of_order",
                    severity="fail",
                    message=f"「{c.node.title}」应在其他内容之前完成，实际在「{first.node.title}」之后",
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
                        "scores": {"similarity": r3(c.score)},
                    },
                )
            )
    return out


def _answer_finding(cov: NodeCoverage, th: Thresholds) -> Finding | None:
    node = cov.node
    if not node.requires_answer or not is_covered(cov, th):
        return None
    if cov.answer in ("affirmative", None):
        return None
    said = f"「{cov.answer_text}」" if cov.answer_text else f"{th.answer_window_s:g} 秒内无回答"
    return Finding(
        code="answer.not_affirmative",
        severity="fail",
        message=f"客户对「{node.title}」的回答不是明确肯定（{_ANSWER_CN.get(cov.answer, cov.answer)}：{said}）",
        node=node.id,
        participant="customer",
        start_s=cov.start_s,
        end_s=cov.answer_end_s or cov.end_s,
        evidence={"rule": "R11", **_answer_evidence(cov, th)},
    )


def script_findings(coverage: Sequence[NodeCoverage], th: Thresholds) -> list[Finding]:
    """consent.missing, reminder.missing, script.node_missing, script.out_of_order,
    answer.not_affirmative from the alignment of every rendered node."""
    out: list[Finding] = []
    for cov in coverage:
        if cov.node.role == "consent":
            # A refused or unanswered consent is both: no consent, and a non-affirmative answer.
            found = [_consent_finding(cov, th), _answer_finding(cov, th)]
        else:
            found = [_missing_finding(cov, th) or _answer_finding(cov, th)]
        out += [f for f in found if f is not None]
    out += _order_findings(coverage, th)
    return out
