"""Evidence to findings: the thresholds of the inspection and pure functions that turn stage
outputs (alignment, answers, faces, OCR, media levels, gaps) into :class:`Finding` records.

Every function here is pure: no models, no files. Evidence dicts follow one shape:
``rule`` (R-number), ``threshold`` (the settings used), ``scores``, ``transcript`` (excerpts
with times), ``frame_t_s`` (a frame the pipeline turns into a saved thumbnail, ``frame``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from rapidfuzz import fuzz

from inspection.idnumber import mask_id, normalize_id, validate_id
from inspection.ocr import clean_text, sentence_similarity, signature_matches, signature_score
from inspection.report import Finding, Participant, TranscriptLine
from inspection.templates import RenderedNode

Span = tuple[float, float]

PARTICIPANT_CN = {"salesperson": "销售人员", "customer": "客户"}


def _h(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Thresholds:
    """Every tunable number of the inspection, with its default and what it means."""

    # Speech and script
    node_similarity: float = _h(
        0.6,
        "Minimum character+pinyin similarity (0-1) between a template node and the best-matching transcript window for the node to count as spoken; a node's min_similarity overrides it.",
    )
    reminder_similarity: float = _h(
        0.75,
        "Minimum similarity (0-1) for the fixed recording reminder (R3, the node with role: reminder) to count as read.",
    )
    answer_window_s: float = _h(
        15.0,
        "Seconds after the end of a question in which the customer's answer is looked for; no answer in this window is a missing answer (silence is not consent).",
    )
    forbidden_similarity: float = _h(
        0.9,
        "Minimum fuzzy (character+pinyin) similarity for a spoken stretch to count as a forbidden phrase; 1.0 means exact matches only.",
    )
    asr_low_confidence: float = _h(
        0.5,
        "Utterances whose mean Whisper word probability (0-1) is below this are low-confidence.",
    )
    asr_min_speech_s: float = _h(
        10.0,
        "Speech recognition confidence is judged only for participants with at least this much recognised speech (s); a few short answers are too little to judge.",
    )
    asr_low_share: float = _h(
        0.5,
        "media.quality when more than this share (0-1) of a participant's speech time is low-confidence.",
    )
    # Faces
    face_fps: float = _h(
        1.0,
        "Frames per second sampled from each video for faces, image quality and document OCR (face detection is most of the video stage's cost).",
    )
    face_absent_max_s: float = _h(
        5.0,
        "Longest allowed time (s) a participant's face may be missing from their own picture (R12); recorded gaps and document-showing windows are excluded.",
    )
    face_min_size_px: float = _h(
        48.0,
        "Faces smaller than this (px, shorter box side) do not count as present or as an extra person (e.g. the photo on an ID card held up).",
    )
    face_min_score: float = _h(0.6, "Minimum YuNet detection score for a face to count.")
    extra_person_min_s: float = _h(
        2.0,
        "An extra face must be seen for at least this long (s) in one picture to be reported (R12, R18).",
    )
    face_match_cosine: float = _h(
        0.363,
        "Minimum SFace cosine similarity between the live face and the ID-card photo or a reference photo (OpenCV's suggested 0.363).",
    )
    card_face_max_ratio: float = _h(
        0.7,
        "During the ID-card node, a face smaller than this share of the live face's size is taken as the card's photo.",
    )
    # Documents
    document_pad_s: float = _h(
        5.0,
        "Seconds added after a document node's spoken end when looking for the document on video (the customer holds it up after being asked).",
    )
    ocr_frames: int = _h(3, "Sharpest frames per document window that are OCR'd.")
    id_name_similarity: float = _h(
        0.85,
        "Minimum similarity (0-1) between the name read from the ID card and the policy's customer name.",
    )
    signature_similarity: float = _h(
        0.75,
        "Minimum similarity (0-1) between the signed name read by OCR and the customer's name (names of 3+ characters also pass with one misread character).",
    )
    risk_sentence_similarity: float = _h(
        0.85,
        "Minimum similarity (0-1) between the hand-copied risk sentence read by OCR and the template's risk_sentence (R13).",
    )
    risk_sentence_min_chars: int = _h(
        8,
        "Fewer handwritten characters than this on the signature page means the risk sentence was not shown at all (missing rather than mismatch).",
    )
    # Media quality
    audio_silence_dbfs: float = _h(
        -50.0, "Audio windows (0.5 s) quieter than this (dBFS) are silence."
    )
    audio_quiet_dbfs: float = _h(
        -38.0,
        "media.quality when a participant's median speech level is below this (dBFS): too quiet to be clearly identifiable (R14).",
    )
    audio_clipped_share: float = _h(
        0.01, "media.quality when more than this share (0-1) of samples is clipped."
    )
    dark_luma: float = _h(40.0, "Frames whose mean luma (0-255) is below this are dark.")
    blur_laplacian: float = _h(
        25.0, "Frames whose variance of the Laplacian (at 640 px width) is below this are blurred."
    )
    bad_frames_share: float = _h(
        0.3,
        "media.quality when more than this share (0-1) of a participant's sampled frames is dark, or blurred.",
    )
    # Continuity
    max_gap_s: float = _h(
        2.0,
        "Recording interruptions (gaps between a participant's segments) longer than this (s) are reported as media.gap (R16).",
    )

    @classmethod
    def help(cls) -> dict[str, str]:
        """Name -> help text of every threshold."""
        return {f.name: f.metadata["help"] for f in fields(cls)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Thresholds:
        """Build from a mapping, rejecting unknown names."""
        default = cls()
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"unknown threshold(s): {', '.join(unknown)}")
        return replace(default, **{k: type(getattr(default, k))(v) for k, v in data.items()})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ---------------------------------------------------------------------------------------------
# Stage outputs as the rules see them (the pipeline adapts each stage's records to these)


@dataclass(frozen=True)
class NodeCoverage:
    """Where and how well one rendered node was found in its speaker's transcript."""

    node: RenderedNode
    score: float  # best similarity 0..1
    start_s: float | None = None
    end_s: float | None = None
    excerpt: str = ""  # the matched transcript text
    answer: str | None = (
        None  # "affirmative" | "negative" | "unsure" | "missing" (requires_answer only)
    )
    answer_text: str = ""
    answer_start_s: float | None = None
    answer_end_s: float | None = None


