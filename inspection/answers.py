"""Classify a customer's spoken answer to a confirmation question: affirmative, negative, unsure,
missing or unrecognised. Negations and hedges win over affirmation at any distance ("我不太清楚"
contains "清楚", so does "清楚是清楚，不过我再想想"); a question back is never an affirmative.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz

from inspection.textnorm import normalize, pinyin

AnswerKind = Literal["affirmative", "negative", "unsure", "missing", "unrecognised"]

# Words a customer uses to agree; "不"/"没" + one of them is a refusal.
_AGREE_WORDS = (
    "同意", "清楚", "明白", "知道", "了解", "理解", "懂", "愿意", "接受", "认可", "确认",
    "可以", "行", "对", "是", "要", "需要", "听懂", "听清", "听清楚", "记得",
)  # fmt: skip
_NOT_UNDERSTOOD = (
    "听懂", "听清", "听清楚", "听明白", "明白", "懂", "理解", "了解", "听到", "听见",
    "看懂", "看清", "看清楚", "同意",
)  # fmt: skip

#: Agreement idioms that contain a negation or question character: masked first, so that
#: 没问题 is not read as 没 + something, nor 没什么问题 as a question (什么).
IDIOMS: tuple[str, ...] = (
    "没问题", "没有问题", "没什么问题", "没啥问题", "没疑问", "没有疑问", "没什么疑问", "没错",
    "没关系",
)  # fmt: skip
#: Hedged negations, checked (and masked) before plain negations: 不太清楚 is unsure, not "no".
UNSURE_NEGATIONS: tuple[str, ...] = (
    "不太", "不是很", "不大", "不怎么", "没怎么", "不是特别", "不是太", "没太", "不确定",
    "不一定", "不好说", "说不好", "说不清", "不好意思", "还没", "不完全", "没完全", "不全",
)  # fmt: skip
NEGATIVE: tuple[str, ...] = (
    *(f"不{w}" for w in _AGREE_WORDS),
    *(f"没{w}" for w in _NOT_UNDERSTOOD),
    *(f"没有{w}" for w in _NOT_UNDERSTOOD),
    "听不懂", "听不清", "听不明白", "看不懂", "看不清", "搞不懂", "搞不清", "弄不懂", "弄不明白",
    "拒绝", "反对", "不不", "不用",
)  # fmt: skip
#: 应该 is a guess however it goes on (应该是吧, 应该是我本人吧): 应该吧 alone was listed, and
#: 应该是吧 read as 是, a clear yes.
UNSURE: tuple[str, ...] = (
    "再想想", "想一想", "想想", "考虑一下", "考虑考虑", "再考虑", "可能", "也许", "大概", "好像",
    "应该吧", "应该", "差不多", "还行吧", "随便", "无所谓", "等一下", "再说", "什么意思", "为什么",
    "怎么", "吗", "啥意思", "为啥", "多少", "什么", "能不能", "可不可以", "有没有", "是否",
    "不过", "但是", "可是",
)  # fmt: skip
#: Deferring the decision (我再考虑一下, 我要跟家里商量商量, 让我想一下, 改天吧): not consent,
#: however it starts (好的，让我想一下). A stem counts unless what follows it says the thinking
#: is over (考虑好了, 商量过了, 想清楚了: :data:`SETTLED`, a yes). Matched on characters and
#: toneless pinyin like every hedge (Whisper writes 考慮, or 商量 as 上量), but 改天 on
#: characters only (gai tian is also 该填). 回头再说 / 以后再说 end in 再说 (:data:`UNSURE`);
#: 回头 alone is left out (hui tou is also 会投, and 回头我再看看条款 may follow a yes).
DEFERRALS: tuple[str, ...] = ("考虑", "商量", "想一下", "想一想", "想想", "再看看", "改天")
_CHARS_ONLY = frozenset({"改天"})
SETTLED: tuple[str, ...] = ("好", "清楚", "明白", "过", "了", "完", "妥")
#: Latin words an answer may be made of; any other text without a Chinese character (a lone
#: "4" or "G" left by the decoder) is unrecognised speech, not an answer.
LATIN_ANSWERS: frozenset[str] = frozenset({"ok", "okay", "yes", "no", "en", "um"})
AFFIRMATIVE: tuple[str, ...] = (
    "是的", "是", "对", "对的", "没错", "清楚", "明白", "同意", "好的", "好", "行", "没问题",
    "没有问题", "可以", "知道", "了解", "理解", "懂", "确认", "愿意", "认可", "接受", "ok",
    "嗯好", "听清楚了",
)  # fmt: skip
#: Sounds that carry no answer by themselves (嗯 alone is not consent).
FILLERS = frozenset("嗯啊哦呃额唔噢哎诶欸呀吧呢么嘛")
_BARE_NO = frozenset({"不", "没", "没有", "不了"})

# A-不-A questions (是不是, 清不清楚, 同不同意): the customer is asking, not answering.
_A_NOT_A = re.compile(r"([^不没])[不没]\1")
# A negation with a modal between it and the agree word (不能同意, 没有完全听懂, 不会接受).
_AGREE_RE = "|".join(
    sorted({*_AGREE_WORDS, *_NOT_UNDERSTOOD} - {"是", "对", "要", "行"}, key=len, reverse=True)
)
_NEGATED = re.compile(rf"(?:不|没有|没)(?:能|会|想|敢|愿|都|全|是|太会|怎么会)?(?:{_AGREE_RE})")
_QUESTION_MARKS = "?？"
_STRAY_NEGATION = re.compile(r"[不没].?")
#: A hedge whose 不/没 the decoder lost or misheard (in babble, "不太清楚" came out as 苏太清楚了):
#: what follows the negation of a hedge (不太, 不是很, 不怎么 ...) right before an agree word.
#: Never a clear yes ("太清楚了" as an eager yes is rare; a hedge that passes is the worst miss).
_LOST_HEDGE = re.compile(f"(?:是特别|是很|是太|怎么|太)(?:{_AGREE_RE})")


@dataclass(frozen=True)
class AnswerClass:
    """How an answer was classified and which phrase decided it.

    ``score`` is 1.0 for a phrase found by characters or exact pinyin, lower when the text was
    only close to one of the answers a question can take (:func:`closest_answer`).
    """

    kind: AnswerKind
    phrase: str | None
    score: float = 1.0


class _Text:
    """Normalised answer text with its pinyin, where matched spans get masked."""

    def __init__(self, text: str) -> None:
        self.chars = list(normalize(text))
        self.py = pinyin("".join(self.chars))
        self._said, self._said_py = "".join(self.chars), list(self.py)  # never masked

    def find(self, phrases: tuple[str, ...]) -> str | None:
        """First phrase found by characters, or by pinyin for phrases of 2+ syllables."""
        text = "".join(self.chars)
        for p in sorted(phrases, key=len, reverse=True):
            i = text.find(p)
            if i < 0 and len(p) >= 2:
                i = _find_seq(self.py, _phrase_pinyin(p))
            if i >= 0:
                self.mask(i, i + len(p))
                return p
        return None

    def positions(self, phrase: str, by_pinyin: bool = True) -> list[int]:
        """Every start of ``phrase`` in what is not masked yet, by characters (or by pinyin)."""
        text, want = "".join(self.chars), _phrase_pinyin(phrase)
        n = len(phrase)
        return [
            i
            for i in range(len(self.chars) - n + 1)
            if text[i : i + n] == phrase or (by_pinyin and self.py[i : i + n] == want)
        ]

    def followed_by(self, end: int, phrases: tuple[str, ...]) -> bool:
        """Whether one of ``phrases`` was said at ``end`` (masked or not: 考虑清楚 with 清楚
        taken as the expected answer), by characters or by pinyin."""
        text, py = self._said, self._said_py
        return any(
            text[end : end + len(p)] == p or py[end : end + len(p)] == _phrase_pinyin(p)
            for p in phrases
        )

    def mask(self, start: int, end: int) -> None:
        for k in range(start, end):
            self.chars[k] = "□"
            self.py[k] = "□"

    def rest(self) -> str:
        return "".join(c for c in self.chars if c != "□")


@functools.lru_cache(maxsize=1024)
def _phrase_pinyin(phrase: str) -> list[str]:
    return pinyin(phrase)


def _find_seq(hay: list[str], needle: list[str]) -> int:
    n = len(needle)
    for i in range(len(hay) - n + 1):
        if hay[i : i + n] == needle:
            return i
    return -1


def classify_answer(text: str, expected: str | None = None) -> AnswerClass:
    """Classify an answer. ``expected`` (e.g. "没有" to "有没有疑问") counts as affirmative, but
    only when no negation, hedge or question back occurs anywhere in the answer."""
    raw = text.strip()
    t = _Text(text)
    if not t.rest():
        return AnswerClass("missing", None)
    if not any(_is_han(c) for c in t.rest()) and t.rest() not in LATIN_ANSWERS:
        return AnswerClass("unrecognised", None)  # "4", "G": decoder garbage, not an answer
    exp = normalize(expected) if expected else ""
    question = raw.rstrip("。.!！…~ ").endswith(tuple(_QUESTION_MARKS))
    if exp and "".join(t.chars) == exp and not question:
        return AnswerClass("affirmative", exp)  # the whole answer is the expected one
    idiom = t.find(IDIOMS)
    unsure: str | None = None
    m = _A_NOT_A.search("".join(t.chars))
    if m:
        unsure = m.group()
        t.mask(m.start(), m.end())
    while (hedge := t.find(UNSURE_NEGATIONS)) is not None:
        unsure = unsure or hedge
    negative = t.find(NEGATIVE) or _find_negated(t)
    if negative:
        return AnswerClass("negative", negative)
    if exp and exp in "".join(t.chars):
        # 没有 to 有没有疑问: the expected answer itself contains a negation word.
        t.mask("".join(t.chars).index(exp), "".join(t.chars).index(exp) + len(exp))
        idiom = idiom or exp
    unsure = unsure or t.find(UNSURE) or _find_deferral(t)
    if unsure is None and question:
        unsure = "？"  # said as a question back ("清楚？")
    if unsure:
        return AnswerClass("unsure", unsure)
    lost_hedge = _LOST_HEDGE.search("".join(t.chars))
    if lost_hedge is not None:
        return AnswerClass("unsure", lost_hedge.group(), 0.99)  # a guess that 不 was lost: review
    affirmative = idiom or t.find(AFFIRMATIVE)
    if affirmative:
        stray = _STRAY_NEGATION.search("".join(t.chars))
        if stray is not None:
            # A 不/没 left beside the yes once idioms, hedges and negations are taken out: the
            # words around it were misheard ("不是很明白" heard as "不需很明白") or it asks
            # back (清楚不). Never a clear yes.
            return AnswerClass("unsure", stray.group())
        return AnswerClass("affirmative", affirmative)
    if t.rest() in _BARE_NO:
        return AnswerClass("negative", t.rest())
    # Nothing matched: the closest answer the question can take, if any is close (score < 1).
    return closest_answer(t.rest()) or AnswerClass("unsure", None)


#: A decoding loop: a unit of 1-4 characters three or more times in a row, with or without
#: "..." or commas between ("或...或...或...", "我们我们我们", "什么，什么，什么").
_LOOP = re.compile(r"(.{1,4}?)(?:[.。…,，、 ]*\1){2,}")
_LOOP_GLUE = re.compile(r"[.。…,，、 ]+")


def is_decoder_loop(text: str) -> bool:
    """True when ``text`` is mostly a decoder's repetition loop (at least half its characters,
    punctuation aside, in units repeated three or more times): garbage, not words a customer
    said. Whisper falls into such loops on a short answer it cannot read (dev07's "哦，我同意"
    came out as "或...或...或..." x 140)."""
    bare = _LOOP_GLUE.sub("", text.strip())
    if len(bare) < 3:
        return False
    looped = sum(len(_LOOP_GLUE.sub("", m.group())) for m in _LOOP.finditer(text))
    return looped * 2 >= len(bare)


def heard_negation(text: str) -> str | None:
    """The first 不/没 in ``text`` outside agreement idioms (没问题, 没错 ...), or None. A
    customer's words that carry one are never turned into a clear yes by the closed set, however
    garbled the rest ("我不愿意" heard as 我不念意 scored 我同意 first by 0.78 nats per token)."""
    t = _Text(text)
    while t.find(IDIOMS) is not None:
        pass
    m = re.search("[不没]", "".join(t.chars))
    return m.group() if m else None


def loop_says_no(cls: AnswerClass) -> bool:
    """For a decoder loop read as ``cls``: True when it still carries a refusal or a hedge
    (不同意，不同意，不同意… or 不太清楚… is kept: a heard 不/没 always counts); a question word
    or nothing readable in a loop is garbage, not a question back or an unsure answer."""
    return cls.kind == "negative" or (
        cls.kind == "unsure" and cls.phrase is not None and any(c in cls.phrase for c in "不没")
    )


def _find_deferral(t: _Text) -> str | None:
    """The first :data:`DEFERRALS` stem in ``t`` not followed by a :data:`SETTLED` word
    (masked), or None."""
    for stem in sorted(DEFERRALS, key=len, reverse=True):
        for i in t.positions(stem, by_pinyin=stem not in _CHARS_ONLY):
            if not t.followed_by(i + len(stem), SETTLED):
                t.mask(i, i + len(stem))
                return stem
    return None


def _find_negated(t: _Text) -> str | None:
    m = _NEGATED.search("".join(t.chars))
    if m is None:
        return None
    t.mask(m.start(), m.end())
    return m.group()


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


#: The answers a confirmation question can take, for :func:`closest_answer`.
CLOSED_SET: dict[str, AnswerKind] = {
    "同意": "affirmative", "我同意": "affirmative", "是的我同意": "affirmative",
    "清楚": "affirmative", "我清楚": "affirmative", "清楚了": "affirmative",
    "明白": "affirmative", "明白了": "affirmative", "好的": "affirmative", "是的": "affirmative",
    "没问题": "affirmative", "知道了": "affirmative", "理解": "affirmative", "可以": "affirmative",
    "不同意": "negative", "不清楚": "negative", "不明白": "negative", "没听懂": "negative",
    "不知道": "negative", "不理解": "negative", "不可以": "negative",
    "不太清楚": "unsure", "不太明白": "unsure", "再想想": "unsure", "不确定": "unsure",
}  # fmt: skip


def closest_answer(text: str, min_score: float = 0.75) -> AnswerClass | None:
    """The closed-set answer whose toneless pinyin is closest to ``text``'s, when its
    similarity is at least ``min_score`` (0-1); for words the decoder got half right
    ("听意" for 同意). Ties go to the non-affirmative answer: doubt must not turn into consent."""
    py = " ".join(pinyin(normalize(text)))
    if not py:
        return None
    rank = {"negative": 0, "unsure": 1, "affirmative": 2}
    best: tuple[float, int, str] | None = None
    for phrase, kind in CLOSED_SET.items():
        score = fuzz.ratio(py, " ".join(_phrase_pinyin(phrase))) / 100.0
        key = (round(score, 3), -rank[kind], phrase)
        if best is None or key > best:
            best = key
    if best is None or best[0] < min_score:
        return None
    return AnswerClass(CLOSED_SET[best[2]], best[2], best[0])


def is_filler_only(text: str) -> bool:
    """True when ``text`` holds only hesitation sounds (嗯, 啊, 呃...)."""
    norm = normalize(text)
    return bool(norm) and all(c in FILLERS for c in norm)
