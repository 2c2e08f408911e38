"""Evidence to findings: the thresholds of the inspection and pure functions that turn stage
outputs (alignment, answers, faces, OCR, media levels, gaps) into :class:`Finding` records.

One module per finding domain: ``script`` (consent, reminder, nodes, order, answers),
``speech`` (forbidden phrases, numbers, recognition confidence), ``faces``, ``documents``
(ID card, signature, risk sentence), ``media`` (audio/video quality, gaps); ``thresholds`` and
``evidence`` hold the inputs, ``common`` the shared helpers. Everything public is re-exported
here, so ``from inspection.rules import X`` works for every name.

Every function here is pure: no models, no files. Evidence dicts follow one shape:
``rule`` (R-number), ``threshold`` (the settings used), ``scores``, ``transcript`` (excerpts
with times), ``frame_t_s`` (a frame the pipeline turns into a saved thumbnail, ``frame``).
"""

from __future__ import annotations

from inspection.report import Finding, Participant, TranscriptLine
from inspection.rules.common import (
    PARTICIPANT_CN,
    excerpt_around,
    is_covered,
    marker_spans,
    min_similarity,
    sort_findings,
    subtract,
)
from inspection.rules.documents import id_card_findings, signature_findings
from inspection.rules.evidence import (
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
    Span,
)
from inspection.rules.faces import (
    absence_spans,
    extra_person_findings,
    face_absence_findings,
    identity_findings,
)
from inspection.rules.media import audio_findings, gap_findings, video_findings
from inspection.rules.script import script_findings
from inspection.rules.speech import asr_findings, forbidden_findings, number_findings
from inspection.rules.thresholds import Thresholds
from inspection.templates import RenderedNode

__all__ = [
    "PARTICIPANT_CN",
    "AudioLevels",
    "FaceMatch",
    "Finding",
    "FrameFaces",
    "FrameStats",
    "Gap",
    "IdCardEvidence",
    "NodeCoverage",
    "NumberCheck",
    "Participant",
    "PhraseHit",
    "RenderedNode",
    "SignatureEvidence",
    "Span",
    "Thresholds",
    "TranscriptLine",
    "absence_spans",
    "asr_findings",
    "audio_findings",
    "excerpt_around",
    "extra_person_findings",
    "face_absence_findings",
    "forbidden_findings",
    "gap_findings",
    "id_card_findings",
    "identity_findings",
    "is_covered",
    "marker_spans",
    "min_similarity",
    "number_findings",
    "script_findings",
    "signature_findings",
    "sort_findings",
    "subtract",
    "video_findings",
]