@dataclass(frozen=True)
class PhraseHit:
    """A forbidden phrase found in a transcript."""

    phrase: str
    participant: Participant
    start_s: float
    end_s: float
    excerpt: str
    score: float = 1.0  # 1.0 = exact


@dataclass(frozen=True)
class NumberCheck:
    """A number spoken in a node compared with the policy value of one placeholder."""

    node_id: str | None
    field: str  # "premium" | "cooling_off_days" | "insurance_years" | "payment_years" | ...
    expected: float | None  # None: the policy has no number (insurance_years None = 终身)
    spoken: float | None  # None: no number of that kind heard
    start_s: float | None = None
    end_s: float | None = None
    excerpt: str = ""
    matches: bool | None = None  # decided by the script stage; None: compare here

    def mismatch(self) -> bool:
        if self.spoken is None:
            return False
        if self.matches is not None:
            return not self.matches
        tolerance = 0.5 if self.field == "premium" else 1e-6
        return self.expected is None or abs(self.spoken - self.expected) >= tolerance


@dataclass(frozen=True)
class FrameFaces:
    """Faces detected in one sampled frame of one participant's video."""

    t_s: float
    sizes: tuple[float, ...] = ()  # shorter box side in px, largest first
    scores: tuple[float, ...] = ()


@dataclass(frozen=True)
class FaceMatch:
    """The live face of a participant compared with a reference face."""

    participant: Participant
    reference: Literal["id_card", "reference_photo"]
    cosine: float
    t_s: float | None = None  # frame of the reference (ID card) or of the live face


