"""Script templates: built-ins, line-numbered validation errors, rendering, duration estimates."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from inspection.policy import Policy
from inspection.templates import (
    SAMPLE_POLICY,
    TemplateError,
    builtin_template_ids,
    builtin_templates,
    estimate_duration,
    load_template,
    parse_template,
    render,
    spoken_chars,
    template_ref,
)

MINI = Path(__file__).parent / "data" / "templates" / "mini.yaml"
REMINDER = (
    "此次录音录像过程对于今后您维护权益非常关键，请您认真阅读您签署文件的具体内容，如实回答相关问题。"
    "如果销售人员向您作出任何与书面文件内容不一致的承诺，建议您与销售人员通过书面形式予以确认，"
    "以便更好地维护您的合法权益"
)

GOOD = """\
schema: kesu.template/1
id: t
version: 2
title: 测试
nodes:
  - id: consent
    title: 同意
    role: consent
    speaker: salesperson
    text: 请问您是否同意录音录像？
    requires_answer: true
    order_critical: true
  - id: premium
    title: 保费
    speaker: salesperson
    text: 每期保费{premium}元，犹豫期{cooling_off_days}天。
"""


def policy(product_type: str = "traditional", **kw: object) -> Policy:
    return dataclasses.replace(SAMPLE_POLICY, product_type=product_type, **kw)  # type: ignore[arg-type]


def errors(text: str) -> list[str]:
    with pytest.raises(TemplateError) as info:
        parse_template(text, "x.yaml")
    return [str(i) for i in info.value.issues]


# --- built-ins -----------------------------------------------------------------------------


def test_builtin_ids() -> None:
    assert builtin_template_ids() == [
        "investment_linked",
        "participating_universal",
        "traditional_life",
    ]


@pytest.mark.parametrize(
    "tid", ["traditional_life", "participating_universal", "investment_linked"]
)
def test_builtins_cover_the_rules(tid: str) -> None:
    tpl = load_template(tid)
    assert tpl.id == tid and tpl.version >= 1 and tpl.source == f"builtin:{tid}"
    nodes = {n.id: n for n in tpl.nodes}
    consent = next(n for n in tpl.nodes if n.role == "consent")
    reminder = next(n for n in tpl.nodes if n.role == "reminder")
    assert tpl.nodes[0] is consent and consent.requires_answer and consent.order_critical  # R2
    assert reminder.text == REMINDER and reminder.order_critical  # R3, exact regulatory text
    assert "{salesperson_name}" in nodes["introduction"].text  # R5
    assert "{institution}" in nodes["introduction"].text
    assert (
        "{premium}" in nodes["premium"].text and "{insurance_period}" in nodes["premium"].text
    )  # R7
    assert (
        "现金价值" in nodes["surrender"].text and "责任免除" in nodes["exclusions"].text
    )  # R7, R8
    assert "{cooling_off_days}" in nodes["cooling_off"].text  # R9
    assert any(n.requires_answer and n.role is None for n in tpl.nodes)  # R11
    assert [n.document for n in tpl.nodes if n.document] == ["id_card", "signature"]  # R13
    assert tpl.risk_sentence and "不确定性" in tpl.risk_sentence
    assert {"保本保息", "稳赚不赔", "存款", "停售", "最好"} <= set(tpl.forbidden_phrases)  # R15
    for ptype in tpl.product_types:
        est = estimate_duration(tpl, policy(ptype))
        assert 90 < est.total_s < 300, (tid, ptype, est.total_s)


def test_uncertainty_nodes_per_product_type() -> None:
    tpl = load_template("participating_universal")
    part = [n.id for n in render(tpl, policy("participating"))]
    univ = [n.id for n in render(tpl, policy("universal"))]
    assert "uncertainty_participating" in part and "uncertainty_universal" not in part
    assert "uncertainty_universal" in univ and "uncertainty_participating" not in univ
    assert len(part) == len(tpl.nodes) - 1
    inv = [n.id for n in render(load_template("investment_linked"), policy("investment_linked"))]
    assert "uncertainty_investment" in inv
    assert "uncertainty" not in " ".join(n.id for n in load_template("traditional_life").nodes)


def test_builtin_templates_dict() -> None:
    assert set(builtin_templates()) == set(builtin_template_ids())


def test_mini_template() -> None:
    tpl = load_template(MINI)
    assert [n.id for n in tpl.nodes] == ["consent", "reminder", "premium", "id_card", "signature"]
    assert estimate_duration(tpl).total_s < 60


# --- rendering -----------------------------------------------------------------------------


def test_render_fills_placeholders() -> None:
    nodes = render(
        load_template("traditional_life"),
        policy(premium=8600, payment_years=5, insurance_years=None),
    )
    premium = next(n for n in nodes if n.id == "premium")
    assert premium.text == "您选择的交费方式为年交，每期保费8600元，交费期间为5年，保险期间为终身。"
    assert premium.values == {
        "payment_method": "年交",
        "premium": "8600",
        "payment_period": "5年",
        "insurance_period": "终身",
    }
    assert [n.index for n in nodes] == list(range(len(nodes)))
    assert "{" not in "".join(n.text for n in nodes)


def test_render_rejects_other_product_types() -> None:
    with pytest.raises(TemplateError, match="traditional_life is for traditional, not universal"):
        render(load_template("traditional_life"), policy("universal"))


# --- validation ----------------------------------------------------------------------------


def test_good_template_parses() -> None:
    tpl = parse_template(GOOD)
    assert tpl.version == 2 and [n.line for n in tpl.nodes] == [6, 13]
    assert tpl.node("premium").speaker == "salesperson"


def test_yaml_syntax_error_has_a_line() -> None:
    bad = GOOD.replace("    title: 保费\n", "    title: [保费\n")
    (msg,) = errors(bad)
    assert msg.startswith("line ") and "invalid YAML" in msg


def test_errors_carry_line_numbers() -> None:
    bad = (
        GOOD.replace("version: 2", "version: 0")
        .replace("speaker: salesperson\n    text: 每期", "speaker: agent\n    text: 每期")
        .replace("{cooling_off_days}", "{days}")
        + "    colour: red\n"
    )
    msgs = errors(bad)
    assert "line 3: version: must be a positive integer" in msgs
    assert "line 15: nodes[1].speaker: must be one of salesperson, customer, not 'agent'" in msgs
    assert any(m.startswith("line 16: nodes[1].text: unknown placeholder {days}") for m in msgs)
    assert any(m.startswith("line 17: nodes[1].colour: unknown key") for m in msgs)


def test_structural_errors() -> None:
    dup = (
        GOOD
        + "  - id: premium\n    title: x\n    speaker: salesperson\n    text: 再说一次\n    order_critical: true\n"
    )
    msgs = errors(dup)
    assert "line 17: node premium: duplicate node id" in msgs
    assert (
        "line 17: node premium: order_critical nodes must all come before the other nodes" in msgs
    )
    assert errors(GOOD.replace("title: 测试\n", "title: 测试\ntitle: again\n")) == [
        "line 5: title: duplicate key"
    ]
    assert any(
        "forbidden phrase '存款'" in m
        for m in errors(GOOD.replace("每期保费", "存款") + "forbidden_phrases: [存款]\n")
    )
    assert any(
        "must be 'kesu.template/1'" in m
        for m in errors(GOOD.replace("kesu.template/1", "kesu.template/9"))
    )
    assert any("{premium:.2f}" in m for m in errors(GOOD.replace("{premium}", "{premium:.2f}")))
    assert any("unknown product type 'car'" in m for m in errors(GOOD + "product_types: [car]\n"))


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no such built-in or installed template"):
        load_template("no_such_template")
    with pytest.raises(TemplateError, match="no such file"):
        load_template(tmp_path / "absent.yaml")
    (tmp_path / "t.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="must be a YAML mapping"):
        load_template(tmp_path / "t.yaml")


def test_a_file_named_like_a_builtin_never_stands_in_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stray file (or directory) of the working directory, or of wherever a worker runs,
    named like a built-in id: the id still means the built-in."""
    builtin = load_template("traditional_life")
    monkeypatch.chdir(tmp_path)
    own = GOOD.replace("id: t\n", "id: traditional_life\n", 1)
    assert "id: traditional_life" in own
    (tmp_path / "traditional_life").write_text(own, encoding="utf-8")
    (tmp_path / "participating_universal").write_text("- garbage\n", encoding="utf-8")
    assert load_template("traditional_life") == builtin
    assert load_template("participating_universal").id == "participating_universal"
    # The file is still reachable, by a path.
    assert load_template("./traditional_life").title != builtin.title
    assert load_template(Path("traditional_life")).source == "traditional_life"
    assert template_ref("traditional_life") == "traditional_life"
    assert template_ref("./traditional_life") == Path("traditional_life")
    assert template_ref("mine.yaml") == Path("mine.yaml")


# --- duration ------------------------------------------------------------------------------


def test_spoken_chars() -> None:
    assert spoken_chars("您好，保费12000元。") == 4 + 4 + 1  # 一万二千
    assert spoken_chars("15天") == 3 + 1  # 一十五 (rough: one syllable too many)
    assert spoken_chars("1.5年") == 3 + 1
    assert spoken_chars("，。！") == 0


def test_estimate_duration() -> None:
    tpl = parse_template(GOOD)
    est = estimate_duration(tpl, SAMPLE_POLICY)
    consent, premium = est.nodes
    assert consent.speech_s == pytest.approx(11 / 4.2) and consent.pause_s == 3.0
    assert premium.speech_s == pytest.approx(spoken_chars("每期保费12000元，犹豫期15天。") / 4.2)
    assert est.total_s == pytest.approx(consent.total_s + premium.total_s)
