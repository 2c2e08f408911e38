"""How a sentence uses a spoken number: a policy value stated, a sum over products or years
(一共是十二万元), or a worked example (比如您每年交一万元...). Only statements are compared
with the policy's value for the field.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Literal

from inspection.number_readings import syllables
from inspection.transcript import TextStream

__all__ = ["EXAMPLE_WORDS", "SUM_WORDS", "Statement", "statement_of"]

#: How the sentence uses a number: a policy value stated, a sum over products or years
#: (一共是十二万元), or a worked example (比如您每年交一万元...): only statements are
#: compared with the policy's value for the field.
Statement = Literal["statement", "sum", "example"]

#: Words that make the number right after them a sum (within ``SUM_REACH`` characters).
SUM_WORDS = (
    "一共", "总共", "合计", "共计", "累计", "总计", "加起来", "合起来", "加在一起", "总额",
    "合共", "共交", "总保费",
)  # fmt: skip
#: Words that make the rest of their sentence a worked example (within ``EXAMPLE_REACH``).
EXAMPLE_WORDS = (
    "比如", "例如", "假如", "假设", "举个例子", "举例", "打个比方", "比方说", "譬如", "好比",
)  # fmt: skip
#: Sum words that close their clause (两个加起来，每年交…): the sum may be in the next clause.
#: The others (一共, 合计) sum only what follows them in their own clause: "一共交十年，每年交
#: 一万五千元" states the premium.
CLAUSE_END_SUM_WORDS = ("加起来", "合起来", "加在一起")
SUM_REACH = 8
EXAMPLE_REACH = 24


@dataclass(frozen=True)
class _UseRule:
    """A number's use said by one of ``words`` within ``reach`` source characters before it;
    with ``clause``, only in its own clause (see ``_in_clause``)."""

    use: Statement
    words: tuple[str, ...]
    reach: int
    clause: bool


#: Tried in order: a sum inside a worked example is still an example.
_USE_RULES = (
    _UseRule("example", EXAMPLE_WORDS, EXAMPLE_REACH, clause=False),
    _UseRule("sum", SUM_WORDS, SUM_REACH, clause=True),
)


def statement_of(stream: TextStream, start: int) -> Statement:
    """Whether the number at text position ``start`` is a sum (一共是…) or in a worked example
    (比如…), from the words before it in the same utterance; words match on pinyin too."""
    for rule in _USE_RULES:
        if _said(stream, start, rule):
            return rule.use
    return "statement"


def _utterance_start(stream: TextStream, start: int) -> int:
    """The source position of the first character of the utterance holding text position
    ``start``: words of other utterances do not say how this number is used."""
    utt = stream.utterance[start] if stream.utterance else None
    first = start
    while first > 0 and stream.utterance and stream.utterance[first - 1] == utt:
        first -= 1
    return stream.source_span(first, first + 1)[0] if stream.source else first


def _said(stream: TextStream, start: int, rule: _UseRule) -> bool:
    """One of the rule's words, exactly or on pinyin (2+ characters), within its reach before
    the number at text position ``start``, in the same utterance (and clause if it asks)."""
    source = stream.source or stream.text
    s0, _ = stream.source_span(start, start + 1) if stream.source else (start, start + 1)
    a = max(_utterance_start(stream, start), s0 - rule.reach)
    before = source[a:s0]
    heard = syllables(before)
    for w in rule.words:
        n = len(w)
        target = syllables(w)
        for i in range(len(before) - n + 1):
            if before[i : i + n] != w and (n < 2 or heard[i : i + n] != target):
                continue
            if not rule.clause or _in_clause(stream, a + i + n, start, w):
                return True
    return False


def _in_clause(stream: TextStream, word_end: int, start: int, word: str) -> bool:
    """The word (ending at source position ``word_end``) is in the number's own clause (no
    pause between), or in the clause before it for words that end theirs (两个加起来，每年交…:
    ``CLAUSE_END_SUM_WORDS``)."""
    allowed = 1 if word in CLAUSE_END_SUM_WORDS else 0
    return _pauses_between(stream, word_end, start) <= allowed


def _pauses_between(stream: TextStream, source_end: int, start: int) -> int:
    """Pauses between source position ``source_end`` (just after a word) and the text
    character ``start`` (a number), counting one right before the number."""
    first = bisect_left(stream.source_index, source_end) if stream.source_index else source_end
    return sum(stream.breaks[max(first - 1, 0) : start])
