"""Classify a customer's spoken answer to a confirmation question: affirmative, negative, unsure
or missing. Negation wins over affirmation ("不清楚" contains "清楚"); hedges count as unsure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from inspection.textnorm import normalize, pinyin

AnswerKind = Literal["affirmative", "negative", "unsure", "missing"]

# Words a customer uses to agree; "不"/"没" + one of them is a refusal.
_AGREE_WORDS = (
    "同意", "清楚", "明白", "知道", "了解", "理解", "懂", "愿意", "接受", "认可", "确认",
    "可以", "行", "对", "是", "要", "需要", "听懂", "听清", "听清楚", "记得",
)  # fmt: skip
_NOT_UNDERSTOOD = (
    "听懂", "听清", "听清楚", "听明白", "明白", "懂", "理解", "了解", "听到", "听见",
    "看懂", "看清", "看清楚", "同意",
)  # fmt: skip

#: Hedged negations, checked (and masked) before plain negations: 不太清楚 is unsure, not "no".
UNSURE_NEGATIONS: tuple[str, ...] = (
    "不太", "不是很", "不大", "不怎么", "不是特别", "不确定", "不一定", "不好说", "说不好",
    "说不清", "不好意思",
)  # fmt: skip
NEGATIVE: tuple[str, ...] = (
    *(f"不{w}" for w in _AGREE_WORDS),
    *(f"没{w}" for w in _NOT_UNDERSTOOD),
    *(f"没有{w}" for w in _NOT_UNDERSTOOD),
    "听不懂", "听不清", "听不明白", "看不懂", "看不清", "搞不懂", "搞不清", "弄不懂", "弄不明白",
    "拒绝", "反对", "不不", "不用",
)  # fmt: skip
UNSURE: tuple[str, ...] = (
    "再想想", "想一想", "想想", "考虑一下", "考虑考虑", "再考虑", "可能", "也许", "大概", "好像",
    "应该吧", "差不多", "还行吧", "随便", "无所谓", "等一下", "再说", "什么意思", "为什么",
    "怎么", "吗",
)  # fmt: skip
AFFIRMATIVE: tuple[str, ...] = (
    "是的", "是", "对", "对的", "没错", "清楚", "明白", "同意", "好的", "好", "行", "没问题",
    "没有问题", "可以", "知道", "了解", "理解", "懂", "确认", "愿意", "认可", "接受", "ok",
    "嗯好", "听清楚了",
)  # fmt: skip
#: Sounds that carry no answer by themselves (嗯 alone is not consent).
FILLERS = frozenset("嗯啊哦呃额唔噢哎诶欸呀吧呢么嘛")
_BARE_NO = frozenset({"不", "没", "没有", "不了"})

# A-不-A questions (是不是, 清不清楚, 同不同意): the customer is asking, not answering.
_A_NOT_A = re.compile(r"([^不没])不\1")


@dataclass(frozen=True)
class AnswerClass:
    """How an answer was classified and which phrase decided it."""

    kind: AnswerKind
    phrase: str | None


class _Text:
    """Normalised answer text with its pinyin, where matched spans get masked."""

    def __init__(self, text: str) -> None:
        self.chars = list(normalize(text))
        self.py = pinyin("".join(self.chars))

    def find(self, phrases: tuple[str, ...]) -> str | None:
        """First phrase found by characters, or by pinyin for phrases of 2+ syllables."""
        text = "".join(self.chars)
        for p in sorted(phrases, key=len, reverse=True):
            i = text.find(p)
            if i < 0 and len(p) >= 2:
                i = _find_seq(self.py, pinyin(p))
            if i >= 0:
                self.mask(i, i + len(p))
                return p
        return None

    def mask(self, start: int, end: int) -> None:
        for k in range(start, end):
            self.chars[k] = "□"
            self.py[k] = "□"

    def rest(self) -> str:
        return "".join(c for c in self.chars if c != "□")


def _find_seq(hay: list[str], needle: list[str]) -> int:
    n = len(needle)
    for i in range(len(hay) - n + 1):
        if hay[i : i + n] == needle:
            return i
    return -1


def classify_answer(text: str, expected: str | None = None) -> AnswerClass:
    """Classify an answer. ``expected`` (e.g. "没有" to "有没有疑问") counts as affirmative."""
    t = _Text(text)
    if not t.rest():
        return AnswerClass("missing", None)
    if expected:
        exp = normalize(expected)
        if exp and exp in "".join(t.chars) and not _negated_before(t, exp):
            return AnswerClass("affirmative", exp)
    unsure: str | None = None
    m = _A_NOT_A.search("".join(t.chars))
    if m:
        unsure = m.group()
        t.mask(m.start(), m.end())
    while (hedge := t.find(UNSURE_NEGATIONS)) is not None:
        unsure = unsure or hedge
    negative = t.find(NEGATIVE)
    if negative:
        return AnswerClass("negative", negative)
    unsure = unsure or t.find(UNSURE)
    if unsure:
        return AnswerClass("unsure", unsure)
    affirmative = t.find(AFFIRMATIVE)
    if affirmative:
        return AnswerClass("affirmative", affirmative)
    if t.rest() in _BARE_NO:
        return AnswerClass("negative", t.rest())
    return AnswerClass("unsure", None)  # something was said, but not an answer


def _negated_before(t: _Text, phrase: str) -> bool:
    text = "".join(t.chars)
    i = text.find(phrase)
    return i > 0 and text[i - 1] in "不没"


def is_filler_only(text: str) -> bool:
    """True when ``text`` holds only hesitation sounds (嗯, 啊, 呃...)."""
    norm = normalize(text)
    return bool(norm) and all(c in FILLERS for c in norm)
