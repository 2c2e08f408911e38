"""How a sentence uses a spoken number: a policy value stated, a sum over products or years
(一共是十二万元), or a worked example (比如您每年交一万元...). Only statements are compared
with the policy's value for the field.
"""

from __future__ import annotations

from bisect import bisect_left
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


def statement_of(stream: TextStream, start: int) -> Statement:
    """Whether the number at text position ``start`` is a sum (一共是…) or in a worked example
    (比如…), from the words before it in the same utterance; words match on pinyin too."""
    source = stream.source or stream.text
    s0, _ = stream.source_span(start, start + 1) if stream.source else (start, start + 1)
    utt = stream.utterance[start] if stream.utterance else None
    first = start
    while first > 0 and stream.utterance and stream.utterance[first - 1] == utt:
        first -= 1
    lo = stream.source_span(first, first + 1)[0] if stream.source else first

    def said(words: tuple[str, ...], reach: int, clause: bool = False) -> bool:
        """One of ``words`` within ``reach`` source characters before the number; with
        ``clause``, only in the number's own clause (no pause between), or the clause
        before it for words that end theirs (两个加起来，每年交…)."""
        a = max(lo, s0 - reach)
        before = source[a:s0]
        heard = syllables(before)
        for w in words:
            n = len(w)
            target = syllables(w)
            for i in range(len(before) - n + 1):
                if before[i : i + n] != w and (n < 2 or heard[i : i + n] != target):
                    continue
                pauses = _pauses_between(stream, a + i + n, start) if clause else 0
                if pauses <= (1 if w in CLAUSE_END_SUM_WORDS else 0):
                    return True
        return False

    if said(EXAMPLE_WORDS, EXAMPLE_REACH):
        return "example"
    if said(SUM_WORDS, SUM_REACH, clause=True):
        return "sum"
    return "statement"


def _pauses_between(stream: TextStream, source_end: int, start: int) -> int:
    """Pauses between source position ``source_end`` (just after a word) and the text
    character ``start`` (a number), counting one right before the number."""
    first = bisect_left(stream.source_index, source_end) if stream.source_index else source_end
    return sum(stream.breaks[max(first - 1, 0) : start])
