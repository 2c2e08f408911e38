"""The customer's answer in babble and hum (issue 7): what the closed set may and may not decide
when the free transcription is weak. Generated over the class: every yes the closed set weighs
against its negations, every hedge and refusal it can score, every reason speech is kept
unrecognised.

- Two weak readings that agree (words heard as a yes, unsure; the closed set of the same
  stretch puts a yes first) pass; they did not before (review).
- A yes that rests on the closed set never passes while another stretch of the window, from the
  answer on, sounds like a hedge or a refusal (before: the widest margin of any stretch won,
  so a stretch of noise could outvote a hedge).
- Speech nobody recognised that covers the answer window is "unrecognised" (review), never
  "no answer" (fail), also when its region began before the window.
"""

from __future__ import annotations

import pytest

from inspection.closed_set import CANDIDATES, NEGATED, PAIR_BASE, ClosedSetScore, summarise
from inspection.script_types import ScriptSettings
from inspection.speech import UNCERTAIN_REASONS, Utterance, Word
from tests.confirm_answer import ALIGNED, answer, passes

ST = ScriptSettings()
NOT_YES = sorted(p for p, k in CANDIDATES.items() if k != "affirmative")


def _yes_table(yes: str, lead: float, gap: float, speech_s: float = 2.0) -> ClosedSetScore:
    """``yes`` first by ``lead`` nats per token, ahead of its own negated forms by ``gap`` in
    total."""
    rows: list[tuple[str, float, float]] = []
    mean = -2.0
    for p in CANDIDATES:
        n = max(1, len(p))
        if p == yes:
            rows.append((p, mean * n, mean))
        elif p == PAIR_BASE.get(yes):
            rows.append((p, mean * n, mean - 0.05))
        elif p in NEGATED.get(yes, ()):
            total = mean * len(PAIR_BASE.get(yes, yes)) - gap
            rows.append((p, total, min(total / n, mean - lead)))
        else:
            other = mean - lead - (0.0 if p == "什么意思" else 0.5)
            rows.append((p, other * n, other))
    return summarise(tuple(rows), per_token=True, speech_s=speech_s)


def _no_table(no: str, lead: float) -> ClosedSetScore:
    """``no`` (a hedge or refusal) first by ``lead`` nats per token over every yes."""
    rows = [(p, -4.0 * max(1, len(p)), -4.0) for p in CANDIDATES if p != no]
    rows.append((no, (-4.0 + lead) * len(no), -4.0 + lead))
    return summarise(tuple(rows), per_token=True, speech_s=2.0)


def _words(text: str, p: float, t0: float = 10.0, score: ClosedSetScore | None = None) -> Utterance:
    words = [Word(t0 + 0.3 * i, t0 + 0.3 * (i + 1), ch, p) for i, ch in enumerate(text)]
    return Utterance("customer", t0, words[-1].end_s, text, words, closed_set=score)


def _unheard(t0: float, t1: float, score: ClosedSetScore | None, why: str = "not_above_room"):  # type: ignore[no-untyped-def]
    return Utterance("customer", t0, t1, "", uncertain=why, closed_set=score)


@pytest.mark.parametrize("yes", sorted(NEGATED))
def test_unsure_words_and_the_closed_set_agreeing_on_a_yes_pass(yes: str) -> None:
    # probeA dev04: 是我本人 heard as 是我被捏 (p 0.26), its region's closed set 是我本人 first
    # by 1.1; dev03: 是我的人 (p 0.47) with 对 first by 0.31. Review before.
    s = _yes_table(yes, lead=ST.closed_set_agree_lead + 0.05, gap=ST.closed_set_agree_gap + 0.5)
    assert s.kind == "affirmative" and s.margin < ST.closed_set_min_lead
    assert passes([_words(yes, 0.3, score=s)])


@pytest.mark.parametrize("yes", sorted(NEGATED))
def test_agreement_needs_the_lead_and_the_gap(yes: str) -> None:
    lead, gap = ST.closed_set_agree_lead, ST.closed_set_agree_gap
    for bad_lead, bad_gap in ((lead - 0.1, gap + 3.0), (lead + 0.5, gap - 0.5), (0.0, -1.0)):
        s = _yes_table(yes, lead=bad_lead, gap=bad_gap)
        assert not passes([_words(yes, 0.3, score=s)]), (bad_lead, bad_gap)