@dataclass(frozen=True)
class IdCardEvidence:
    """What OCR read during the ID-card node (best frame first)."""

    node_id: str
    window: Span
    frames_read: int
    name: str | None = None
    id_number: str | None = None
    id_valid: bool = False
    t_s: float | None = None  # frame the reading came from
    text: str = ""
    name_shown: bool = False  # the customer's name appears in the card's text (tolerant)


@dataclass(frozen=True)
class SignatureEvidence:
    """What OCR read during the signature node, from the frame that best shows the page."""

    node_id: str
    window: Span
    frames_read: int
    signed_name: str | None = None  # text after the 签名 label, or None when no label
    page_text: str = ""  # handwritten text apart from the signature line
    all_text: str = ""
    t_s: float | None = None


@dataclass(frozen=True)
class Gap:
    participant: Participant
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class AudioLevels:
    """The subset of ``quality.AudioQuality`` the rules need, per participant."""

    participant: Participant
    speech_dbfs: float | None  # None: the whole track is silent
    clipped_share: float
    duration_s: float


@dataclass(frozen=True)
class FrameStats:
    t_s: float
    mean_luma: float
    sharpness: float


# ---------------------------------------------------------------------------------------------
# Helpers


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def _line(participant: str, start: float | None, end: float | None, text: str) -> dict[str, Any]:
    return {"participant": participant, "start_s": _r(start), "end_s": _r(end), "text": text}


def min_similarity(node: RenderedNode, th: Thresholds) -> float:
    """The similarity a node needs to count as covered."""
    if node.min_similarity is not None:
        return node.min_similarity
    return th.reminder_similarity if node.role == "reminder" else th.node_similarity


def is_covered(cov: NodeCoverage, th: Thresholds) -> bool:
    return cov.start_s is not None and cov.score >= min_similarity(cov.node, th)


def subtract(spans: Iterable[Span], remove: Iterable[Span]) -> list[Span]:
    """``spans`` minus the union of ``remove``."""
    cuts = sorted(remove)
    out: list[Span] = []
    for start, end in spans:
        pieces = [(start, end)]
        for c0, c1 in cuts:
            nxt: list[Span] = []
            for p0, p1 in pieces:
                if c1 <= p0 or c0 >= p1:
                    nxt.append((p0, p1))
                    continue
                if c0 > p0:
                    nxt.append((p0, c0))
                if c1 < p1:
                    nxt.append((c1, p1))
            pieces = nxt
        out.extend(pieces)
    return out


