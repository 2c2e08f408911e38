"""A yes heard only by its sound in a part of garbled words (issue 7: identity answers in babble
and hum).

Whisper base reads the customer's "嗯，对，是我本人" in a noisy room as 信我被人, 很累,是我被捏,
轮起来,使我背叠 or 很粹试我背影: no character of a yes, so the words said nothing and only the
closed set was left, which for the identity question puts 对 or 没问题 first by too little (and
has no negated form to weigh them against: ``closed_set.NEGATED``). The syllables still hold
the answer: *shi wo bei nie*, *xin wo bei ren* are as close to *shi wo ben ren* as the answers
:func:`inspection.answers.closest_answer` already takes from whole words. Such a part makes the
words a guessed yes (score < 1), never a clear one: it passes only where the two-weak-readings
rule of ``script_answers`` lets it (the closed set of the stretch also puts a yes first), and
never with a 不/没 heard anywhere in the words.
"""

from __future__ import annotations

from rapidfuzz import fuzz

from inspection.answers import AnswerClass, heard_negation
from inspection.textnorm import normalize, pinyin

#: Yes answers of four syllables or more, found by the sound of any part of the words as long
#: as the answer. Shorter ones are left to :func:`~inspection.answers.closest_answer` on the
#: whole words: two or three syllables are found by chance in any garbled line.
SOUNDED_YES: tuple[str, ...] = ("是我本人",)
#: How close (0-1, rapidfuzz ratio of toneless pinyin) the part must be: the bar of
#: :func:`~inspection.answers.closest_answer`.
MIN_SIMILARITY = 0.75


def sounded_yes(text: str) -> AnswerClass | None:
    """A guessed yes (score below 1) when some run of ``text``'s Han syllables sounds like one of
    :data:`SOUNDED_YES` (``MIN_SIMILARITY``), with no 不/没 anywhere in ``text``; else None."""
    if heard_negation(text):
        return None  # 不知我被人 is 不是我本人 heard with its 不: never a yes
    norm = normalize(text)
    # Han syllables only: fillers stay (嗯 is "n"), Latin letters the decoder left do not count.
    said = [s for ch, s in zip(norm, pinyin(norm), strict=True) if "\u4e00" <= ch <= "\u9fff"]
    best: tuple[float, str] | None = None
    for phrase in SOUNDED_YES:
        want = " ".join(pinyin(phrase))
        n = len(phrase)
        for i in range(len(said) - n + 1):
            score = fuzz.ratio(" ".join(said[i : i + n]), want) / 100.0
            if best is None or score > best[0]:
                best = (score, phrase)
    if best is None or best[0] < MIN_SIMILARITY:
        return None
    return AnswerClass("affirmative", best[1], min(round(best[0], 3), 0.99))
