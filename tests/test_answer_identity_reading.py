"""The customer's yes to the identity question read by its sound in garbled words (issue 7,
dev seed 1 in babble and hum): 嗯，是我本人 came out as 信我被人, 轮起来,使我背叠, 很粹试我背影
(words at p 0.07-0.9, no character of a yes), while the closed set of the same stretch put 对
first by 0.95-1.1 nats per token; each reading alone was a guess, so the answer stayed a review.

Promise: two weak readings that agree pass — some run of the words sounds like 是我本人 (toneless
pinyin, the bar of ``answers.closest_answer``) with no 不/没 heard anywhere, and the closed set
of the stretch puts a yes first by ``closed_set_agree_lead``. Never passed: 不是我本人 / 不是 heard
with its 不 (however the closed set ranks it: it put 是我本人 first by 1.95 on a real 不是我本人
in hum), a reading whose closed set hears a no or leads by less than the agree lead, a hedge
(应该是吧, 我不确定), a question back (是我吗?), a stretch too long to hold only the yes, and a
later stretch that sounds like a no. Generated over the garbled readings seen and variants ×
the closed-set yeses of the identity answer × leads.
"""

from __future__ import annotations

import pytest

from inspection.answer_reading import sounded_yes
from inspection.closed_set import CANDIDATES, NEGATED, ClosedSetScore, summarise
from inspection.script_types import ScriptSettings
from inspection.speech import Utterance, Word
from tests.confirm_answer import answer, passes

ST = ScriptSettings()

#: Garbled readings of 是我本人 without a 是 (dev seed 1: 信我被人, 使我背叠, 试我背影) and
#: variants: the words alone say nothing a yes is matched by.
READINGS = (
    "信我被人", "嗯,信我被人", "使我背叠", "轮起来,使我背叠", "试我背影", "很粹试我背影",
    "时我被人", "湿我被捏", "心我背人", "使我被人", "哦,诗我北人",
)  # fmt: skip
#: The yeses the identity answer's closed set puts first (对, 没问题: no negated form; 是的
#: against 不是).
YES_FIRST = ("对", "没问题", "是我本人", "对是我本人", "是的")
#: 不是我本人 and 不是 with the 不 heard (free transcriptions of spliced 不是我本人 / 不是 clips
#: rendered in dev seed 1's babble and hum rooms with the dev voices).
NO_HEARD = (
    "不知我被人", "不准我表演", "不准我play", "不是我陪人", "不去我被人", "我们不去我个人",
    "不...不...去我的人", "不吃我飞龙", "不知我被捏", "不是我的眼", "不吃不飞煮", "不愁",
)  # fmt: skip
HEDGES = (
    "应该是吧", "应该是我本人吧", "我不确定", "好像是我本人", "可能是我本人", "也许信我被人",
    "应该信我被人", "我不确定是不是我本人",
)  # fmt: skip
QUESTIONS = ("是我吗?", "信我被人吗", "是我本人吗", "使我背叠?", "什么本人")
#: Garbled words that do not sound like 是我本人 (dev seed 1 and the renders): still a guess.
OTHER_GARBLE = ("失望再一遍", "叙我被人", "去我北京", "希望这一天", "四五百人", "我们表现")


def _table(first: str, lead: float, gap: float = 6.0, speech_s: float = 2.0) -> ClosedSetScore:
    """``first`` ahead of every answer of another kind by ``lead`` nats per token (什么意思 the
    runner-up), and of its own negated forms (if any) by ``gap`` in total."""
    mean = -2.0
    rows: list[tuple[str, float, float]] = []
    for p in CANDIDATES:
        n = max(1, len(p))
        if p == first:
            rows.append((p, mean * n, mean))
        elif p in NEGATED.get(first, ()):
            total = mean * len(first) - gap
            rows.append((p, total, min(total / n, mean - lead)))
        else:
            other = mean - lead - (0.0 if p == "什么意思" else 0.5)
            if CANDIDATES[p] == CANDIDATES[first]:
                other = mean - 0.5  # the same kind: never the runner-up
            rows.append((p, other * n, other))
    return summarise(tuple(rows), per_token=True, speech_s=speech_s)


def _words(text: str, p: float, score: ClosedSetScore | None, t0: float = 10.0) -> Utterance:
    words = [Word(t0 + 0.2 * i, t0 + 0.2 * (i + 1), ch, p) for i, ch in enumerate(text)]
    return Utterance("customer", t0, words[-1].end_s, text, words, closed_set=score)


