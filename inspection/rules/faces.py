"""Face findings: absence, extra persons, identity."""

from __future__ import annotations

from collections.abc import Sequence

from inspection.report import Finding, Participant, Severity
from inspection.rules.common import PARTICIPANT_CN, PARTICIPANT_EN, r3, subtract
from inspection.rules.evidence import FaceMatch, FrameFaces, Span
from inspection.rules.thresholds import Thresholds


def _counted(frame: FrameFaces, th: Thresholds) -> int:
    return sum(
        1
        for size, score in zip(frame.sizes, frame.scores, strict=True)
        if size >= th.face_min_size_px and score >= th.face_min_score
    )


def absence_spans(
    frames: Sequence[FrameFaces], period_s: float, start_s: float, end_s: float, th: Thresholds
) -> list[Span]:
    """Merged spans of ``[start_s, end_s]`` with no counted face (no frames at all = absent)."""
    spans: list[Span] = []
    cursor = start_s
    for f in sorted(frames, key=lambda f: f.t_s):
        if f.t_s < start_s or f.t_s >= end_s:
            continue
        if f.t_s - cursor > period_s / 2:
            spans.append((cursor, f.t_s))
        if _counted(f, th) == 0:
            spans.append((f.t_s, min(f.t_s + period_s, end_s)))
        cursor = f.t_s + period_s
    if end_s - cursor > period_s / 2:
        spans.append((cursor, end_s))
    merged: list[Span] = []
    for s0, s1 in sorted(spans):
        if merged and s0 <= merged[-1][1] + 1e-6:
            merged[-1] = (merged[-1][0], max(merged[-1][1], s1))
        else:
            merged.append((s0, s1))
    return merged


