"""Composed scripts (issue 11, class 4): shared nodes said once plus one template per product,
with the estimate per product and a warning that names the product that makes it long."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspection.cli import main
from inspection.policy import Policy
from inspection.templates import estimate_duration, parse_template, render

SHARED = """
schema: kesu.template/1
id: shared_only
version: 1
title: 共用话术
product_types: [traditional, participating]
nodes:
  - id: consent
    title: 同意
    role: consent
    speaker: salesperson
    text: 本次投保过程将全程录音录像，请问您是否同意？
    requires_answer: true
    order_critical: true
  - id: cooling_off
    title: 犹豫期
    speaker: salesperson
    text: 本合同有{cooling_off_days}天的犹豫期。
  - id: id_card
    title: 身份证
    speaker: salesperson
    text: 请出示身份证。
    requires_answer: true
    document: id_card
  - id: closing
    title: 结束
    speaker: salesperson
    required: false
    text: 谢谢您的配合。
"""


def product_template(tid: str, sentences: int, ptype: str = "traditional") -> str:
    body = "，".join(["本产品的保险责任以保险合同条款为准"] * sentences)
    return f"""
schema: kesu.template/1
id: {tid}
version: 1
title: {tid}
product_types: [{ptype}]
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
    text: 您投保的{{product_name}}每年保费{{premium}}元，交费期间为{{payment_period}}。
  - id: coverage
    title: 责任
    speaker: salesperson
    text: {body}。
  - id: id_card
    title: 身份证
    speaker: salesperson
    text: 请出示身份证。
    document: id_card
"""


def write_sale(tmp_path: Path, rider_sentences: int) -> Path:
    (tmp_path / "shared.yaml").write_text(SHARED, encoding="utf-8")
    (tmp_path / "life.yaml").write_text(product_template("life", 2), encoding="utf-8")
    (tmp_path / "rider.yaml").write_text(
        product_template("rider", rider_sentences), encoding="utf-8"
    )
    policy = {
        "customer_name": "王芳",
        "customer_id_number": "11010519491231002X",
        "products": [
            {"product_name": "安康终身寿险", "product_type": "traditional", "premium": 12000,
             "payment_method": "年交", "payment_years": 10, "template_id": "life.yaml"},
            {"product_name": "附加意外伤害保险", "product_type": "traditional", "premium": 600,
             "payment_method": "年交", "payment_years": 1, "insurance_years": 1,
             "template_id": "rider.yaml"},
        ],
    }  # fmt: skip
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy, ensure_ascii=False), encoding="utf-8")
    return path


def test_script_is_shared_nodes_once_plus_each_products_own_nodes(tmp_path: Path) -> None:
    write_sale(tmp_path, 1)
    policy = Policy.from_dict(json.loads((tmp_path / "policy.json").read_text()))
    own = {
        "main": parse_template((tmp_path / "life.yaml").read_text(), "life.yaml"),
        "rider1": parse_template((tmp_path / "rider.yaml").read_text(), "rider.yaml"),
    }
    nodes = render(parse_template(SHARED, "shared.yaml"), policy, own)
    assert [n.id for n in nodes] == [
        "consent",
        "cooling_off",
        "premium",
        "coverage",
        "rider1.premium",
        "rider1.coverage",
        "id_card",
        "closing",
    ]
    assert [n.product for n in nodes] == [
        None,
        None,
        "main",
        "main",
        "rider1",
        "rider1",
        None,
        None,
    ]
    assert "600元" in nodes[4].text and "1年" in nodes[4].text
    est = estimate_duration(parse_template(SHARED, "shared.yaml"), policy, product_templates=own)
    assert {p.key: p.nodes for p in est.products} == {"main": 2, "rider1": 2}


def test_template_check_prints_per_product_estimate_and_names_the_long_product(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write_sale(tmp_path, 90)  # the rider's coverage text alone takes minutes
    assert main(["template", "check", str(tmp_path / "shared.yaml"), "--policy", str(policy)]) == 0
    out, err = capsys.readouterr()
    assert "product rider1" in out and "product main" in out and "shared nodes" in out
    assert "longer than 5 minutes" in err
    assert "附加意外伤害保险 (rider1) makes it long" in err
    assert "安康终身寿险 (main) makes it long" not in err


def test_template_check_short_combined_sale_has_no_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write_sale(tmp_path, 1)
    assert main(["template", "check", str(tmp_path / "shared.yaml"), "--policy", str(policy)]) == 0
    out, err = capsys.readouterr()
    assert "product rider1" in out
    assert "warning" not in err
