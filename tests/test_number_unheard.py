"""A cooling-off period whose number of days was never heard goes to a reviewer (issue 7, R9).
Before, the node counted as read and nothing compared its number: test07 of the frozen test
split stated the wrong number of days, heard as 您收到合同以后有期间犹豫期 (七天 as 期间), and
passed."""

from __future__ import annotations

import pytest

from inspection.rules import NumberCheck, Thresholds, number_findings
from inspection.script import analyze
from inspection.script_stage import settings_for
from inspection.speech import Utterance
from inspection.templates import load_template, render
from tests.mini_script import MINI, POLICY

# The mini template's premium node: 您每年的保费为{premium}，本产品有{cooling_off_days}天的犹豫期。
HEAD = [
    Utterance("salesperson", 0, 5, "您好，本次投保过程将全程录音录像，请问您是否同意？"),
    Utterance(
        "salesperson", 8, 14, "此次录音录像过程对于今后您维护权益非常关键，请您如实回答相关问题。"
    ),
]
TAIL = [
    Utterance("salesperson", 21, 25, "请您出示身份证，以上内容您是否清楚？"),
    Utterance("salesperson", 30, 34, "请您签名并抄录风险提示语句，然后对准镜头。"),
]
CUSTOMER = [
    Utterance("customer", 5.5, 7, "好的，我同意"),
    Utterance("customer", 25.5, 27, "是的，我清楚"),
]

#: The premium node read with its days lost in ways a recogniser loses them.
DAYS_LOST = [
    "您每年的保费为一万两千元，本产品有期间的犹豫期。",
    "您每年的保费为一万两千元，本产品有几天的犹豫期。",
    "您每年的保费为一万两千元，本产品有天的犹豫期。",
    "您每年的保费为一万两千元，本产品有犹豫期。",
    "您每年的保费为一万两千元，本产品有时间的游离期。",
    # Another number with its unit misheard proves nothing: it may be a wrong one.
    "您每年的保费为一万两千元，本产品有二十分的犹豫期。",
    "您每年的保费为一万两千元，本产品有7字的犹豫期。",
]
#: The policy's number of days heard in the node, its unit or keyword misheard (test01's
#: 20分的勇气 and test11's 15天有1期, in the frozen test split): said as the policy says.
DAYS_GARBLED_AROUND = [
    "您每年的保费为一万两千元，本产品有十五分的勇气。",
    "您每年的保费为一万两千元，本产品有15天有1期。",
    "您每年的保费为一万两千元，本产品有十五字的犹豫期。",
]
#: ... and with a number of days heard, right or wrong (compared by its own check).
DAYS_HEARD = [
    ("您每年的保费为一万两千元，本产品有十五天的犹豫期。", True),
    ("您每年的保费为一万两千元，本产品有15天的犹豫期。", True),
    ("您每年的保费为一万两千元，本产品有七天的犹豫期。", False),
    ("您每年的保费为一万两千元，本产品有十天的犹豫期。", False),
]


def _analyze(premium_line: str) -> object:
    tpl = load_template(MINI)
    sales = [*HEAD, Utterance("salesperson", 15, 20, premium_line), *TAIL]
    return analyze(render(tpl, POLICY), sales, CUSTOMER, POLICY)


@pytest.mark.parametrize("line", DAYS_LOST)
def test_days_not_heard_is_one_review(line: str) -> None:
    res = _analyze(line)
    node = next(a for a in res.nodes if a.node_id == "premium")  # type: ignore[attr-defined]
    assert node.covered
    assert not [n for n in res.numbers if n.kind == "cooling_off_days"]  # type: ignore[attr-defined]
    unheard = res.unheard_numbers  # type: ignore[attr-defined]
    assert [(u.kind, u.expected, u.node_id) for u in unheard] == [
        ("cooling_off_days", 15.0, "premium")
    ]
    assert unheard[0].start_s == node.start_s


@pytest.mark.parametrize("line,right", DAYS_HEARD)
def test_days_heard_are_compared_not_reported_unheard(line: str, right: bool) -> None:
    res = _analyze(line)
    assert res.unheard_numbers == []  # type: ignore[attr-defined]
    days = [n for n in res.numbers if n.kind == "cooling_off_days"]  # type: ignore[attr-defined]
    assert [n.matches for n in days] == [right]


@pytest.mark.parametrize("line", DAYS_GARBLED_AROUND)
def test_the_policys_days_heard_with_a_misheard_unit_count_as_heard(line: str) -> None:
    res = _analyze(line)
    assert next(a for a in res.nodes if a.node_id == "premium").covered  # type: ignore[attr-defined]
    assert res.unheard_numbers == []  # type: ignore[attr-defined]


def test_days_said_in_another_node_count_as_heard() -> None:
    """The number said elsewhere (a recap at the end) is compared there; the node is not
    reported as unheard."""
    tpl = load_template(MINI)
    sales = [
        *HEAD,
        Utterance("salesperson", 15, 20, DAYS_LOST[0]),
        *TAIL,
        Utterance("salesperson", 36, 40, "再提醒您一下，犹豫期是十五天。"),
    ]
    res = analyze(render(tpl, POLICY), sales, CUSTOMER, POLICY)
    assert res.unheard_numbers == []


def test_a_node_not_read_is_not_also_an_unheard_number() -> None:
    tpl = load_template(MINI)
    res = analyze(render(tpl, POLICY), [*HEAD, *TAIL], CUSTOMER, POLICY)
    assert not next(a for a in res.nodes if a.node_id == "premium").covered
    assert res.unheard_numbers == []


def test_no_policy_no_unheard_numbers() -> None:
    tpl = load_template(MINI)
    sales = [*HEAD, Utterance("salesperson", 15, 20, DAYS_LOST[0]), *TAIL]
    assert analyze(render(tpl, POLICY), sales, CUSTOMER, None).unheard_numbers == []


def test_the_finding_is_a_review_that_says_the_number_was_not_heard() -> None:
    check = NumberCheck(
        node_id="premium",
        field="cooling_off_days",
        expected=15.0,
        spoken=None,
        start_s=15.0,
        end_s=20.0,
        excerpt="本产品有期间的犹豫期",
        matches=False,
    )
    (f,) = number_findings([check], Thresholds())
    assert (f.code, f.severity, f.node) == ("speech.number_mismatch", "review", "premium")
    assert f.evidence["reason"] == "not_heard" and f.evidence["spoken"] is None
    assert "未识别到犹豫期天数" in f.message and "15" in f.message
    assert "No cooling-off period (days) was recognised" in (f.message_en or "")
    # A record with no spoken value and no decision stays silent, as before.
    assert number_findings([NumberCheck("premium", "cooling_off_days", 15.0, None)]) == []


def test_the_threshold_turns_it_off() -> None:
    """``number_unheard_review`` false: such a node passes, as before."""
    tpl = load_template(MINI)
    sales = [*HEAD, Utterance("salesperson", 15, 20, DAYS_LOST[0]), *TAIL]
    nodes = render(tpl, POLICY)
    on = settings_for(Thresholds())
    off = settings_for(Thresholds.from_dict({"number_unheard_review": False}))
    assert len(analyze(nodes, sales, CUSTOMER, POLICY, settings=on).unheard_numbers) == 1
    assert analyze(nodes, sales, CUSTOMER, POLICY, settings=off).unheard_numbers == []
