"""Forbidden sales wording (R15): promised returns, deposit-like terms, inducements, superlatives.

Matched on characters and on pinyin (ASR writes 报本报息 for 保本保息), with guards that keep
false positives low: a negation just before the phrase suppresses it ("保险不是存款",
"不保证收益"), two-character phrases need a character in common on a pinyin match (限时 does
not fire on 显示), and per-phrase context rules (保单贷款利息, 您最好仔细阅读).

Whisper also writes a phrase with sound-alike syllables that are not homophones (稳赚不赔 ->
稳克不黑): a phrase of 4+ characters with at least two different characters right and the
other syllables close (same final or same initial; at most one unlike) is a "sound" hit, for
review only. So is a phrase of 4+ characters heard with one character inside it off, every other
one as it is ("inside": 稳定不赔); one off at an end is often another phrase (保证回复 is not
保证回报) and counts only on its similarity, as do two characters off. A two-character phrase
heard by sound must sit on word boundaries (jieba): 成为一级 does not contain 唯一, however
alike 为一 and 唯一 sound. A longer phrase heard in other characters may run into a word the recogniser wrote only when the phrase's own
characters make a word there too: 保证受益人 is 受益人 (the beneficiary), not 保证收益,
while 包正收益率 may still be 保证收益率. A phrase heard in its own syllables (a pinyin hit)
may cut a word the recogniser wrote only when the misheard last character alone, with the
phrase character's tone, is glued to the next word (停受冷 for 停售, 稳赚不陪伴 for 稳赚不赔);
never a first character glued to the word before (出现时 is not 限时).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import jieba
from pypinyin import Style
from pypinyin import pinyin as toned_readings

from inspection.textnorm import normalize, pinyin, similarity
from inspection.transcript import TextStream


@dataclass(frozen=True)
class ForbiddenPhrase:
    """A phrase to flag, with optional context rules (all on normalised text)."""

    text: str
    category: str = "custom"  # guaranteed_return | deposit | inducement | superlative | custom
    not_after: tuple[str, ...] = ()  # skip when one of these ends right before the phrase
    not_before: tuple[str, ...] = ()  # skip when one of these starts right after it
    only_before: tuple[str, ...] = ()  # fire only when followed by one of these or by a pause


DEFAULT_LEXICON: tuple[ForbiddenPhrase, ...] = (
    ForbiddenPhrase("保本保息", "guaranteed_return"),
    ForbiddenPhrase("稳赚不赔", "guaranteed_return"),
    ForbiddenPhrase("保证收益", "guaranteed_return"),
    ForbiddenPhrase("保证回报", "guaranteed_return"),
    ForbiddenPhrase("零风险", "guaranteed_return"),
    ForbiddenPhrase("无风险", "guaranteed_return"),
    ForbiddenPhrase("保本", "guaranteed_return"),
    ForbiddenPhrase("存款", "deposit"),
    # 保单贷款的利息 is a legitimate policy term; the deposit-like "利息" is not.
    ForbiddenPhrase("利息", "deposit", not_after=("贷款", "贷款的", "借款", "借款的", "欠款")),
    # 理赔款存入您的账户 is how money is paid out; "把钱存入" likens premium to a deposit.
    ForbiddenPhrase("存入", "deposit", not_before=("您的账户", "账户", "您的银行卡", "银行卡")),
    ForbiddenPhrase("停售", "inducement"),
    ForbiddenPhrase("返佣", "inducement"),
    ForbiddenPhrase("返现", "inducement"),
    ForbiddenPhrase("秒杀", "inducement"),
    ForbiddenPhrase("限时", "inducement"),
    # "您最好仔细阅读" is advice; "最好的产品" / "...是最好" is a superlative claim.
    ForbiddenPhrase("最好", "superlative", only_before=("的", "不过", "产品", "保险")),
    ForbiddenPhrase("唯一", "superlative"),
)

#: Words that, ending at most ``negation_gap`` characters before a phrase, negate it
#: (one-character ones only when right before it).
NEGATIONS: tuple[str, ...] = (
    "不", "没", "没有", "无", "非", "并非", "而非", "不是", "并不", "绝不", "不会", "不能",
    "不得", "不可", "禁止", "不属于", "不同于", "不等于", "区别于", "有别于", "不承诺",
    "不代表", "不存在",
)  # fmt: skip
# Words that start with 不 but do not negate what follows.
_NOT_NEGATIONS = ("不管", "不论", "不仅", "不但", "不光", "不只")


@dataclass(frozen=True)
class ForbiddenHit:
    """One forbidden phrase found in a participant's speech."""

    phrase: str
    category: str
    matched: str  # the transcript characters that matched
    how: str  # "chars" | "pinyin" | "inside" | "fuzzy" | "sound"
    score: float  # 1.0 same characters, 0.95 same pinyin, else char+pinyin similarity
    participant: str
    start_s: float
    end_s: float
    context: str  # a few characters around the match
    confidence: float = 1.0  # lowest word probability of the matched characters (0-1)


