"""Finding and Report records: the public contract of the inspection, with JSON (de)serialisation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["fail", "review"]
Participant = Literal["salesperson", "customer"]
Verdict = Literal["pass", "flagged"]

#: Every finding code the inspection may emit (see shared/domain.md).
FINDING_CODES: tuple[str, ...] = (
    "consent.missing",
    "reminder.missing",
    "script.node_missing",
    "script.out_of_order",
    "answer.not_affirmative",
    "speech.forbidden_phrase",
    "speech.number_mismatch",
    "face.absent",
    "face.extra_person",
    "face.identity_mismatch",
    "document.id_card_missing",
    "document.id_card_mismatch",
    "document.signature_missing",
    "document.signature_mismatch",
    "document.risk_sentence_missing",
    "document.risk_sentence_mismatch",
    "media.quality",
    "media.gap",
)

_SEVERITY_RANK = {"fail": 0, "review": 1}


@dataclass(frozen=True)
class Finding:
    """One problem found in a recording, with the evidence a reviewer needs to act on it."""

    code: str
    severity: Severity
    message: str
    node: str | None = None
    participant: Participant | None = None
    start_s: float | None = None
    end_s: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    # The message in English (``message`` is Chinese); None in reports made before it existed.
    message_en: str | None = None

    def __post_init__(self) -> None:
        if self.code not in FINDING_CODES:
            raise ValueError(f"unknown finding code {self.code!r}")
        if self.severity not in _SEVERITY_RANK:
            raise ValueError(f"unknown severity {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            code=data["code"],
            severity=data["severity"],
            message=data["message"],
            node=data.get("node"),
            participant=data.get("participant"),
            start_s=data.get("start_s"),
            end_s=data.get("end_s"),
            evidence=dict(data.get("evidence") or {}),
            message_en=data.get("message_en"),
        )


@dataclass(frozen=True)
class TranscriptLine:
    """One recognised utterance, times in seconds from session start."""

    participant: Participant
    start_s: float
    end_s: float
    text: str
    confidence: float | None = None
    node: str | None = None
    uncertain: str | None = None  # kept but untrusted speech: why (inspection.speech)


@dataclass(frozen=True)
class NodeResult:
    """How one template node was covered in the recording."""

    id: str
    title: str
    covered: bool
    score: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    answer: str | None = None  # "affirmative" | "negative" | "unsure" | "missing" | None
    #: The closed-set scores the answer's decision used (ClosedSetScore.as_evidence, with the
    #: room-normalised ``cohort`` when there was one): why a pass passed, not only a finding.
    answer_closed_set: dict[str, Any] | None = None


@dataclass
class Report:
    """The result of inspecting one session."""

    duration_s: float
    findings: list[Finding] = field(default_factory=list)
    nodes: list[NodeResult] = field(default_factory=list)
    transcript: list[TranscriptLine] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    faces: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return "flagged" if self.findings else "pass"

    @property
    def worst_severity(self) -> Severity | None:
        if not self.findings:
            return None
        return min((f.severity for f in self.findings), key=_SEVERITY_RANK.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "duration_s": round(self.duration_s, 3),
            "findings": [f.to_dict() for f in self.findings],
            "nodes": [asdict(n) for n in self.nodes],
            "transcript": [asdict(t) for t in self.transcript],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "faces": self.faces,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        return cls(
            duration_s=float(data["duration_s"]),
            findings=[Finding.from_dict(f) for f in data.get("findings", [])],
            nodes=[NodeResult(**n) for n in data.get("nodes", [])],
            transcript=[TranscriptLine(**t) for t in data.get("transcript", [])],
            timings=dict(data.get("timings", {})),
            faces=dict(data.get("faces", {})),
            meta=dict(data.get("meta", {})),
        )
