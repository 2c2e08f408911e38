"""The customer's join page learns every product of a combined sale before consenting."""

from __future__ import annotations

from typing import Any

from tests.conftest import RunningServer, new_session_body


async def test_join_info_lists_every_product(server: RunningServer, client_factory: Any) -> None:
    sales = await client_factory("sales1")
    body = new_session_body()
    for key in ("product_name", "product_type", "premium", "payment_years", "insurance_years"):
        body.pop(key)
    body["products"] = [
        {"product_name": "安康终身寿险", "product_type": "traditional", "premium": 12000},
        {"product_name": "附加意外伤害保险", "product_type": "traditional", "premium": 600},
    ]
    status, created = await sales.post("/api/sessions", body)
    assert status == 201, created
    status, link = await sales.post(f"/api/sessions/{created['session']['id']}/link")
    assert status == 200, link
    anon = await client_factory()
    status, info = await anon.get(f"/api/join/{link['token']}")
    assert status == 200, info
    assert info["product_name"] == "安康终身寿险"
    assert info["product_names"] == ["安康终身寿险", "附加意外伤害保险"]


async def test_product_template_id_may_be_null(server: RunningServer, client_factory: Any) -> None:
    """Found by schemathesis: a null (or blank) per-product template_id was a 500."""
    sales = await client_factory("sales1")
    body = new_session_body()
    body["products"] = [
        {"product_name": body["product_name"], "product_type": "traditional", "template_id": None},
        {"product_name": "附加意外伤害保险", "product_type": "traditional", "template_id": ""},
    ]
    for key in ("product_name", "product_type"):
        body.pop(key)
    status, created = await sales.post("/api/sessions", body)
    assert status == 201, created
    body["products"][1]["template_id"] = "bad\x00id"
    status, refused = await sales.post("/api/sessions", body)
    assert status == 400, refused
