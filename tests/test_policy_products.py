"""Combined sales (issue 11, class 3): a policy lists several products, each with its own
type, premium and periods; templates address each product's fields; the old one-product JSON
still means one product."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inspection.policy import Policy
from inspection.templates import (
    TemplateError,
    estimate_duration,
    load_template,
    parse_template,
    render,
)

OLD_JSON = {
    "customer_name": "王芳",
    "customer_id_number": "11010519491231002X",
    "product_name": "安康终身寿险",
    "product_type": "traditional",
    "premium": 12000,
    "payment_method": "年交",
    "payment_years": 10,
    "insurance_years": 20,
    "cooling_off_days": 15,
}
MAIN = {
    k: OLD_JSON[k]
    for k in (
        "product_name",
        "product_type",
        "premium",
        "payment_method",
        "payment_years",
        "insurance_years",
    )
}
RIDER = {
    "product_name": "附加意外伤害保险",
    "product_type": "traditional",
    "premium": 600,
    "payment_method": "年交",
    "payment_years": 1,
    "insurance_years": 1,
}
CUSTOMER = {k: OLD_JSON[k] for k in ("customer_name", "customer_id_number", "cooling_off_days")}


def combined(*riders: dict[str, Any]) -> Policy:
    return Policy.from_dict({**CUSTOMER, "products": [MAIN, *(riders or (RIDER,))]})


def test_old_single_product_json_is_one_product_and_round_trips_unchanged() -> None:
    p = Policy.from_dict(OLD_JSON)
    assert [x.product_name for x in p.products] == ["安康终身寿险"]
    assert p.products[0].key == "main" and p.products[0].role == "main"
    out = p.to_dict()
    assert "products" not in out  # written exactly as before
    assert {k: out[k] for k in OLD_JSON} == OLD_JSON


def test_products_list_gives_each_product_its_own_fields() -> None:
    p = combined()
    assert [x.key for x in p.products] == ["main", "rider1"]
    assert [x.role for x in p.products] == ["main", "rider"]
    assert p.product_name == "安康终身寿险" and p.premium == 12000  # top level = main product
    assert p.product("rider1").premium == 600 and p.product("rider1").insurance_years == 1
    assert p.total_premium == 12600
    again = Policy.from_dict(json.loads(json.dumps(p.to_dict())))
    assert again == p


def test_products_list_checks_its_items() -> None:
    with pytest.raises(ValueError, match="products\\[1\\]"):
        Policy.from_dict({**CUSTOMER, "products": [MAIN, {**RIDER, "product_type": "lottery"}]})
    with pytest.raises(ValueError, match="lacks product_name"):
        Policy.from_dict({**CUSTOMER, "products": [MAIN, {"premium": 5}]})
    with pytest.raises(ValueError, match="used twice"):
        Policy.from_dict({**CUSTOMER, "products": [MAIN, {**RIDER, "key": "main"}]})
    with pytest.raises(ValueError, match="premium differs"):
        Policy.from_dict({**CUSTOMER, "premium": 12600, "products": [MAIN, RIDER]})
    # The same value inline and in products[0] is fine (what to_dict writes).
    assert Policy.from_dict({**CUSTOMER, **MAIN, "products": [MAIN, RIDER]}).premium == 12000


def test_builtin_template_says_product_nodes_once_per_product() -> None:
    nodes = render(load_template("traditional_life"), combined())
    ids = [n.id for n in nodes]
    assert ids.count("consent") == 1 and ids.count("signature") == 1
    premium = {n.product: n for n in nodes if n.id.endswith("premium")}
    assert set(premium) == {"main", "rider1"}
    assert "12000元" in premium["main"].text and "600元" in premium["rider1"].text
    assert "1年" in premium["rider1"].text and "20年" in premium["main"].text
    assert premium["rider1"].id == "rider1.premium"
    # The main product's nodes come before the rider's, the block stays where it was.
    assert ids.index("premium") < ids.index("rider1.is_insurance") < ids.index("surrender")
    # One product: the script is what it always was.
    single = render(load_template("traditional_life"), Policy.from_dict(OLD_JSON))
    assert [n.id for n in single] == [n.id for n in load_template("traditional_life").nodes]


RIDER_TEMPLATE = """
schema: kesu.template/1
id: accident_rider
version: 1
title: 附加意外险
product_types: [traditional]
nodes:
  - id: consent
    title: 同意
    role: consent
    speaker: salesperson
    text: 请问您是否同意录音录像？
    requires_answer: true
    order_critical: true
  - id: rider_only
    title: 附加险不能单独投保
    speaker: salesperson
    product: riders
    text: "{product_name}是{main_product_name}的附加险，不能单独投保，每年保费{premium}元。"
  - id: closing
    title: 结束
    speaker: salesperson
    text: 谢谢。
"""


def test_rider_with_its_own_template_takes_only_its_product_nodes() -> None:
    rider_tpl = parse_template(RIDER_TEMPLATE, "accident_rider.yaml")
    policy = combined({**RIDER, "template_id": "accident_rider"})
    nodes = render(load_template("traditional_life"), policy, {"rider1": rider_tpl})
    ids = [n.id for n in nodes]
    assert ids.count("consent") == 1 and "rider1.consent" not in ids and "rider1.closing" not in ids
    own = next(n for n in nodes if n.id == "rider1.rider_only")
    assert own.text == "附加意外伤害保险是安康终身寿险的附加险，不能单独投保，每年保费600元。"
    assert "rider1.premium" not in ids  # its own template replaces the session's block
    assert ids.index("premium") < ids.index("rider1.rider_only") < ids.index("surrender")


def test_rider_node_is_dropped_without_riders_and_product_nodes_cannot_be_shared_roles() -> None:
    tpl = parse_template(RIDER_TEMPLATE, "x.yaml")
    assert [n.id for n in render(tpl, Policy.from_dict(OLD_JSON))] == ["consent", "closing"]
    bad = RIDER_TEMPLATE.replace(
        "    order_critical: true\n", "    order_critical: true\n    product: each\n"
    )
    with pytest.raises(TemplateError, match="said once"):
        parse_template(bad, "bad.yaml")


def test_rider_of_a_type_the_template_does_not_cover_is_refused() -> None:
    policy = combined({**RIDER, "product_type": "investment_linked"})
    with pytest.raises(TemplateError, match="rider1"):
        render(load_template("traditional_life"), policy)


def test_estimate_per_product_and_total(tmp_path: Path) -> None:
    tpl = load_template("traditional_life")
    one = estimate_duration(tpl, Policy.from_dict(OLD_JSON))
    two = estimate_duration(tpl, combined())
    assert [p.key for p in two.products] == ["main", "rider1"]
    assert two.total_s == pytest.approx(two.shared_s + sum(p.total_s for p in two.products))
    assert two.total_s > one.total_s + 0.8 * two.products[1].total_s
    assert two.shared_s == pytest.approx(one.shared_s)