def lexicon_with(
    extra: Iterable[str], base: Sequence[ForbiddenPhrase] = DEFAULT_LEXICON
) -> list[ForbiddenPhrase]:
    """The base lexicon plus a template's own phrases (as "custom"), without duplicates."""
    out = list(base)
    seen = {normalize(p.text) for p in out}
    for text in extra:
        norm = normalize(text)
        if norm and norm not in seen:
            out.append(ForbiddenPhrase(norm, "custom"))
            seen.add(norm)
    return out


def _match_kind(window: str, wpy: Sequence[str], phrase: str, ppy: list[str]) -> str | None:
    if window == phrase:
        return "chars"
    same_chars = sum(a == b for a, b in zip(window, phrase, strict=True))
    if list(wpy) == ppy:
        # Two syllables are too easy to hit by chance (限时/显示): need one character in common.
        return "pinyin" if len(phrase) > 2 or same_chars >= 1 else None
    if len(phrase) >= 4:
        diff = sum(a != b for a, b in zip(wpy, ppy, strict=True))
        if diff == 1 and same_chars * 2 >= len(phrase):
            # One character inside the phrase misheard, every other one heard as it is (稳定
            # 不赔 for 稳赚不赔): review whatever the similarity. One off at an end is often
            # another phrase (保证回复 is not 保证回报), and with two characters off a garble of
            # other words (保证需保, babble probe): there only the similarity decides.
            ends = window[0] == phrase[0] and window[-1] == phrase[-1]
            return "inside" if ends and same_chars == len(phrase) - 1 else "fuzzy"
        if _sounds_alike(window, wpy, phrase, ppy):
            return "sound"
    return None


_INITIALS = ("zh", "ch", "sh", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q",
             "x", "r", "z", "c", "s", "y", "w")  # fmt: skip


def _split(syllable: str) -> tuple[str, str]:
    for ini in _INITIALS:
        if syllable.startswith(ini):
            return ini, syllable[len(ini) :]
    return "", syllable


def _close(a: str, b: str) -> bool:
    (ia, fa), (ib, fb) = _split(a), _split(b)
    return a == b or (fa != "" and fa == fb) or (ia != "" and ia == ib)


def _sounds_alike(window: str, wpy: Sequence[str], phrase: str, ppy: list[str]) -> bool:
    same = {c for c, d in zip(window, phrase, strict=True) if c == d}
    n_same = sum(c == d for c, d in zip(window, phrase, strict=True))
    if len(same) < 2 or n_same * 2 < len(phrase):
        return False
    rest = [(a, b) for a, b, c, d in zip(wpy, ppy, window, phrase, strict=True) if c != d]
    far = sum(not _close(a, b) for a, b in rest)
    return far <= 1 and far < len(rest)


def _sound_score(wpy: Sequence[str], ppy: list[str]) -> float:
    marks = [1.0 if a == b else 0.5 if _close(a, b) else 0.0 for a, b in zip(wpy, ppy, strict=True)]
    return round(sum(marks) / len(marks), 4)


def _on_word_boundaries(text: str, start: int, end: int, reach: int = 6) -> bool:
    # Segment a little context around the match: the match must not cut a word in two.
    lo = max(0, start - reach)
    cuts = {lo + a for _w, a, _b in jieba.tokenize(text[lo : end + reach])}
    cuts |= {lo + b for _w, _a, b in jieba.tokenize(text[lo : end + reach])}
    return start in cuts and end in cuts


def _homophone_ran_on(text: str, start: int, end: int, phrase: str, reach: int = 6) -> bool:
    """Whether only the phrase's misheard last character is glued to a word after the match.

    Whisper writes a misheard syllable as a character that may make a word with the next one
    (停售冷 -> 停受冷: 受冷 is a word, 售冷 is not), while the phrase's own character stands alone.
    A chance hit across words glues the phrase's own character to a neighbour instead (成为一级:
    一 belongs to 一级; 因为一年: to 一年), and that is still no hit; so is a glued word whose
    character has another tone than the phrase's (限使用 is 使用, shi3, not 限时, shi2).
    """
    lo = max(0, start - reach)
    for _w, a, b in jieba.tokenize(text[lo : end + reach]):
        a, b = a + lo, b + lo
        if a < start < b:
            # Glued to the word before: a word ending in a homophone of the phrase's first
            # character is said all the time (出现时, 发现时, 在线时 all read xian4 shi2 like
            # 限时), far more often than the first syllable is misheard into one.
            return False
        if not a < end < b:
            continue
        inside = range(max(a, start), min(b, end))
        if any(
            text[k] == phrase[k - start] or not _same_tone(text[k], phrase[k - start])
            for k in inside
        ):
            return False
    return True


def _same_tone(a: str, b: str) -> bool:
    # A misheard syllable comes back with its tone (受 for 售, both shou4); a word said with
    # another tone (收费 shou1, 豪华 hao2 for 好 hao3, 使用 shi3 for 时 shi2) was likely said.
    def readings(ch: str) -> set[str]:
        return set(toned_readings(ch, style=Style.TONE3, heteronym=True)[0])

    return bool(readings(a) & readings(b))


