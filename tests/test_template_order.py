"""Order rules for templates that greet first: ``category`` and ``must_precede`` (issue 7, class 6).

Real scripts greet and introduce the salesperson before asking consent, so "consent first"
must be "consent before any product content". Generated over several script shapes
(1-3 opening nodes, the rule as a category or as node ids).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from inspection import rules
from inspection.cli import main
from inspection.rules import NodeCoverage, Thresholds
from inspection.templates import SAMPLE_POLICY, TemplateError, parse_template, render

TH = Thresholds()
OPENINGS = (
    ("greet", "问候", "您好，我是平安人寿的客户经理李四，很高兴为您服务。"),
    ("intro", "自我介绍", "我的工号是一二三四五，今天由我为您讲解产品。"),
    ("confirm_id", "核实身份", "请问您是张三先生本人吗？"),
)
PRODUCT = (
    ("premium", "保费", "您选择的交费方式为{payment_method}，每期保费{premium}元。"),
    ("cooling_off", "犹豫期", "本产品犹豫期为{cooling_off_days}天。"),
)


def template_yaml(openings: int, rule: str, old: bool = False) -> str:
    """Greeting nodes, then consent and reminder with the order rule, then product content."""
    lines = ["schema: kesu.template/1", "id: greet_first", "version: 1", "title: 先问候", "nodes:"]

    def node(nid: str, title: str, text: str, extra: tuple[str, ...] = ()) -> None:
        lines.extend([f"  - id: {nid}", f"    title: {title}", "    speaker: salesperson"])
        lines.append(f"    text: {text}")
        lines.extend(f"    {e}" for e in extra)

    for nid, title, text in OPENINGS[:openings]:
        node(nid, title, text, ("category: opening",))
    if old:
        order = "order_critical: true"
    elif rule == "category":
        order = "must_precede: product"
    else:
        order = f"must_precede: [{', '.join(p[0] for p in PRODUCT)}]"
    node(
        "consent",
        "同意",
        "本次投保过程将全程录音录像，请问您是否同意？",
        ("role: consent", "requires_answer: true", "expected_answer: 同意", order),
    )
    node(
        "reminder",
        "提示",
        "请您认真阅读您签署文件的具体内容，如实回答相关问题。",
        ("role: reminder", order),
    )
    for nid, title, text in PRODUCT:
        node(nid, title, text, ("category: product",))
    node("closing", "结束", "感谢您的配合，再见。", ("category: closing",))
    return "\n".join(lines) + "\n"


SHAPES = list(itertools.product([1, 2, 3], ["category", "ids"]))


def coverage(order: list[str], openings: int, rule: str) -> list[NodeCoverage]:
    """Every node covered, spoken in ``order`` (ids), 6 s apart."""
    nodes = {n.id: n for n in render(parse_template(template_yaml(openings, rule)), SAMPLE_POLICY)}
    out = []
    for i, nid in enumerate(order):
        n = nodes[nid]
        start = 6.0 * i
        answer = "affirmative" if n.requires_answer else None
        out.append(
            NodeCoverage(
                n,
                0.95,
                start,
                start + 4,
                n.text,
                answer,
                "同意" if answer else "",
                start + 4.5,
                start + 5,
            )
        )
    return out


def ids(openings: int) -> list[str]:
    return [o[0] for o in OPENINGS[:openings]]


@pytest.mark.parametrize(("openings", "rule"), SHAPES)
def test_greeting_first_templates_validate_with_must_precede(openings: int, rule: str) -> None:
    tpl = parse_template(template_yaml(openings, rule))
    nodes = {n.id: n for n in render(tpl, SAMPLE_POLICY)}
    assert nodes["consent"].must_precede == ("premium", "cooling_off")
    assert nodes["reminder"].must_precede == ("premium", "cooling_off")
    assert nodes["greet"].must_precede == () and nodes["premium"].category == "product"


@pytest.mark.parametrize("openings", [1, 2, 3])
def test_order_critical_after_a_greeting_is_still_rejected(openings: int) -> None:
    """The old key keeps its meaning (before everything, listed first)."""
    with pytest.raises(TemplateError, match="order_critical nodes must all come before"):
        parse_template(template_yaml(openings, "category", old=True))


@pytest.mark.parametrize(("openings", "rule"), SHAPES)
def test_script_in_template_order_has_no_order_finding(openings: int, rule: str) -> None:
    order = [*ids(openings), "consent", "reminder", "premium", "cooling_off", "closing"]
    assert rules.script_findings(coverage(order, openings, rule), TH) == []


@pytest.mark.parametrize(("openings", "rule"), SHAPES)
def test_consent_after_product_content_is_out_of_order(openings: int, rule: str) -> None:
    order = [*ids(openings), "premium", "consent", "reminder", "cooling_off", "closing"]
    found = rules.script_findings(coverage(order, openings, rule), TH)
    assert sorted((f.code, f.node) for f in found) == [
        ("script.out_of_order", "consent"),
        ("script.out_of_order", "reminder"),
    ]
    first = found[0]
    assert first.evidence["earlier_node"] == "premium"
    assert first.start_s == 6.0 * (openings + 1)  # when the late node was spoken
    assert "保费" in first.message


@pytest.mark.parametrize(("openings", "rule"), SHAPES)
def test_greeting_after_consent_or_closing_anywhere_is_fine(openings: int, rule: str) -> None:
    """Only product content is ordered against consent; openings may move."""
    order = ["consent", *ids(openings), "reminder", "premium", "cooling_off", "closing"]
    assert rules.script_findings(coverage(order, openings, rule), TH) == []


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("must_precede: product", "must_precede: pitch"), "must be a category"),
        (("must_precede: product", "must_precede: [nope]"), "unknown node 'nope'"),
        (("must_precede: product", "must_precede: [greet]"), "greet is listed before"),
        (("must_precede: product", "must_precede: [consent]"), "cannot precede itself"),
        (("must_precede: product", "must_precede: closing"), None),
        (("category: product", "category: sales"), "must be one of"),
        (("must_precede: product", "must_precede: 3"), "must be a category"),
    ],
)
def test_must_precede_validation(edit: tuple[str, str], message: str | None) -> None:
    text = template_yaml(1, "category").replace(*edit, 1)
    if message is None:  # a valid variant
        parse_template(text)
        return
    with pytest.raises(TemplateError) as info:
        parse_template(text)
    assert any(message in str(i) for i in info.value.issues), info.value.issues


def test_category_rule_needs_such_nodes_listed_after() -> None:
    text = template_yaml(1, "category").replace("category: product", "category: other")
    with pytest.raises(TemplateError, match="no node has category product"):
        parse_template(text)
    both = template_yaml(1, "category").replace(
        "must_precede: product", "must_precede: product\n    order_critical: true", 1
    )
    with pytest.raises(TemplateError, match="either order_critical or must_precede"):
        parse_template(both)


def test_template_check_cli_accepts_greeting_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "greet.yaml"
    path.write_text(template_yaml(2, "category"), encoding="utf-8")
    assert main(["template", "check", str(path)]) == 0
    path.write_text(template_yaml(2, "category", old=True), encoding="utf-8")
    assert main(["template", "check", str(path)]) != 0
    assert "order_critical" in capsys.readouterr().err
