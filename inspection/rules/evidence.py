"""Stage outputs as the rules see them (the pipeline adapts each stage's records to these)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from inspection.report import Participant
from inspection.templates import RenderedNode

Span = tuple[float, float]


@dataclass(frozen=True)
class NodeCoverage:
    """Where and how well one rendered node was found in its speaker's transcript."""

    node: RenderedNode
    score: float  # best similarity 0..1
    start_s: float | None = None
    end_s: float | None = None
    excerpt: str = ""  # the matched transcript text
    # "affirmative" | "negative" | "unsure" | "missing" | "unrecognised" (requires_answer only)
    answer: str | None = None
    answer_text: str = ""
    answer_start_s: float | None = None
    answer_end_s: float | None = None
    answer_confidence: float | None = None  # mean word probability of the answer (0-1)
    answer_score: float = 1.0  # < 1: only close to an answer of the closed set (pinyin)
    answer_uncertain: str | None = None  # the answer rests on uncertain speech (why)
    answer_uncertain_text: str = ""  # uncertain speech in the window that was not used
    # How the model scored the closed set of answers in the window (ClosedSetScore.as_evidence)
    answer_closed_set: dict[str, Any] | None = None
    # "No answer" in a room too loud to prove silence: the levels (answer_energy.RoomCheck)
    answer_room: dict[str, Any] | None = None
    # The customer's questions back in the answer window (set aside before the answer, or the
    # last words read there)
    answer_question_back: str = ""
    key_score: float = 0.0  # share of the node's content syllable pairs said (node_content)
    # "match" | "slot" (covered by its slot between its neighbours: inspection.node_slot) |
    # "partial" (not covered, some resembling speech where it belongs: review) | "unheard"
    # (not covered, time for it passed there with nothing recognised: review) | "forced"
    # (covered: its text explains its slot's audio better than any other node's,
    # inspection.node_forced) | "heard" (not covered, nothing like it in the slot, but its text
    # explains the slot's audio: review) | "absent"
    support: str = "match"
    slot: dict[str, Any] | None = None  # what was said in the node's slot (node_slot)


@dataclass(frozen=True)
class PhraseHit:
    """A forbidden phrase found in a transcript."""

    phrase: str
    participant: Participant
    start_s: float
    end_s: float
    excerpt: str
    score: float = 1.0  # 1.0 = exact
    confidence: float | None = None  # lowest word probability of the matched characters
    how: str = "chars"  # chars | pinyin | inside | fuzzy | sound (inspection.forbidden)


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
    confidence: float | None = None  # lowest word probability of the number's characters
    readings: tuple[float, ...] = ()  # every plausible value of what was recognised
    reading: str = ""  # how ``spoken`` was read
    product: str | None = None  # key of the product the value belongs to (combined sales)
    doubt: str = ""  # why a mismatch may be a recognition error: review, not fail
    garbled: str = ""  # the numerals as recognised when they are no number (两万两七五百)

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
    cosine: float  # the decision score: the best card frame's (or the reference photo's)
    t_s: float | None = None  # frame of the reference (ID card) or of the live face
    # Every card-photo face compared: (frame time, face size px, cosine), best first; empty
    # for a reference photo. ``fail`` needs two of them (one small photo may be a bad view).
    frames: tuple[tuple[float, float, float], ...] = ()
    live_t_s: tuple[float, ...] = ()  # frames of the live faces whose mean embedding was used


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
    card_seen: bool = False  # a card was in the picture (its photo seen as a face)


@dataclass(frozen=True)
class SignatureEvidence:
    """What OCR read during the signature node, from the frame that best shows the page."""

    node_id: str
    window: Span
    frames_read: int
    signed_name: str | None = None  # text after the 签名 label, or None when no label
    page_text: str = ""  # text apart from the signature line and printed labels
    all_text: str = ""
    t_s: float | None = None
    # The lines of page_text in reading order and their boxes (left, top, right, bottom px
    # in the frame), so a located sentence can say where it was read.
    lines: tuple[str, ...] = ()
    line_bounds: tuple[tuple[int, int, int, int], ...] = ()


@dataclass(frozen=True)
class Gap:
    participant: Participant
    start_s: float
    end_s: float
    # "" an interruption; "file_changed": the file is not the size the server recorded and
    # its media ends early (``detail`` says which file and both sizes).
    cause: str = ""
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

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
    snr_db: float | None = None  # speech level above the room's noise floor (dB)


@dataclass(frozen=True)
class FrameStats:
    t_s: float
    mean_luma: float
    sharpness: float