def _fits_words(stream: TextStream, start: int, end: int, phrase: str, reach: int = 6) -> bool:
    """Whether each word the match runs into would still be a word with the phrase's characters.

    The recogniser writes whole words, so a homophone that is part of a longer word it wrote
    (受益 in 受益人) was most likely that word; the phrase fits only where its own characters
    make a word with the rest (收益 in 收益率). Only dictionary words within one stretch of
    speech count: jieba also glues unknown characters together, and across a pause.
    """
    text, breaks = stream.text, stream.breaks
    lo = max(0, start - reach)
    lo = max([lo] + [j + 1 for j in range(lo, start) if breaks[j]])
    hi = min(len(text), end + reach)
    hi = min([hi] + [j + 1 for j in range(end - 1, hi) if breaks[j]])
    for word, a, b in jieba.tokenize(text[lo:hi]):
        a, b = a + lo, b + lo
        if not ((a < start < b) or (a < end < b)) or not jieba.get_FREQ(word):
            continue
        left, right = max(a, start), min(b, end)
        spelled = text[a:left] + phrase[left - start : right - start] + text[right:b]
        if not jieba.get_FREQ(spelled):
            return False
    return True


def _negated(text: str, start: int, gap: int) -> bool:
    before = text[max(0, start - gap - 4) : start]
    for neg in NEGATIONS:
        at = before.rfind(neg)
        # One-character negations (不, 没) only count right before the phrase: the 不 of
        # "稳赚不赔比存款" must not excuse 存款.
        allowed = gap if len(neg) > 1 else 0
        if at < 0 or len(before) - (at + len(neg)) > allowed:
            continue
        if any(before[at:].startswith(w) for w in _NOT_NEGATIONS):
            continue
        return True
    return False


def _context_ok(stream: TextStream, p: ForbiddenPhrase, start: int, end: int) -> bool:
    text = stream.text
    if any(text[:start].endswith(w) for w in p.not_after):
        return False
    if any(text[end:].startswith(w) for w in p.not_before):
        return False
    if p.only_before:
        pause = end >= len(text) or stream.breaks[end - 1]
        return pause or any(text[end:].startswith(w) for w in p.only_before)
    return True


def _score(how: str, matched: str, phrase: str) -> float:
    if how == "chars":
        return 1.0
    if how == "pinyin":
        return 0.95
    if how == "sound":
        return _sound_score(pinyin(matched), pinyin(phrase))
    return round(similarity(matched, phrase), 4)


def find_forbidden(
    stream: TextStream,
    lexicon: Sequence[ForbiddenPhrase] = DEFAULT_LEXICON,
    negation_gap: int = 2,
    context_chars: int = 8,
) -> list[ForbiddenHit]:
    """Forbidden phrases spoken in ``stream``, longest first where hits overlap, in time order."""
    text = stream.text
    hits: list[tuple[int, int, ForbiddenPhrase, str]] = []
    for p in lexicon:
        phrase = normalize(p.text)
        n = len(phrase)
        if not n:
            continue
        ppy = pinyin(phrase)
        for i in range(len(text) - n + 1):
            how = _match_kind(text[i : i + n], stream.pinyin[i : i + n], phrase, ppy)
            if how is None or _negated(text, i, negation_gap):
                continue
            # Two syllables are easy to hear by chance across words: they must be a word.
            if how != "chars" and n <= 2 and not _on_word_boundaries(text, i, i + n):
                if how != "pinyin" or not _homophone_ran_on(text, i, i + n, phrase):
                    continue
            if how != "chars" and n > 2 and not _fits_words(stream, i, i + n, phrase):
                # The same misheard last syllable glued forward (稳赚不陪伴 for 稳赚不赔):
                # every syllable of the phrase was heard, only the word cut is off.
                if how != "pinyin" or not _homophone_ran_on(text, i, i + n, phrase):
                    continue
            if _context_ok(stream, p, i, i + n):
                hits.append((i, i + n, p, how))
    # Longest first, but a "fuzzy" hit (one syllable off at an end: the rules keep it only at
    # forbidden_similarity) never hides a stronger one: 保本保险 is 保本, whatever 保本保息.
    hits.sort(key=lambda h: (h[3] == "fuzzy", -(h[1] - h[0]), h[0]))
    kept: list[tuple[int, int, ForbiddenPhrase, str]] = []
    for h in hits:
        if all(h[1] <= k[0] or h[0] >= k[1] for k in kept):
            kept.append(h)
    kept.sort(key=lambda h: h[0])
    out = []
    for start, end, p, how in kept:
        t0, t1 = stream.span_times(start, end)
        out.append(
            ForbiddenHit(
                phrase=p.text,
                category=p.category,
                matched=text[start:end],
                how=how,
                score=_score(how, text[start:end], p.text),
                participant=stream.participant,
                start_s=round(t0, 3),
                end_s=round(t1, 3),
                context=text[max(0, start - context_chars) : end + context_chars],
                confidence=round(stream.confidence(start, end), 3) if stream.prob else 1.0,
            )
        )
    return out
