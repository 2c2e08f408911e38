"""Transcript ↔ script: align rendered template nodes to what was said (char+pinyin fuzzy
matching over the speaker's character stream), detect nodes spoken out of order, find and
classify the customer's answers, flag forbidden wording and check spoken numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from rapidfuzz import fuzz

from inspection.answers import AnswerClass, AnswerKind, classify_answer
from inspection.closed_set import ClosedSetScore, closed_set_answer
from inspection.forbidden import ForbiddenHit, find_forbidden, lexicon_with
from inspection.node_content import NodeKey, best_key_windows, node_key
from inspection.number_attribution import attribute_numbers
from inspection.policy import Policy
from inspection.report import NodeResult
from inspection.speech import Utterance
from inspection.spoken_numbers import NumberCheck, check_numbers
from inspection.textnorm import pinyin
from inspection.transcript import TextStream, build_stream, normalize_script


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
    key_clause_min: float = 0.25  # the reminder: share of each of its clauses' pairs needed
    key_window: float = 1.3
    pinyin_weight: float = 0.7  # share of the pinyin score in the combined score
    candidates: int = 3  # best windows kept per node before choosing an in-order chain
    overlap_tolerance_s: float = 1.0  # consecutive nodes may overlap this much (timing jitter)
    marker_slack_s: float = 3.0  # a match starting this close to its marker's range is inside it
    marker_bonus: float = 0.05  # preference for a match inside its marker's range
    answer_wait_s: float = 20.0  # how long after a question the customer's answer may start
    answer_lead_s: float = 1.0  # ... or how early (answers overlapping the question's end)
    answer_grace_s: float = 1.0  # an answer may start this long after the next node began
    negation_gap: int = 2  # chars allowed between a negation word and a forbidden phrase
    number_context: int = 12  # chars before a number searched for its keyword
    number_sure_confidence: float = 0.8  # a one-numeral mismatch below this is a doubt
    # Closed-set scores (inspection.closed_set) turn an answer the free transcription lost or
    # garbled into a clear yes only with this lead (nats) over any other kind of answer, in a
    # stretch no longer than this; otherwise they stay a guess for review.
    closed_set_margin: float = 3.0
    closed_set_max_s: float = 3.5
    closed_set_below_confidence: float = 0.5  # a yes heard on words this unsure is re-checked


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


@dataclass(frozen=True)
class OrderViolation:
    """An order-critical node (consent, reminder) that came after a non-critical node."""

    node_id: str
    start_s: float
    after_node_id: str  # the non-critical node that was spoken before it
    after_start_s: float


@dataclass
class ScriptAnalysis:
    """Everything the script checks found; ``inspection.rules`` turns it into findings."""

    nodes: list[NodeAlignment] = field(default_factory=list)
    answers: dict[str, Answer] = field(default_factory=dict)
    order_violations: list[OrderViolation] = field(default_factory=list)
    forbidden: list[ForbiddenHit] = field(default_factory=list)
    numbers: list[NumberCheck] = field(default_factory=list)

    def node_results(self) -> list[NodeResult]:
        """The alignments as report records, with the answer class where there is one."""
        out = []
        for a in self.nodes:
            ans = self.answers.get(a.node_id)
            out.append(
                NodeResult(
                    id=a.node_id,
                    title=a.title,
                    covered=a.covered,
                    score=round(a.score, 3),
                    start_s=a.start_s,
                    end_s=a.end_s,
                    answer=ans.kind if ans else None,
                )
            )
        return out


# ---------------------------------------------------------------------------------------------
# Alignment


@dataclass(frozen=True)
class _Cand:
    node: int  # index into the node list
    score: float
    start: int  # char span in the speaker's stream
    end: int
    t0: float
    t1: float
    in_marker: bool
    key: float = 0.0  # node_content.key_score of the span (with slack)

    def strength(self) -> float:
        return max(self.score, self.key)


def _window_scores(
    needle_py: list[str], stream: TextStream, lo: int, hi: int, n: int
) -> list[tuple[float, int]]:
    """Coarse pinyin ratio of windows of length ``n`` starting every ``n // 4`` chars."""
    step = max(1, n // 4)
    last = max(lo, hi - n)
    out = []
    for s in range(lo, last + 1, step):
        out.append((fuzz.ratio(needle_py, stream.pinyin[s : s + n]) / 100.0, s))
    if last not in {s for _, s in out}:
        out.append((fuzz.ratio(needle_py, stream.pinyin[last : last + n]) / 100.0, last))
    return out


def _refine(
    needle: str, needle_py: list[str], stream: TextStream, s: int, n: int, w: float
) -> tuple[float, int, int]:
    """Best exact window near a coarse start: partial alignment, then stretch or shrink ends."""
    lo, hi = max(0, s - n // 2), min(len(stream), s + n + n // 2)
    al = fuzz.partial_ratio_alignment(needle_py, list(stream.pinyin[lo:hi]))
    start, end = (lo + al.dest_start, lo + al.dest_end) if al is not None else (s, min(s + n, hi))

    def score(a: int, b: int) -> float:
        pin = fuzz.ratio(needle_py, stream.pinyin[a:b]) / 100.0
        char = fuzz.ratio(needle, stream.text[a:b]) / 100.0
        return w * pin + (1 - w) * char

    best = score(start, end)
    d = max(2, n // 5)
    for e in range(max(start + 1, end - d), min(len(stream), end + d) + 1):
        sc = score(start, e)
        if sc > best:
            best, end = sc, e
    for b in range(max(0, start - d), min(end - 1, start + d) + 1):
        sc = score(b, end)
        if sc > best:
            best, start = sc, b
    return best, start, end


def _candidates(
    idx: int,
    needle: str,
    key: NodeKey,
    stream: TextStream,
    marker: tuple[float, float] | None,
    st: ScriptSettings,
) -> list[_Cand]:
    """Up to ``st.candidates`` non-overlapping best windows of the stream for one node."""
    n = len(needle)
    if not n or not len(stream):
        return []
    needle_py = pinyin(needle)
    coarse = sorted(_window_scores(needle_py, stream, 0, len(stream), n), reverse=True)
    starts: list[int] = []
    for _sc, s in coarse:
        if all(abs(s - t) >= n // 2 + 1 for t in starts):
            starts.append(s)
        if len(starts) >= st.candidates:
            break
    if marker is not None:
        lo, hi = stream.index_at(marker[0]), stream.index_at(marker[1])
        if hi > lo:
            inside = max(_window_scores(needle_py, stream, lo, hi, n))
            if all(abs(inside[1] - t) > n // 2 for t in starts):
                starts.append(inside[1])
    width = max(n, round(n * st.key_window))
    out = []
    for s in starts:
        sc, a, b = _refine(needle, needle_py, stream, s, n, st.pinyin_weight)
        slack = max(0, width - (b - a)) // 2
        lo, hi = max(0, a - slack), min(len(stream), b + slack)
        ks = key.score(stream.text[lo:hi], stream.pinyin[lo:hi], st.key_clause_min)
        out.append(_cand(idx, sc, a, b, ks, stream, marker, st))
    # The stretches carrying most of the node's content, wherever the wording put them.
    for ks, a, b in best_key_windows(
        key, stream.text, stream.pinyin, width, st.key_clause_min, st.candidates
    ):
        if ks < st.min_key_score or any(c.key >= ks and c.start <= a < c.end for c in out):
            continue
        pin = fuzz.ratio(needle_py, stream.pinyin[a:b]) / 100.0
        char = fuzz.ratio(needle, stream.text[a:b]) / 100.0
        sc = st.pinyin_weight * pin + (1 - st.pinyin_weight) * char
        out.append(_cand(idx, sc, a, b, ks, stream, marker, st))
    return out


def _cand(
    idx: int,
    score: float,
    a: int,
    b: int,
    key: float,
    stream: TextStream,
    marker: tuple[float, float] | None,
    st: ScriptSettings,
) -> _Cand:
    t0, t1 = stream.span_times(a, b)
    in_marker = (
        marker is not None and marker[0] - st.marker_slack_s <= t0 <= marker[1] + st.marker_slack_s
    )
    return _Cand(idx, score, a, b, t0, t1, in_marker, key)


def _marker_ranges(markers: Sequence[tuple[float, str]]) -> dict[str, tuple[float, float]]:
    """Node id → (marker time, next marker time) from the teleprompter events."""
    ordered = sorted(markers)
    out: dict[str, tuple[float, float]] = {}
    for i, (t, node_id) in enumerate(ordered):
        nxt = ordered[i + 1][0] if i + 1 < len(ordered) else float("inf")
        out.setdefault(node_id, (t, nxt))
    return out


def _best_chain(cands: list[_Cand], st: ScriptSettings) -> list[_Cand]:
    """Highest-scoring set of candidates, at most one per node, in template and time order."""
    items = sorted(cands, key=lambda c: (c.node, c.t0))
    best: list[float] = []
    prev: list[int] = []
    for i, c in enumerate(items):
        own = c.strength() + (st.marker_bonus if c.in_marker else 0.0)
        best.append(own)
        prev.append(-1)
        for j in range(i):
            p = items[j]
            if (
                p.node < c.node
                and p.t1 - st.overlap_tolerance_s <= c.t0
                and best[j] + own > best[i]
            ):
                best[i], prev[i] = best[j] + own, j
    if not items:
        return []
    i = max(range(len(items)), key=best.__getitem__)
    chain = []
    while i >= 0:
        chain.append(items[i])
        i = prev[i]
    return chain[::-1]


def align_nodes(
    nodes: Sequence[ScriptNode],
    utterances: Sequence[Utterance],
    markers: Sequence[tuple[float, str]] = (),
    settings: ScriptSettings | None = None,
) -> list[NodeAlignment]:
    """Find where each node was spoken by its speaker; one result per node, in template order.

    ``markers`` are (t_s, node_id) teleprompter events; they only bias the choice of match.
    """
    st = settings or ScriptSettings()
    streams = {sp: build_stream(utterances, sp) for sp in {n.speaker for n in nodes}}
    ranges = _marker_ranges(markers)
    cands: list[_Cand] = []
    for i, node in enumerate(nodes):
        needle = normalize_script(node.text)
        # A node with its own min_similarity must be read close to its words: no key route.
        own = getattr(node, "min_similarity", None) is not None
        key = NodeKey(frozenset()) if own else node_key(node.text, _role(node) == "reminder")
        cands += _candidates(i, needle, key, streams[node.speaker], ranges.get(node.id), st)
    good = [
        c for c in cands if c.score >= _threshold(nodes[c.node], st) or c.key >= st.min_key_score
    ]
    chain = {c.node: c for c in _best_chain(good, st)}
    out = []
    for i, node in enumerate(nodes):
        mine = [c for c in cands if c.node == i]
        stream = streams[node.speaker]
        if i in chain:
            out.append(_alignment(node, chain[i], stream, True, True))
            continue
        # Covered out of order: a good match that is not some other chosen node's speech.
        free = [
            c
            for c in good
            if c.node == i and not any(_overlaps(c, o, node, nodes[o.node]) for o in chain.values())
        ]
        if free:
            out.append(_alignment(node, max(free, key=_Cand.strength), stream, True, False))
        elif mine:
            best = max(mine, key=lambda c: c.score)
            best_key = max(c.key for c in mine)
            out.append(
                NodeAlignment(
                    node.id,
                    node.title,
                    node.speaker,
                    False,
                    round(best.score, 4),
                    None,
                    None,
                    "",
                    key_score=round(best_key, 4),
                )
            )
        else:
            out.append(NodeAlignment(node.id, node.title, node.speaker, False, 0.0, None, None, ""))
    return out


def _role(node: ScriptNode) -> str | None:
    return getattr(node, "role", None)


def _threshold(node: ScriptNode, st: ScriptSettings) -> float:
    """The node's own min_similarity, else the reminder's or the general threshold."""
    own = getattr(node, "min_similarity", None)
    if own is not None:
        return float(own)
    if getattr(node, "role", None) == "reminder":
        return st.reminder_min_similarity
    return st.min_similarity


def _overlaps(c: _Cand, o: _Cand, node: ScriptNode, other: ScriptNode) -> bool:
    if node.speaker != other.speaker:
        return False
    inter = min(c.end, o.end) - max(c.start, o.start)
    return inter > 0.5 * min(c.end - c.start, o.end - o.start)


def _alignment(
    node: ScriptNode, c: _Cand, stream: TextStream, covered: bool, in_order: bool
) -> NodeAlignment:
    return NodeAlignment(
        node_id=node.id,
        title=node.title,
        speaker=node.speaker,
        covered=covered,
        score=round(c.score, 4),
        start_s=round(c.t0, 3),
        end_s=round(c.t1, 3),
        matched_text=stream.text[c.start : c.end],
        in_order=in_order,
        key_score=round(c.key, 4),
    )


def order_violations(
    nodes: Sequence[ScriptNode], aligned: Sequence[NodeAlignment]
) -> list[OrderViolation]:
    """Order-critical nodes (consent, reminder) spoken after a node that follows them in the
    template; each is reported against the earliest such node."""
    by_id = {a.node_id: a for a in aligned}
    out = []
    for i, n in enumerate(nodes):
        a = by_id[n.id]
        if not n.order_critical or not a.covered or a.start_s is None:
            continue
        earlier = [
            by_id[m.id]
            for m in nodes[i + 1 :]
            if by_id[m.id].covered and (by_id[m.id].start_s or 0.0) < a.start_s
        ]
        if earlier:
            first = min(earlier, key=lambda b: b.start_s or 0.0)
            out.append(OrderViolation(n.id, a.start_s, first.node_id, first.start_s or 0.0))
    return out


# ---------------------------------------------------------------------------------------------
# Answers


def find_answers(
    nodes: Sequence[ScriptNode],
    aligned: Sequence[NodeAlignment],
    customer: Sequence[Utterance],
    markers: Sequence[tuple[float, str]] = (),
    settings: ScriptSettings | None = None,
) -> dict[str, Answer]:
    """Classify the customer's reply after every node that requires an answer.

    The window opens ``answer_lead_s`` before the node's end and closes at the start of the next
    spoken node or after ``answer_wait_s``. A node that was not spoken is judged from its marker
    range if there is one, and otherwise left out.
    """
    st = settings or ScriptSettings()
    by_id = {a.node_id: a for a in aligned}
    starts = sorted(a.start_s for a in aligned if a.covered and a.start_s is not None)
    ranges = _marker_ranges(markers)
    out: dict[str, Answer] = {}
    for node in nodes:
        if not node.requires_answer:
            continue
        a = by_id.get(node.id)
        if a is not None and a.covered and a.end_s is not None:
            w0 = a.end_s - st.answer_lead_s
            nxt = [
                s
                for s in starts
                if s >= a.end_s - st.overlap_tolerance_s and s > (a.start_s or 0.0)
            ]
            w1 = min([a.end_s + st.answer_wait_s, *(s + st.answer_grace_s for s in nxt)])
        elif node.id in ranges:
            w0, w1 = ranges[node.id][0], min(ranges[node.id][1], ranges[node.id][0] + 60.0)
        else:
            continue
        out[node.id] = _answer_in(node, customer, w0, max(w1, w0 + 0.5), st)
    return out


_Piece = tuple[float, float, str, float, str | None]  # start, end, text, probability, reason
# Kept uncertain speech that is used as an answer when nothing trusted was said; text Whisper
# invents on silence (subtitle credits) is only shown, never read as an answer.
_USABLE_UNCERTAIN = ("low_confidence", "unrecognised", "repetition", "too_fast")


def _pieces_in(customer: Sequence[Utterance], w0: float, w1: float) -> list[_Piece]:
    out: list[_Piece] = []
    for u in sorted(customer, key=lambda u: u.start_s):
        if u.end_s < w0 or u.start_s > w1:
            continue
        if u.words:
            out += [
                (w.start_s, w.end_s, w.text, w.probability, u.uncertain)
                for w in u.words
                if w0 <= w.start_s <= w1
            ]
        elif w0 <= u.start_s <= w1:
            out.append((u.start_s, u.end_s, u.text, u.confidence, u.uncertain))
    return out


def _closed_set_in(customer: Sequence[Utterance], w0: float, w1: float) -> ClosedSetScore | None:
    """The closed-set score with the widest margin among customer regions in ``[w0, w1]``."""
    scores = [u.closed_set for u in customer if u.closed_set is not None and w0 <= u.start_s <= w1]
    return max(scores, key=lambda s: s.margin, default=None)


def _answer_in(
    node: ScriptNode,
    customer: Sequence[Utterance],
    w0: float,
    w1: float,
    st: ScriptSettings | None = None,
) -> Answer:
    """The answer in ``[w0, w1]``: from trusted speech; when that says nothing, from kept
    uncertain speech (marked, so that the rules make it review evidence, never consent); when
    that is lost or garbled too, from the closed-set scores of the window's regions."""
    st = st or ScriptSettings()
    expected = getattr(node, "expected_answer", None)
    pieces = _pieces_in(customer, w0, w1)
    sure = [p for p in pieces if p[4] is None]
    flagged = [p for p in pieces if p[4] is not None]
    used = sure
    cls = classify_answer("".join(p[2] for p in sure), expected)
    uncertain: str | None = None
    said_nothing = cls.kind in ("missing", "unrecognised") or (
        cls.kind == "unsure" and cls.phrase is None
    )
    usable = [p for p in flagged if p[4] in _USABLE_UNCERTAIN]
    if said_nothing and usable:
        used = sure + usable
        cls = classify_answer("".join(p[2] for p in used), expected)
        if cls.kind == "missing" or (cls.kind == "unsure" and cls.phrase is None):
            cls = replace(cls, kind="unrecognised")
        uncertain = ",".join(sorted({p[4] for p in usable if p[4]}))
    shown = [p for p in flagged if p not in used]
    timed = sorted(used, key=lambda p: p[0])
    confidence = round(sum(p[3] for p in timed) / len(timed), 3) if timed else None
    scored = _closed_set_in(customer, w0, w1)
    lost = cls.kind in ("missing", "unrecognised") or (cls.kind == "unsure" and cls.phrase is None)
    guessed_yes = cls.kind == "affirmative" and (
        cls.score < 1.0
        or uncertain is not None
        or (confidence is not None and confidence < st.closed_set_below_confidence)
    )
    if scored is not None and (lost or guessed_yes):
        kind, phrase, confident = closed_set_answer(
            scored, st.closed_set_margin, st.closed_set_max_s
        )
        if kind == "affirmative" and confident:
            # The model itself prefers a yes by a wide margin over every other answer.
            cls, uncertain, confidence = AnswerClass(kind, phrase, 1.0), None, None
        else:  # a guess: shown to a reviewer, never a pass
            cls = AnswerClass(kind, phrase, min(cls.score, 0.99))
        if not timed:
            u = next(u for u in customer if u.closed_set is scored)
            timed = [(u.start_s, u.end_s, "", 0.0, None)]
    return Answer(
        node_id=node.id,
        kind=cls.kind,
        text="".join(p[2] for p in timed),
        phrase=cls.phrase,
        window_start_s=round(w0, 3),
        window_end_s=round(w1, 3),
        start_s=timed[0][0] if timed else None,
        end_s=timed[-1][1] if timed else None,
        confidence=confidence,
        score=cls.score,
        uncertain=uncertain,
        uncertain_text="".join(p[2] for p in shown),
    )


# ---------------------------------------------------------------------------------------------
# Everything together


def analyze(
    nodes: Sequence[ScriptNode],
    salesperson: Sequence[Utterance],
    customer: Sequence[Utterance],
    policy: Policy | None = None,
    markers: Sequence[tuple[float, str]] = (),
    forbidden_phrases: Sequence[str] = (),
    settings: ScriptSettings | None = None,
) -> ScriptAnalysis:
    """Run every script check on one session's transcripts (utterance times on one timeline)."""
    st = settings or ScriptSettings()
    # Uncertain speech is kept for the answers (and the reviewer), not for covering nodes.
    everyone = [*salesperson, *(u for u in customer if u.uncertain is None)]
    aligned = align_nodes(nodes, everyone, markers, st)
    sales_stream = build_stream(salesperson, "salesperson")
    numbers = check_numbers(sales_stream, policy, st.number_context) if policy else []
    numbers = [replace(n, node_id=_node_at(aligned, n.start_s, n.end_s)) for n in numbers]
    # Each number is compared with what its node states, for the node's product (issue 11).
    numbers = attribute_numbers(
        numbers, nodes, policy, _marker_node(markers), st.number_sure_confidence
    )
    return ScriptAnalysis(
        nodes=aligned,
        answers=find_answers(nodes, aligned, customer, markers, st),
        order_violations=order_violations(nodes, aligned),
        forbidden=find_forbidden(sales_stream, lexicon_with(forbidden_phrases), st.negation_gap),
        numbers=numbers,
    )


def _marker_node(markers: Sequence[tuple[float, str]]) -> Callable[[float], str | None]:
    """t_s -> the node the teleprompter showed at that time (the last marker before it)."""
    ordered = sorted(markers)

    def at(t_s: float) -> str | None:
        shown = [node for t, node in ordered if t <= t_s + 0.5]
        return shown[-1] if shown else None

    return at


def _node_at(aligned: Sequence[NodeAlignment], t0: float, t1: float) -> str | None:
    """The salesperson node whose matched span contains ``[t0, t1]`` (the closest overlap)."""
    best: tuple[float, str] | None = None
    for a in aligned:
        if a.speaker != "salesperson" or a.start_s is None or a.end_s is None:
            continue
        overlap = min(a.end_s, t1) - max(a.start_s, t0)
        if overlap > -0.5 and (best is None or overlap > best[0]):
            best = (overlap, a.node_id)
    return best[1] if best else None