AGREE = (ST.closed_set_agree_lead + 0.05, 0.6, 0.95)


@pytest.mark.parametrize("lead", AGREE)
@pytest.mark.parametrize("yes", YES_FIRST)
@pytest.mark.parametrize("reading", READINGS)
def test_a_garbled_identity_yes_with_an_agreeing_closed_set_passes(
    reading: str, yes: str, lead: float
) -> None:
    # dev seed 1 dev05: 嗯，是我本人 read 嗯,信我被人 (p 0.04-0.92), 对 first by 0.95 on its
    # region; dev14: 很粹试我背影, 对 first by 1.10 (3.4 s: too long per syllable for 对 alone).
    # Review before: the words matched no yes, and the closed set alone was below its margin.
    s = _table(yes, lead)
    assert s.kind == "affirmative" and s.phrase == yes and s.margin < ST.closed_set_margin
    assert passes([_words(reading, 0.3, s)])


@pytest.mark.parametrize("reading", READINGS)
def test_the_reading_alone_is_a_guess(reading: str) -> None:
    a = answer([_words(reading, 0.9, None)])
    assert a.kind == "affirmative" and a.score < 1.0
    assert not passes([_words(reading, 0.9, None)])


@pytest.mark.parametrize("lead", (0.0, 0.1, ST.closed_set_agree_lead - 0.05))
@pytest.mark.parametrize("yes", YES_FIRST)
@pytest.mark.parametrize("reading", READINGS)
def test_a_closed_set_lead_below_the_agree_lead_keeps_the_guess(
    reading: str, yes: str, lead: float
) -> None:
    # dev seed 1 dev10: 轮起来,使我背叠 with 对是我本人 first by 0.21: stays a review.
    assert not passes([_words(reading, 0.3, _table(yes, lead))])


@pytest.mark.parametrize("no", ("不是", "不是很明白", "什么意思", "不可以", "还不太懂"))
@pytest.mark.parametrize("reading", READINGS)
def test_a_reading_that_lost_its_bu_is_stopped_by_a_closed_set_that_hears_a_no(
    reading: str, no: str
) -> None:
    # 不是我本人 read without its 不: the stretch's closed set puts a no first.
    s = _table(no, ST.closed_set_doubt_margin + 0.05)
    assert s.kind != "affirmative"
    assert not passes([_words(reading, 0.3, s)])


@pytest.mark.parametrize("lead", (*AGREE, 1.95, 3.0))
@pytest.mark.parametrize("yes", YES_FIRST)
@pytest.mark.parametrize("heard", NO_HEARD)
def test_a_no_heard_with_its_bu_never_passes(heard: str, yes: str, lead: float) -> None:
    # In hum the closed set put 是我本人 first by 1.95 on a real 不是我本人 (read 不准我表演).
    assert not passes([_words(heard, 0.3, _table(yes, lead))])
    assert not passes([_words(heard, 0.9, _table(yes, lead))])


@pytest.mark.parametrize("yes", YES_FIRST)
@pytest.mark.parametrize("text", (*HEDGES, *QUESTIONS))
def test_hedges_and_questions_back_never_pass(text: str, yes: str) -> None:
    for p in (0.3, 0.9):
        assert not passes([_words(text, p, _table(yes, 0.95))]), p


@pytest.mark.parametrize("reading", READINGS)
def test_a_stretch_too_long_for_the_yes_alone_keeps_the_guess(reading: str) -> None:
    s = _table("对", 0.95, speech_s=ST.closed_set_max_s + 0.5)
    assert not passes([_words(reading, 0.3, s)])


@pytest.mark.parametrize("reading", READINGS)
def test_a_later_stretch_that_sounds_like_a_no_keeps_the_guess(reading: str) -> None:
    yes = _words(reading, 0.3, _table("对", 0.95))
    later = Utterance(
        "customer", 12.5, 14.0, "", uncertain="not_above_room",
        closed_set=_table("不是很明白", ST.closed_set_doubt_margin + 0.05),
    )  # fmt: skip
    assert passes([yes])
    assert not passes([yes, later])


@pytest.mark.parametrize("text", OTHER_GARBLE)
def test_words_that_do_not_sound_like_the_yes_stay_a_guess(text: str) -> None:
    assert sounded_yes(text) is None
    assert not passes([_words(text, 0.3, _table("对", 0.95))])
