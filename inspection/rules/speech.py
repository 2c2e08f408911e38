"""Speech findings: forbidden phrases, spoken numbers, recognition confidence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inspection.report import Finding, Participant, Severity, TranscriptLine
from inspection.rules.common import PARTICIPANT_CN, PARTICIPANT_EN, ev_line, r3
from inspection.rules.evidence import NumberCheck, PhraseHit
from inspection.rules.thresholds import Thresholds


def forbidden_findings(hits: Sequence[PhraseHit], th: Thresholds) -> list[Finding]:
    """speech.forbidden_phrase for each hit (exact: fail; fuzzy: review)."""
    out = []
    for hit in hits:
        exact = hit.score >= 0.999
        # A sound-alike hit, or one syllable misheard inside a phrase of 4+ characters (稳定不赔
        # for 稳赚不赔, similarity 0.75), has its own guards (inspection.forbidden) and is
        # review only: dropped below forbidden_similarity, the promise was shown to no one.
        if hit.score < th.forbidden_similarity and hit.how not in ("sound", "inside"):
            continue
        if th.forbidden_similarity >= 1.0 and not exact:
            continue  # exact matches only, as the setting says
        sure = hit.confidence is None or hit.confidence >= th.forbidden_min_confidence
        out.append(
            Finding(
                code="speech.forbidden_phrase",
                severity="fail" if exact and sure else "review",
                message=f"{PARTICIPANT_CN[hit.participant]}使用了禁止用语「{hit.phrase}」：{hit.excerpt}",
                message_en=f"{PARTICIPANT_EN[hit.participant]} used the forbidden phrase 「{hit.phrase}」: {hit.excerpt}",
                participant=hit.participant,
                start_s=hit.start_s,
                end_s=hit.end_s,
                evidence={
                    "rule": "R15",
                    "phrase": hit.phrase,
                    "transcript": [ev_line(hit.participant, hit.start_s, hit.end_s, hit.excerpt)],
                    "scores": {"similarity": r3(hit.score), "confidence": r3(hit.confidence)},
                    "threshold": {
                        "forbidden_similarity": th.forbidden_similarity,
                        "forbidden_min_confidence": th.forbidden_min_confidence,
                    },
                },
            )
        )
    return out


_FIELD_CN = {
    "premium": "保费",
    "payment_years": "交费年限",
    "payment_period": "交费期间",
    "insurance_years": "保险期间",
    "insurance_period": "保险期间",
    "cooling_off_days": "犹豫期天数",
}


_FIELD_EN = {
    "premium": "premium",
    "payment_years": "payment years",
    "payment_period": "payment period",
    "insurance_years": "insurance period",
    "insurance_period": "insurance period",
    "cooling_off_days": "cooling-off period (days)",
}


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def number_findings(checks: Sequence[NumberCheck], th: Thresholds | None = None) -> list[Finding]:
    """speech.number_mismatch for each spoken number that differs from the policy value in
    every plausible reading; review when the number was recognised with low confidence."""
    th = th or Thresholds()
    out = []
    for c in checks:
        if c.spoken is None and c.matches is False:
            out.append(_unheard_number(c))
            continue
        if not c.mismatch() or c.spoken is None:
            continue
        label = _FIELD_CN.get(c.field, c.field)
        expected = "终身" if c.expected is None else _fmt_num(c.expected)
        weak = c.confidence is not None and c.confidence < th.number_min_confidence
        weak = weak or bool(c.doubt)
        field_en = _FIELD_EN.get(c.field, c.field)
        policy_en = "lifetime" if c.expected is None else expected
        message = f"讲解的{label}为 {_fmt_num(c.spoken)}，与保单数据 {expected} 不一致"
        message_en = (
            f"The {field_en} stated was {_fmt_num(c.spoken)}, but the policy says {policy_en}"
        )
        if c.garbled:
            message = f"讲解的{label}识别为“{c.garbled}”，不是完整的数字，无法确认与保单数据 {expected} 一致"
            message_en = f"The {field_en} stated was recognised as “{c.garbled}”, which is no number; it could not be confirmed as the policy's {policy_en}"
        out.append(
            _number_finding(
                c,
                "review" if weak else "fail",
                message,
                message_en,
                {
                    "spoken": c.spoken,
                    "readings": list(c.readings),
                    "reading": c.reading,
                    "product": c.product,
                    "doubt": c.doubt or None,
                    "garbled": c.garbled or None,
                    "scores": {"confidence": r3(c.confidence)},
                    "threshold": {
                        "number_min_confidence": th.number_min_confidence,
                        "number_sure_confidence": th.number_sure_confidence,
                    },
                },
            )
        )
    return out


def _unheard_number(c: NumberCheck) -> Finding:
    """A number the node states that was never heard (inspection.number_unheard): it cannot be
    compared, so a reviewer listens; never a fail (the recogniser may have lost it)."""
    label = _FIELD_CN.get(c.field, c.field)
    field_en = _FIELD_EN.get(c.field, c.field)
    expected = "" if c.expected is None else _fmt_num(c.expected)
    return _number_finding(
        c,
        "review",
        f"讲解中未识别到{label}，无法确认与保单数据 {expected} 一致",
        f"No {field_en} was recognised where it is explained; it could not be confirmed "
        f"as the policy's {expected}",
        {"spoken": None, "reason": "not_heard"},
    )


def _number_finding(
    c: NumberCheck, severity: Severity, message: str, message_en: str, evidence: dict[str, Any]
) -> Finding:
    """A speech.number_mismatch on ``c``, with ``evidence`` besides the rule, field, policy
    value and transcript line every such finding carries."""
    return Finding(
        code="speech.number_mismatch",
        severity=severity,
        message=message,
        message_en=message_en,
        node=c.node_id,
        participant="salesperson",
        start_s=c.start_s,
        end_s=c.end_s,
        evidence={
            "rule": "R7, R9",
            "field": c.field,
            "expected": c.expected,
            **evidence,
            "transcript": [ev_line("salesperson", c.start_s, c.end_s, c.excerpt)],
        },
    )


def asr_findings(
    participant: Participant,
    lines: Sequence[TranscriptLine],
    th: Thresholds,
    snr_db: float | None = None,
) -> list[Finding]:
    """media.quality when too much of a participant's speech was recognised with low confidence.

    ``TranscriptLine.confidence`` is the mean Whisper word probability (0-1). With the
    participant's measured ``snr_db`` at or above ``asr_unclear_max_snr_db`` nothing is
    reported: Whisper base turns babble into low-confidence words and is unsure of short
    answers in rooms whose audio is fine, which is not a defect of the recording.
    """
    if snr_db is not None and snr_db >= th.asr_unclear_max_snr_db:
        return []
    scored = [t for t in lines if t.participant == participant and t.confidence is not None]
    total = sum(t.end_s - t.start_s for t in scored)
    if total <= 0 or total < th.asr_min_speech_s:
        return []
    low = [t for t in scored if (t.confidence or 0.0) < th.asr_low_confidence]
    share = sum(t.end_s - t.start_s for t in low) / total
    if share <= th.asr_low_share:
        return []
    return [
        Finding(
            code="media.quality",
            severity="review",
            message=f"{PARTICIPANT_CN[participant]}语音不清晰，{share:.0%} 的讲话识别置信度低",
            message_en=f"{PARTICIPANT_EN[participant]}'s speech is unclear: {share:.0%} of it was recognised with low confidence",
            participant=participant,
            start_s=round(low[0].start_s, 3),
            end_s=round(low[-1].end_s, 3),
            evidence={
                "rule": "R14",
                "kind": "speech",
                "scores": {"low_share": round(share, 3), "snr_db": r3(snr_db)},
                "threshold": {
                    "asr_unclear_max_snr_db": th.asr_unclear_max_snr_db,
                    "asr_low_confidence": th.asr_low_confidence,
                    "asr_low_share": th.asr_low_share,
                    "asr_min_speech_s": th.asr_min_speech_s,
                },
                "transcript": [ev_line(t.participant, t.start_s, t.end_s, t.text) for t in low[:5]],
            },
        )
    ]
