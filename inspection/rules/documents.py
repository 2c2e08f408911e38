"""Document findings: the ID card, the signature and the hand-copied risk sentence."""

from __future__ import annotations

from typing import Any

from rapidfuzz import fuzz

from inspection.idnumber import mask_id, normalize_id, validate_id
from inspection.page_text import locate_sentence
from inspection.report import Finding, Severity
from inspection.rules.evidence import IdCardEvidence, SignatureEvidence
from inspection.rules.thresholds import Thresholds
from inspection.text_compare import clean_text, signature_matches, signature_score


def _name_similarity(read: str, expected: str) -> float:
    a, b = clean_text(read), clean_text(expected)
    if not a or not b:
        return 0.0
    return fuzz.ratio(a, b) / 100.0


def _by_frames(severity: Severity, frames_read: int) -> Severity:
    """A document failure read from fewer than two frames is weak evidence: review."""
    return "review" if frames_read < 2 else severity


def _id_card_problems(
    ev: IdCardEvidence, customer_name: str, customer_id: str, th: Thresholds
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """What the card read disagrees on (Chinese and English message per problem: an invalid
    or different ID number, a different name), and the name's similarity score."""
    problems: list[tuple[str, str]] = []
    scores: dict[str, Any] = {}
    if ev.id_number:
        if not ev.id_valid:
            reason = validate_id(ev.id_number).reason or "invalid"
            problems.append(
                (
                    f"身份证号码 {mask_id(ev.id_number)} 校验不通过（{reason}）",
                    f"ID number {mask_id(ev.id_number)} fails the check ({reason})",
                )
            )
        elif normalize_id(ev.id_number) != normalize_id(customer_id):
            problems.append(
                (
                    f"身份证号码 {mask_id(ev.id_number)} 与投保信息 {mask_id(customer_id)} 不一致",
                    f"ID number {mask_id(ev.id_number)} differs from the application's {mask_id(customer_id)}",
                )
            )
    if ev.name:
        sim = _name_similarity(ev.name, customer_name)
        scores["name_similarity"] = round(sim, 3)
        if sim < th.id_name_similarity and not ev.name_shown:
            problems.append(
                (
                    f"姓名「{ev.name}」与投保人「{customer_name}」不一致",
                    f"The name 「{ev.name}」 differs from the applicant 「{customer_name}」",
                )
            )
    return problems, scores


def id_card_findings(
    ev: IdCardEvidence | None, customer_name: str, customer_id: str, th: Thresholds
) -> list[Finding]:
    """document.id_card_missing / document.id_card_mismatch for the ID-card node."""
    if ev is None:
        return []
    base: dict[str, Any] = {
        "rule": "R5, R13",
        "window_s": [round(ev.window[0], 3), round(ev.window[1], 3)],
        "frames_read": ev.frames_read,
        "frame_t_s": ev.t_s,
    }
    common: dict[str, Any] = {
        "node": ev.node_id,
        "participant": "customer",
        "start_s": ev.window[0],
        "end_s": ev.window[1],
    }
    if not ev.name and not ev.id_number:
        # Something card-like was seen (its photo, or text that is not a card's fields): the
        # card may be there but unreadable (angle, glare, blur), which a reviewer can judge.
        seen = ev.card_seen or bool(clean_text(ev.text))
        return [
            Finding(
                code="document.id_card_missing",
                severity=_by_frames("review" if seen else "fail", ev.frames_read),
                message="未识别到清晰可辨的身份证件（未读出姓名和身份证号码）",
                message_en="No legible ID card was seen (neither name nor ID number could be read)",
                evidence={**base, "ocr_text": ev.text[:200]},
                **common,
            )
        ]
    problems, scores = _id_card_problems(ev, customer_name, customer_id, th)
    evidence = {
        **base,
        "read": {"name": ev.name, "id_number": mask_id(ev.id_number) if ev.id_number else None},
        "expected": {"name": customer_name, "id_number": mask_id(customer_id)},
        "id_valid": ev.id_valid,
        "scores": scores,
        "threshold": {"id_name_similarity": th.id_name_similarity},
    }
    if problems:
        return [
            Finding(
                code="document.id_card_mismatch",
                severity=_by_frames("fail", ev.frames_read),
                message="；".join(p[0] for p in problems),
                message_en="; ".join(p[1] for p in problems),
                evidence=evidence,
                **common,
            )
        ]
    if not ev.id_number:
        return [
            Finding(
                code="document.id_card_missing",
                severity="review",
                message="身份证号码无法识别，请人工核对证件",
                message_en="The ID number could not be read; check the card by hand",
                evidence=evidence,
                **common,
            )
        ]
    return []


def _signature_ok(read: str, name: str, th: Thresholds) -> tuple[bool, float]:
    score = signature_score(read, name)
    return signature_matches(read, name) or score >= th.signature_similarity, score


def signature_findings(
    ev: SignatureEvidence | None, customer_name: str, risk_sentence: str | None, th: Thresholds
) -> list[Finding]:
    """document.signature_* and document.risk_sentence_* for the signature node."""
    if ev is None:
        return []
    common: dict[str, Any] = {
        "node": ev.node_id,
        "participant": "customer",
        "start_s": ev.window[0],
        "end_s": ev.window[1],
    }
    base: dict[str, Any] = {
        "rule": "R13",
        "window_s": [round(ev.window[0], 3), round(ev.window[1], 3)],
        "frames_read": ev.frames_read,
        "frame_t_s": ev.t_s,
    }
    out: list[Finding] = []
    # The signature: the text after the 签名 label if there is one, else anywhere on the page.
    signed = ev.signed_name if ev.signed_name is not None else ev.all_text
    ok, score = _signature_ok(signed, customer_name, th)
    sig_ev = {
        **base,
        "read": signed[:60],
        "expected": customer_name,
        "scores": {"similarity": round(score, 3)},
        "threshold": {"signature_similarity": th.signature_similarity},
    }
    if not ok:
        if ev.signed_name is not None and clean_text(ev.signed_name):
            out.append(
                Finding(
                    code="document.signature_mismatch",
                    severity=_by_frames("fail", ev.frames_read),
                    message=f"签名「{clean_text(ev.signed_name)}」与投保人姓名「{customer_name}」不一致",
                    message_en=f"The signature 「{clean_text(ev.signed_name)}」 differs from the applicant's name 「{customer_name}」",
                    evidence=sig_ev,
                    **common,
                )
            )
        else:
            out.append(
                Finding(
                    code="document.signature_missing",
                    severity=_by_frames("fail", ev.frames_read),
                    message="未识别到客户的亲笔签名",
                    message_en="No handwritten signature of the customer was found",
                    evidence=sig_ev,
                    **common,
                )
            )
    if risk_sentence:
        out += _risk_sentence_findings(ev, risk_sentence, base, common, th)
    return out


def _risk_sentence_findings(
    ev: SignatureEvidence,
    risk_sentence: str,
    base: dict[str, Any],
    common: dict[str, Any],
    th: Thresholds,
) -> list[Finding]:
    """The sentence is located on the page (best-matching stretch, across lines) and only
    that stretch is compared, so printed headings and instructions around it do not count."""
    lines = ev.lines or ((ev.page_text,) if ev.page_text else ())
    span = locate_sentence(lines, risk_sentence)
    # Line indices count the page lines kept as possible handwriting (``ev.lines``).
    where: dict[str, Any] = {"lines": list(span.lines), "line_text": [lines[i] for i in span.lines]}
    if ev.line_bounds:
        where["boxes"] = [list(ev.line_bounds[i]) for i in span.lines]
    rs_ev = {
        **base,
        "read": span.text[:120],
        "page_text": clean_text(ev.page_text)[:200],
        "location": where,
        "expected": risk_sentence,
        "scores": {"similarity": round(span.similarity, 3), "matched_chars": span.matched_chars},
        "threshold": {
            "risk_sentence_similarity": th.risk_sentence_similarity,
            "risk_sentence_min_chars": th.risk_sentence_min_chars,
        },
    }
    if span.matched_chars < th.risk_sentence_min_chars:
        return [
            Finding(
                code="document.risk_sentence_missing",
                severity=_by_frames("fail", ev.frames_read),
                message="未识别到客户抄录的风险提示语句",
                message_en="The customer's hand-copied risk sentence was not found",
                evidence=rs_ev,
                **common,
            )
        ]
    if span.similarity < th.risk_sentence_similarity:
        return [
            Finding(
                code="document.risk_sentence_mismatch",
                severity=_by_frames("fail", ev.frames_read),
                message=f"抄录的风险提示语句与要求不一致（相似度 {span.similarity:.2f}，要求 ≥ {th.risk_sentence_similarity:g}）：「{span.text[:60]}」",
                message_en=f"The hand-copied risk sentence differs from the required one (similarity {span.similarity:.2f}, required ≥ {th.risk_sentence_similarity:g}): 「{span.text[:60]}」",
                evidence=rs_ev,
                **common,
            )
        ]
    return []
