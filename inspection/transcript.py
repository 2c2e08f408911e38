"""One participant's recognised speech as a single normalised character stream with a time per
character, so that script text can be matched across utterance boundaries and mapped to times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inspection.quantities import canonical_spans, canonicalize
from inspection.speech_types import Utterance
from inspection.textnorm import keep_mask, pinyin, prepare


@dataclass(frozen=True)
class TextStream:
    """Normalised text (Simplified, no punctuation, numbers as Arabic: 12000元, 15天).

    ``starts``/``ends`` give each character's time on the session timeline; ``breaks[i]`` is True
    when a pause (punctuation or a new utterance) follows character ``i``; ``utterance[i]`` is
    the index of the utterance the character came from.
    """

    participant: str
    text: str
    starts: tuple[float, ...]
    ends: tuple[float, ...]
    breaks: tuple[bool, ...]
    utterance: tuple[int, ...]
    pinyin: tuple[str, ...]
    #: The text before numbers were rewritten as Arabic (as recognised, Simplified, stripped)
    #: and, per character of ``text``, the index of the ``source`` character it came from; so
    #: that number checks can see how a number was said (七十五 vs 期十五) and which
    #: characters round it could be number homophones.
    source: str = ""
    source_index: tuple[int, ...] = ()
    #: Per character of ``text``: the recognition probability of the word it came from (0-1).
    prob: tuple[float, ...] = ()
    #: The same per character of ``source``: numbers rewritten as Arabic spread their
    #: characters over the numeral (一万五千 -> 15000), so only here does 五 keep its own.
    source_prob: tuple[float, ...] = ()

    def __len__(self) -> int:
        return len(self.text)

    def span_times(self, start: int, end: int) -> tuple[float, float]:
        """Session times of characters ``[start, end)`` (end exclusive, at least one char)."""
        if not self.text:
            return (0.0, 0.0)
        start = min(max(start, 0), len(self.text) - 1)
        end = min(max(end, start + 1), len(self.text))
        return (self.starts[start], self.ends[end - 1])

    def index_at(self, t_s: float) -> int:
        """Index of the first character that starts at or after ``t_s`` (len if none)."""
        for i, s in enumerate(self.starts):
            if s >= t_s:
                return i
        return len(self.text)

    def has_break(self, start: int, end: int) -> bool:
        """True when a pause falls between characters ``start-1`` and ``end`` (exclusive)."""
        return any(self.breaks[max(start - 1, 0) : max(end - 1, 0)])

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The ``source`` characters that characters ``[start, end)`` of ``text`` came from."""
        if not self.source_index:
            return (start, end)
        return (self.source_index[start], self.source_index[max(end - 1, start)] + 1)

    @property
    def pauses(self) -> frozenset[int]:
        """Positions of ``text`` followed by a pause (for ``numbers.find_quantities``)."""
        return frozenset(i for i, b in enumerate(self.breaks) if b)

    def confidence(self, start: int, end: int) -> float:
        """The lowest word probability over characters ``[start, end)`` (1.0 if unknown)."""
        return min(self.prob[start:end], default=1.0)


def _pieces(u: Utterance) -> list[tuple[str, float, float, float]]:
    """(text, start, end, probability) pieces of an utterance: its words, or the whole text."""
    if u.words:
        return [(w.text, w.start_s, w.end_s, w.probability) for w in u.words]
    return [(u.text, u.start_s, u.end_s, u.confidence)]


def build_stream(utterances: Sequence[Utterance], participant: str | None = None) -> TextStream:
    """Join utterances (sorted by time) into a :class:`TextStream`; filter by ``participant``."""
    chosen = [u for u in utterances if participant is None or u.participant == participant]
    chosen.sort(key=lambda u: u.start_s)
    raw: list[str] = []
    starts: list[float] = []
    ends: list[float] = []
    utt: list[int] = []
    probs: list[float] = []
    for ui, u in enumerate(chosen):
        for text, t0, t1, p in _pieces(u):
            chars = prepare(text)
            # Spread the piece's time over its spoken characters only (punctuation takes none).
            spoken = keep_mask(chars)
            step = (t1 - t0) / max(1, sum(spoken))
            k = 0
            for ch, sp in zip(chars, spoken, strict=True):
                raw.append(ch)
                starts.append(t0 + k * step)
                k += sp
                ends.append(t0 + k * step)
                utt.append(ui)
                probs.append(p)
        raw.append("\n")  # an utterance boundary is a pause
        starts.append(u.end_s)
        ends.append(u.end_s)
        utt.append(ui)
        probs.append(1.0)
    joined = "".join(raw)
    keep = keep_mask(joined)
    kept = [i for i, k in enumerate(keep) if k]
    # A pause follows kept char j when anything was dropped between it and the next kept char.
    brk = [kept[j + 1] != kept[j] + 1 for j in range(len(kept) - 1)] + [True] * bool(kept)
    stripped = "".join(joined[i] for i in kept)
    text, index, spans = canonical_spans(stripped, {j for j, b in enumerate(brk) if b})
    src = [kept[i] for i in index]
    return TextStream(
        participant=participant or (chosen[0].participant if chosen else ""),
        text=text,
        starts=tuple(starts[i] for i in src),
        ends=tuple(ends[i] for i in src),
        breaks=tuple(_map_breaks(brk, index, len(text), spans)),
        utterance=tuple(utt[i] for i in src),
        pinyin=tuple(pinyin(text)),
        source=stripped,
        source_index=tuple(index),
        prob=tuple(round(probs[i], 4) for i in src),
        source_prob=tuple(round(probs[i], 4) for i in kept),
    )


def _map_breaks(
    brk: list[bool], index: list[int], n: int, spans: Sequence[tuple[int, int]] = ()
) -> list[bool]:
    """Breaks after canonicalisation: a new char inherits the break of the last source char;
    none inside a rewritten number (``spans``: 一万|五千元 is one number, 15000元, once
    canonicalize joined it, and its pause after 万 must not split the digits again)."""
    inside = {j for a, b in spans for j in range(a, b - 1)}
    out = []
    for j in range(n):
        last_of_group = j == n - 1 or index[j + 1] != index[j]
        out.append(brk[index[j]] if last_of_group and j not in inside else False)
    if n:
        out[-1] = True
    return out


def normalize_script(text: str) -> str:
    """Normalise script text the same way as a stream (so both sides compare like for like)."""
    prepared = prepare(text)
    stripped = "".join(ch for ch, k in zip(prepared, keep_mask(prepared), strict=True) if k)
    return canonicalize(stripped)[0]