@pytest.mark.parametrize("no", NOT_YES)
def test_agreement_never_overrides_a_later_stretch_that_sounds_like_a_no(no: str) -> None:
    # 清楚 (unsure words, agreeing closed set), then a stretch nobody recognised whose closed
    # set puts a hedge or a refusal first ("…不过我再想想" lost in the room).
    yes = _words("清楚", 0.3, score=_yes_table("清楚", lead=1.0, gap=6.0))
    later = _unheard(11.5, 13.0, _no_table(no, lead=ST.closed_set_doubt_margin + 0.05))
    assert passes([yes])
    assert not passes([yes, later]), no


@pytest.mark.parametrize("no", NOT_YES)
def test_a_lost_answer_never_passes_on_one_stretch_over_another_that_sounds_like_a_no(
    no: str,
) -> None:
    # Nothing recognised in the window; one stretch scores a yes by a wide lead (noise can),
    # another a hedge or refusal by a smaller one. Before, the widest margin won: a pass.
    yes = _unheard(10.0, 11.8, _yes_table("同意", lead=1.5, gap=8.0, speech_s=1.8))
    no_s = _unheard(12.5, 14.3, _no_table(no, lead=ST.closed_set_doubt_margin + 0.1))
    assert passes([yes])
    a = answer([yes, no_s])
    assert not (a.kind == "affirmative" and a.score >= 1.0 and a.uncertain is None), no


@pytest.mark.parametrize("heard", ["我不念意", "不许", "没头液", "不是很清楚"])
def test_agreement_never_passes_words_that_carry_a_negation(heard: str) -> None:
    s = _yes_table("清楚", lead=1.0, gap=6.0)
    assert not passes([_words(heard, 0.3, score=s)])


@pytest.mark.parametrize("why", [r for r in UNCERTAIN_REASONS if r != "hallucination"])
@pytest.mark.parametrize("start", [-30.0, -5.0, -0.5])
def test_unrecognised_speech_over_the_window_is_review_not_no_answer(
    why: str, start: float
) -> None:
    # Babble: a region no louder than the room ran from before the answer window past the
    # answer (not decoded, too long to score). Before: "no answer" (fail) unless it began inside.
    w0 = ALIGNED[0].end_s - ST.answer_lead_s  # type: ignore[operator]
    a = answer([_unheard(w0 + start, w0 + 25.0, None, why)])
    assert a.kind == "unrecognised"
    assert a.uncertain is not None


def test_no_speech_at_all_is_still_no_answer() -> None:
    assert answer([]).kind == "missing"
    far = _unheard(40.0, 45.0, None)
    assert answer([far]).kind == "missing"


# A no heard on one unsure word among sure ones: (deciding word, the rest of the words).
WEAK_NO = [
    ("不是", "我的人"),
    ("不同意", "嗯"),
    ("不太", "清楚"),
    ("不是很", "明白"),
    ("没", "听懂"),
]


def _split_words(no: str, rest: str, p_no: float, score: ClosedSetScore) -> Utterance:
    # Two sure words after the unsure one: the mean (0.63) is above answer_min_confidence.
    words = [Word(10.0, 10.5, no, p_no), Word(10.5, 11.0, rest, 0.9), Word(11.0, 11.3, "的", 0.9)]
    return Utterance("customer", 10.0, 11.3, no + rest + "的", words, closed_set=score)


@pytest.mark.parametrize(("no", "rest"), WEAK_NO)
def test_a_no_said_by_one_unsure_word_against_a_closed_set_yes_is_review(
    no: str, rest: str
) -> None:
    # probeB (hum): 嗯，是我本人 came out as 不是 (p 0.08) 我的 (0.75) 人 (0.84): mean 0.55, a
    # `fail`, while the closed set of the stretch put 是我本人 first. The no rests on one
    # word at p 0.08: review (before: fail).
    a = answer([_split_words(no, rest, 0.08, _yes_table("是我本人", lead=0.45, gap=0.0))])
    assert a.kind in ("negative", "unsure")
    assert a.confidence is not None and a.confidence < ST.closed_set_below_confidence


@pytest.mark.parametrize(("no", "rest"), WEAK_NO)
@pytest.mark.parametrize("hedge", ["不太清楚", "不同意", "不是很明白", "什么意思"])
def test_a_no_the_closed_set_also_hears_stays_strong(no: str, rest: str, hedge: str) -> None:
    # Calibration: real hedges and refusals were heard at p 0.04-0.44 on their 不 and the
    # closed set put a hedge or refusal first: the mean of the words decides, as before.
    a = answer([_split_words(no, rest, 0.08, _no_table(hedge, lead=0.5))])
    assert a.kind in ("negative", "unsure")
    assert a.confidence is not None and a.confidence >= 0.5  # fail, as before