def excerpt_around(
    transcript: Sequence[TranscriptLine], start: float, end: float, pad_s: float = 2.0
) -> list[dict[str, Any]]:
    """Transcript lines overlapping ``[start - pad, end + pad]`` as evidence dicts."""
    return [
        _line(t.participant, t.start_s, t.end_s, t.text)
        for t in transcript
        if t.end_s >= start - pad_s and t.start_s <= end + pad_s
    ]


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Fail before review, then by time, then by code."""
    return sorted(
        findings,
        key=lambda f: (f.severity != "fail", f.start_s if f.start_s is not None else -1.0, f.code),
    )


# ---------------------------------------------------------------------------------------------
# Script: consent, reminder, nodes, order, answers


def _coverage_evidence(cov: NodeCoverage, need: float, rule: str) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "rule": rule,
        "expected_text": cov.node.text,
        "scores": {"similarity": _r(cov.score)},
        "threshold": {"min_similarity": need},
    }
    if cov.start_s is not None:
        ev["transcript"] = [_line(cov.node.speaker, cov.start_s, cov.end_s, cov.excerpt)]
    return ev


def _answer_evidence(cov: NodeCoverage, th: Thresholds) -> dict[str, Any]:
    return {
        "question": _line(cov.node.speaker, cov.start_s, cov.end_s, cov.excerpt),
        "answer": cov.answer,
        "transcript": [_line("customer", cov.answer_start_s, cov.answer_end_s, cov.answer_text)]
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
                            _line(first.node.speaker, first.start_s, first.end_s, first.excerpt),
                            _line(c.node.speaker, c.start_s, c.end_s, c.excerpt),
                        ],
                        "earlier_node": first.node.id,
                        "scores": {"similarity": _r(c.score)},
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


def forbidden_findings(hits: Sequence[PhraseHit], th: Thresholds) -> list[Finding]:
    """speech.forbidden_phrase for each hit (exact: fail; fuzzy: review)."""
    out = []
    for hit in hits:
        if hit.score < th.forbidden_similarity:
            continue
        exact = hit.score >= 0.999
        out.append(
            Finding(
                code="speech.forbidden_phrase",
                severity="fail" if exact else "review",
                message=f"{PARTICIPANT_CN[hit.participant]}使用了禁止用语「{hit.phrase}」：{hit.excerpt}",
                participant=hit.participant,
                start_s=hit.start_s,
                end_s=hit.end_s,
                evidence={
                    "rule": "R15",
                    "phrase": hit.phrase,
                    "transcript": [_line(hit.participant, hit.start_s, hit.end_s, hit.excerpt)],
                    "scores": {"similarity": _r(hit.score)},
                    "threshold": {"forbidden_similarity": th.forbidden_similarity},
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


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def number_findings(checks: Sequence[NumberCheck]) -> list[Finding]:
    """speech.number_mismatch for each spoken number that differs from the policy value."""
    out = []
    for c in checks:
        if not c.mismatch() or c.spoken is None:
            continue
        label = _FIELD_CN.get(c.field, c.field)
        expected = "终身" if c.expected is None else _fmt_num(c.expected)
        out.append(
            Finding(
                code="speech.number_mismatch",
                severity="fail",
                message=f"讲解的{label}为 {_fmt_num(c.spoken)}，与保单数据 {expected} 不一致",
                node=c.node_id,
                participant="salesperson",
                start_s=c.start_s,
                end_s=c.end_s,
                evidence={
                    "rule": "R7, R9",
                    "field": c.field,
                    "expected": c.expected,
                    "spoken": c.spoken,
                    "transcript": [_line("salesperson", c.start_s, c.end_s, c.excerpt)],
                },
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Faces


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
) -> list[Finding]:
    """face.absent for each span longer than ``face_absent_max_s`` with no face, outside
    ``excluded`` (recorded gaps, document windows)."""
    out = []
    spans = subtract(absence_spans(frames, period_s, session[0], session[1], th), excluded)
    for s0, s1 in spans:
        if s1 - s0 <= th.face_absent_max_s:
            continue
        inside = [f for f in frames if s0 <= f.t_s < s1]
        out.append(
            Finding(
                code="face.absent",
                severity="fail",
                message=f"{PARTICIPANT_CN[participant]}离开画面 {s1 - s0:.1f} 秒（{s0:.1f}–{s1:.1f} 秒），超过允许的 {th.face_absent_max_s:g} 秒",
                participant=participant,
                start_s=round(s0, 3),
                end_s=round(s1, 3),
                evidence={
                    "rule": "R12",
                    "absent_s": round(s1 - s0, 3),
                    "frames_sampled": len(inside),
                    "frame_t_s": inside[len(inside) // 2].t_s if inside else None,
                    "threshold": {
                        "face_absent_max_s": th.face_absent_max_s,
                        "face_min_size_px": th.face_min_size_px,
                    },
                },
            )
        )
    return out


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


def identity_findings(matches: Sequence[FaceMatch], th: Thresholds) -> list[Finding]:
    """face.identity_mismatch when a live face is too far from its reference."""
    out = []
    for m in matches:
        if m.cosine >= th.face_match_cosine:
            continue
        ref = "身份证照片" if m.reference == "id_card" else "预留照片"
        out.append(
            Finding(
                code="face.identity_mismatch",
                severity="fail",
                message=f"{PARTICIPANT_CN[m.participant]}本人与{ref}不一致（相似度 {m.cosine:.2f}，要求 ≥ {th.face_match_cosine:g}）",
                participant=m.participant,
                start_s=m.t_s,
                end_s=m.t_s,
                evidence={
                    "rule": "R5, R12",
                    "reference": m.reference,
                    "scores": {"cosine": _r(m.cosine)},
                    "threshold": {"face_match_cosine": th.face_match_cosine},
                    "frame_t_s": m.t_s,
                },
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Documents


def _name_similarity(read: str, expected: str) -> float:
    a, b = clean_text(read), clean_text(expected)
    if not a or not b:
        return 0.0
    return fuzz.ratio(a, b) / 100.0


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
        return [
            Finding(
                code="document.id_card_missing",
                severity="fail",
                message="未识别到清晰可辨的身份证件（未读出姓名和身份证号码）",
                evidence={**base, "ocr_text": ev.text[:200]},
                **common,
            )
        ]
    problems: list[str] = []
    scores: dict[str, Any] = {}
    if ev.id_number:
        if not ev.id_valid:
            reason = validate_id(ev.id_number).reason or "invalid"
            problems.append(f"身份证号码 {mask_id(ev.id_number)} 校验不通过（{reason}）")
        elif normalize_id(ev.id_number) != normalize_id(customer_id):
            problems.append(
                f"身份证号码 {mask_id(ev.id_number)} 与投保信息 {mask_id(customer_id)} 不一致"
            )
    if ev.name:
        sim = _name_similarity(ev.name, customer_name)
        scores["name_similarity"] = round(sim, 3)
        if sim < th.id_name_similarity and not ev.name_shown:
            problems.append(f"姓名「{ev.name}」与投保人「{customer_name}」不一致")
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
                severity="fail",
                message="；".join(problems),
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
                    severity="fail",
                    message=f"签名「{clean_text(ev.signed_name)}」与投保人姓名「{customer_name}」不一致",
                    evidence=sig_ev,
                    **common,
                )
            )
        else:
            out.append(
                Finding(
                    code="document.signature_missing",
                    severity="fail",
                    message="未识别到客户的亲笔签名",
                    evidence=sig_ev,
                    **common,
                )
            )
    if risk_sentence:
        page = clean_text(ev.page_text)
        sim = sentence_similarity(ev.page_text, risk_sentence)
        rs_ev = {
            **base,
            "read": page[:120],
            "expected": risk_sentence,
            "scores": {"similarity": round(sim, 3)},
            "threshold": {
                "risk_sentence_similarity": th.risk_sentence_similarity,
                "risk_sentence_min_chars": th.risk_sentence_min_chars,
            },
        }
        if len(page) < th.risk_sentence_min_chars:
            out.append(
                Finding(
                    code="document.risk_sentence_missing",
                    severity="fail",
                    message="未识别到客户抄录的风险提示语句",
                    evidence=rs_ev,
                    **common,
                )
            )
        elif sim < th.risk_sentence_similarity:
            out.append(
                Finding(
                    code="document.risk_sentence_mismatch",
                    severity="fail",
                    message=f"抄录的风险提示语句与要求不一致（相似度 {sim:.2f}，要求 ≥ {th.risk_sentence_similarity:g}）",
                    evidence=rs_ev,
                    **common,
                )
            )
    return out


# ---------------------------------------------------------------------------------------------
# Media quality and continuity


def audio_findings(levels: AudioLevels, th: Thresholds) -> list[Finding]:
    """media.quality for a silent, too quiet or clipped audio track."""
    who = PARTICIPANT_CN[levels.participant]
    ev: dict[str, Any] = {
        "rule": "R14",
        "kind": "audio",
        "scores": {
            "speech_dbfs": _r(levels.speech_dbfs),
            "clipped_share": _r(levels.clipped_share),
        },
        "threshold": {
            "audio_silence_dbfs": th.audio_silence_dbfs,
            "audio_quiet_dbfs": th.audio_quiet_dbfs,
            "audio_clipped_share": th.audio_clipped_share,
        },
    }
    msgs = []
    if levels.speech_dbfs is None:
        msgs.append(f"{who}音频全程无声")
    elif levels.speech_dbfs < th.audio_quiet_dbfs:
        msgs.append(f"{who}音量过低（{levels.speech_dbfs:.0f} dBFS）")
    if levels.clipped_share > th.audio_clipped_share:
        msgs.append(f"{who}音频削波失真（{levels.clipped_share:.1%} 的采样）")
    return [
        Finding(
            code="media.quality",
            severity="review",
            message=m,
            participant=levels.participant,
            start_s=0.0,
            end_s=round(levels.duration_s, 3),
            evidence=ev,
        )
        for m in msgs
    ]


def video_findings(
    participant: Participant, frames: Sequence[FrameStats], th: Thresholds
) -> list[Finding]:
    """media.quality when too many sampled frames are dark or blurred."""
    if not frames:
        return []
    out = []
    who = PARTICIPANT_CN[participant]
    checks = (
        (
            "dark",
            [f for f in frames if f.mean_luma < th.dark_luma],
            "画面过暗",
            {"dark_luma": th.dark_luma},
        ),
        (
            "blurred",
            [f for f in frames if f.mean_luma >= th.dark_luma and f.sharpness < th.blur_laplacian],
            "画面模糊",
            {"blur_laplacian": th.blur_laplacian},
        ),
    )
    for kind, bad, label, limit in checks:
        share = len(bad) / len(frames)
        if share <= th.bad_frames_share:
            continue
        worst = min(bad, key=lambda f: f.mean_luma if kind == "dark" else f.sharpness)
        out.append(
            Finding(
                code="media.quality",
                severity="review",
                message=f"{who}{label}（{share:.0%} 的抽样画面）",
                participant=participant,
                start_s=round(bad[0].t_s, 3),
                end_s=round(bad[-1].t_s, 3),
                evidence={
                    "rule": "R14",
                    "kind": kind,
                    "scores": {"bad_share": round(share, 3), "frames": len(frames)},
                    "threshold": {**limit, "bad_frames_share": th.bad_frames_share},
                    "frame_t_s": worst.t_s,
                },
            )
        )
    return out


def asr_findings(
    participant: Participant, lines: Sequence[TranscriptLine], th: Thresholds
) -> list[Finding]:
    """media.quality when too much of a participant's speech was recognised with low confidence.

    ``TranscriptLine.confidence`` is the mean Whisper word probability (0-1).
    """
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
            participant=participant,
            start_s=round(low[0].start_s, 3),
            end_s=round(low[-1].end_s, 3),
            evidence={
                "rule": "R14",
                "kind": "speech",
                "scores": {"low_share": round(share, 3)},
                "threshold": {
                    "asr_low_confidence": th.asr_low_confidence,
                    "asr_low_share": th.asr_low_share,
                    "asr_min_speech_s": th.asr_min_speech_s,
                },
                "transcript": [_line(t.participant, t.start_s, t.end_s, t.text) for t in low[:5]],
            },
        )
    ]


def gap_findings(gaps: Sequence[Gap], th: Thresholds) -> list[Finding]:
    """media.gap for each interruption longer than ``max_gap_s``."""
    return [
        Finding(
            code="media.gap",
            severity="review",
            message=f"{PARTICIPANT_CN[g.participant]}录制中断 {g.duration_s:.1f} 秒（{g.start_s:.1f}–{g.end_s:.1f} 秒）",
            participant=g.participant,
            start_s=round(g.start_s, 3),
            end_s=round(g.end_s, 3),
            evidence={
                "rule": "R16",
                "gap_s": round(g.duration_s, 3),
                "threshold": {"max_gap_s": th.max_gap_s},
            },
        )
        for g in gaps
        if g.duration_s > th.max_gap_s
    ]