def face_absence_findings(
    participant: Participant,
    frames: Sequence[FrameFaces],
    period_s: float,
    session: Span,
    excluded: Sequence[Span],
    th: Thresholds,
    present: Sequence[Span] | None = None,
    unplaced_documents: Sequence[str] = (),
) -> list[Finding]:
    """face.absent for each span longer than ``face_absent_max_s`` with no face, outside
    ``excluded`` (recorded gaps, document windows) and, when ``present`` is given, only
    while the participant was in the session (from their join to their leave).

    ``fail`` only on strong evidence (``absence_severity``); ``unplaced_documents``: the
    documents this participant must hold up whose window nothing placed (speech missed
    their node and no teleprompter marker shows it), so an absence may be the document
    held before the face."""
    out = []
    away = subtract([session], present) if present is not None else []
    spans = subtract(
        absence_spans(frames, period_s, session[0], session[1], th), [*excluded, *away]
    )
    for s0, s1 in spans:
        if s1 - s0 <= th.face_absent_max_s:
            continue
        inside = [f for f in frames if s0 <= f.t_s < s1]
        severity, why = absence_severity(s1 - s0, len(inside), period_s, unplaced_documents, th)
        evidence: dict[str, object] = {
            "rule": "R12",
            "absent_s": round(s1 - s0, 3),
            "frames_sampled": len(inside),
            "frame_t_s": inside[len(inside) // 2].t_s if inside else None,
            "threshold": {
                "face_absent_max_s": th.face_absent_max_s,
                "face_min_size_px": th.face_min_size_px,
                "sample_period_s": round(period_s, 3),
            },
        }
        if why is not None:
            evidence["review_because"] = why
        if unplaced_documents:
            evidence["unplaced_documents"] = list(unplaced_documents)
        out.append(
            Finding(
                code="face.absent",
                severity=severity,
                message=f"{PARTICIPANT_CN[participant]}离开画面 {s1 - s0:.1f} 秒（{s0:.1f}–{s1:.1f} 秒），超过允许的 {th.face_absent_max_s:g} 秒",
                message_en=f"{PARTICIPANT_EN[participant]} was out of the picture for {s1 - s0:.1f} s ({s0:.1f}–{s1:.1f} s), more than the {th.face_absent_max_s:g} s allowed",
                participant=participant,
                start_s=round(s0, 3),
                end_s=round(s1, 3),
                evidence=evidence,
            )
        )
    return out


def absence_severity(
    absent_s: float,
    frames_inside: int,
    period_s: float,
    unplaced_documents: Sequence[str],
    th: Thresholds,
) -> tuple[Severity, str | None]:
    """``fail`` for an absence clearly longer than allowed, seen on sampled frames or as no
    frames at all (the picture stopped); else ``review`` and why:

    - ``near_threshold``: at most two sample periods over ``face_absent_max_s``. Each end of
      a span is only known to a sample period (1 s at ``face_fps`` 1), so such an absence
      may be within the limit;
    - ``document_window_unknown``: a document the participant must hold up has no window,
      so the frames without a face may be that document held before it (a form or card
      covers a face at arm's length). Not when there are no frames: a document held up
      does not stop the picture."""
    if absent_s <= th.face_absent_max_s + 2 * period_s:
        return "review", "near_threshold"
    if frames_inside == 0:
        return "fail", None
    if unplaced_documents:
        return "review", "document_window_unknown"
    return "fail", None


def _in_any(t: float, spans: Sequence[Span]) -> bool:
    return any(a <= t <= b for a, b in spans)


def extra_person_findings(
    participant: Participant,
    frames: Sequence[FrameFaces],
    period_s: float,
    excluded: Sequence[Span],
    th: Thresholds,
) -> list[Finding]:
    """face.extra_person for each run of frames with 2+ counted faces lasting
    ``extra_person_min_s``, outside ``excluded`` (ID card shown: its photo is a face)."""
    runs: list[list[FrameFaces]] = []
    prev_t: float | None = None
    for f in sorted(frames, key=lambda f: f.t_s):
        many = _counted(f, th) >= 2 and not _in_any(f.t_s, excluded)
        if not many:
            prev_t = None
            continue
        if prev_t is not None and f.t_s - prev_t <= period_s * 1.5:
            runs[-1].append(f)
        else:
            runs.append([f])
        prev_t = f.t_s
    out = []
    for run in runs:
        s0, s1 = run[0].t_s, run[-1].t_s + period_s
        if s1 - s0 < th.extra_person_min_s:
            continue
        n = max(_counted(f, th) for f in run)
        peak = max(run, key=lambda f: _counted(f, th))
        out.append(
            Finding(
                code="face.extra_person",
                severity="review",
                message=f"{PARTICIPANT_CN[participant]}画面中出现 {n} 张人脸，持续 {s1 - s0:.1f} 秒（{s0:.1f}–{s1:.1f} 秒）",
                message_en=f"{n} faces in {PARTICIPANT_EN[participant].replace('The ', 'the ')}'s picture for {s1 - s0:.1f} s ({s0:.1f}–{s1:.1f} s)",
                participant=participant,
                start_s=round(s0, 3),
                end_s=round(s1, 3),
                evidence={
                    "rule": "R12, R18",
                    "max_faces": n,
                    "face_sizes_px": [round(s, 1) for s in peak.sizes],
                    "frame_t_s": peak.t_s,
                    "threshold": {
                        "extra_person_min_s": th.extra_person_min_s,
                        "face_min_size_px": th.face_min_size_px,
                    },
                },
            )
        )
    return out


def identity_severity(m: FaceMatch, th: Thresholds) -> Severity | None:
    """None when ``m`` matches (cosine >= ``face_match_cosine``); ``fail`` only on clear
    evidence: below ``face_fail_cosine`` and, for an ID-card photo, on at least
    ``face_fail_min_frames`` card frames (their best one); ``review`` otherwise. The card photo
    is ~50 px, tilted, blurred or under glare: same-person and different-person cosines
    overlap between the two thresholds (docs/inspection.md)."""
    if m.cosine >= th.face_match_cosine:
        return None
    enough = m.reference != "id_card" or len(m.frames) >= th.face_fail_min_frames
    return "fail" if m.cosine < th.face_fail_cosine and enough else "review"


def identity_findings(matches: Sequence[FaceMatch], th: Thresholds) -> list[Finding]:
    """face.identity_mismatch when a live face is too far from its reference."""
    out = []
    for m in matches:
        severity = identity_severity(m, th)
        if severity is None:
            continue
        ref = "身份证照片" if m.reference == "id_card" else "预留照片"
        ref_en = "ID card photo" if m.reference == "id_card" else "reference photo"
        evidence: dict[str, object] = {
            "rule": "R5, R12",
            "reference": m.reference,
            "scores": {"cosine": r3(m.cosine)},
            "threshold": {
                "face_match_cosine": th.face_match_cosine,
                "face_fail_cosine": th.face_fail_cosine,
                "face_fail_min_frames": th.face_fail_min_frames,
            },
            "frame_t_s": m.t_s,
        }
        if m.frames:
            evidence["card_frames"] = [
                {"t_s": t, "face_px": size, "cosine": r3(c)} for t, size, c in m.frames
            ]
        if m.live_t_s:
            evidence["live_frames_t_s"] = list(m.live_t_s)
        out.append(
            Finding(
                code="face.identity_mismatch",
                severity=severity,
                message=f"{PARTICIPANT_CN[m.participant]}本人与{ref}不一致（相似度 {m.cosine:.2f}，要求 ≥ {th.face_match_cosine:g}）",
                message_en=f"{PARTICIPANT_EN[m.participant]} does not match the {ref_en} (similarity {m.cosine:.2f}, required ≥ {th.face_match_cosine:g})",
                participant=m.participant,
                start_s=m.t_s,
                end_s=m.t_s,
                evidence=evidence,
            )
        )
    return out
