"""Session creation, join links and the customer's token-authenticated API, with every refusal."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningServer, new_session_body
from tests.test_api_auth import assert_error
from tests.test_api_recording import make_peer


async def _create(c: Any, **overrides: Any) -> dict[str, Any]:
    status, body = await c.post("/api/sessions", json=new_session_body(**overrides))
    assert status == 201, body
    return dict(body["session"])


async def test_create_masks_id_and_writes_session_dir(
    server: RunningServer, client_factory: Any
) -> None:
    c = await client_factory("sales1")
    s = await _create(c)
    assert s["status"] == "created"
    assert s["customer_id_number"] != "11010519491231002X"
    assert s["customer_id_number"].startswith("1101") and "*" in s["customer_id_number"]
    assert "11010519491231002X" not in json.dumps(s)
    meta = json.loads((server.ctx.settings.sessions_dir / s["id"] / "metadata.json").read_text())
    assert meta["template_id"] == "traditional_life"
    assert meta["policy"]["premium"] == 12000
    assert (
        s["retain_until"] is not None and int(s["retain_until"][:4]) >= time.gmtime().tm_year + 30
    )
    status, body = await c.get(f"/api/sessions/{s['id']}")
    assert status == 200
    assert body["script"] and body["script"][0]["text"]
    assert 0 < body["estimated_s"] < 600
    status, body = await c.get("/api/sessions")
    assert [x["id"] for x in body["sessions"]] == [s["id"]]


async def test_create_rejects_bad_input(client_factory: Any) -> None:
    c = await client_factory("sales1")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"customer_id_number": "110105194912310021"}, "invalid_id_number"),
        ({"customer_id_number": "12345"}, "invalid_id_number"),
        ({"customer_name": ""}, "invalid_fields"),
        ({"product_type": "lottery"}, "invalid_fields"),
        ({"template_id": "../../etc/passwd"}, "invalid_template"),
        ({"template_id": "no_such_template"}, "invalid_template"),
        ({"premium": "lots"}, "invalid_fields"),
        # The same policy checks as `kesu template check --policy` (inspection.policy): a
        # non-finite premium (json.dumps writes Infinity) or a name given as a number.
        ({"premium": float("inf")}, "invalid_json"),
        ({"premium": 1e12}, "invalid_fields"),
        ({"product_name": 12345}, "invalid_fields"),
        (
            {
                "products": [
                    {"product_name": "主险", "product_type": "traditional", "premium": 1e99}
                ]
            },
            "invalid_fields",
        ),
        ({"cooling_off_days": 0}, "invalid_fields"),
    ]
    for override, code in cases:
        status, body = await c.post("/api/sessions", json=new_session_body(**override))
        assert status == 400, (override, body)
        assert_error(body, code)


async def test_oversized_body_is_413(client_factory: Any) -> None:
    c = await client_factory("sales1")
    status, body = await c.post("/api/sessions", json=new_session_body(customer_name="x" * 400_000))
    assert status == 413
    assert_error(body, "payload_too_large")


async def test_other_salesperson_and_path_like_ids_get_404(client_factory: Any) -> None:
    a = await client_factory("sales1")
    b = await client_factory("sales2")
    s = await _create(a)
    status, body = await b.get(f"/api/sessions/{s['id']}")
    assert status == 404
    assert_error(body, "not_found")
    for bad in ("..%2F..%2Fetc", "s-..", "S-0123456789ABCDEF", "s-0123456789abcdef0"):
        status, body = await a.get(f"/api/sessions/{bad}")
        assert status == 404, bad
        assert_error(body, "not_found")


async def test_join_link_flow_and_token_refusals(
    server: RunningServer, client_factory: Any
) -> None:
    sales = await client_factory("sales1")
    s = await _create(sales)
    status, link = await sales.post(f"/api/sessions/{s['id']}/link")
    assert status == 200 and link["url"].endswith(link["token"]) and "<svg" in link["qr_svg"]
    customer = await client_factory()
    status, info = await customer.get(f"/api/join/{link['token']}")
    assert status == 200
    assert info["salesperson"] == {"name": "sales1-名", "institution": "示例人寿"}
    assert info["consent_at"] is None and info["script"]
    # No media before consent.
    status, body = await customer.post(
        f"/api/join/{link['token']}/offer", json={"type": "offer", "sdp": "v=0"}
    )
    assert status == 409
    assert_error(body, "consent_required")
    # Consent is the JSON value true and nothing that Python takes for it (R2): 1 and 1.0
    # were recorded as consent.
    for refused in (False, 1, 1.0, "true", [True], None):
        status, body = await customer.post(
            f"/api/join/{link['token']}/consent", json={"consent": refused}
        )
        assert status == 400, refused
        assert_error(body, "consent_required")
    assert (await customer.get(f"/api/join/{link['token']}"))[1]["consent_at"] is None
    status, body = await customer.post(f"/api/join/{link['token']}/consent", json={"consent": True})
    assert status == 200 and body["consent_at"].endswith("Z")
    meta = json.loads((server.ctx.settings.sessions_dir / s["id"] / "metadata.json").read_text())
    assert any(e["type"] == "consent" for e in meta["events"])

    token = link["token"]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad, code, http in ((forged, "token_invalid", 404), ("garbage", "token_malformed", 400)):
        status, body = await customer.get(f"/api/join/{bad}")
        assert status == http, body
        assert_error(body, code)
    signer = server.ctx.signer
    row_nonce = (await _row(server, s["id"])).join_nonce
    expired = signer.sign(s["id"], row_nonce, ttl_s=-10)
    status, body = await customer.get(f"/api/join/{expired}")
    assert status == 410
    assert_error(body, "token_expired")
    revoked = signer.sign(s["id"], "0" * 16, ttl_s=100)
    status, body = await customer.get(f"/api/join/{revoked}")
    assert status == 410
    assert_error(body, "token_revoked")


async def _row(server: RunningServer, session_id: str) -> Any:
    from server.store.models import RecordingSession

    async with server.ctx.db.session() as db:
        return await db.get(RecordingSession, session_id)


async def test_malformed_and_oversized_sdp(server: RunningServer, client_factory: Any) -> None:
    sales = await client_factory("sales1")
    s = await _create(sales)
    status, body = await sales.post(
        f"/api/sessions/{s['id']}/offer", json={"type": "offer", "sdp": "this is not sdp"}
    )
    assert 400 <= status < 500, body
    assert "error" in body
    status, body = await sales.post(
        f"/api/sessions/{s['id']}/offer", json={"type": "answer", "sdp": "v=0"}
    )
    assert status == 400
    assert_error(body, "invalid_sdp")
    big = "v=0\r\n" + "a=x\r\n" * 20000
    status, body = await sales.post(
        f"/api/sessions/{s['id']}/offer", json={"type": "offer", "sdp": big}
    )
    assert status == 413
    # The server is still healthy and the session untouched.
    status, body = await sales.get(f"/api/sessions/{s['id']}/state")
    assert status == 200 and body["status"] == "created"


async def test_node_change_recorded_and_validated(
    server: RunningServer, client_factory: Any
) -> None:
    sales = await client_factory("sales1")
    s = await _create(sales)
    status, info = await sales.get(f"/api/sessions/{s['id']}")
    first = info["script"][1]["id"]
    status, body = await sales.post(f"/api/sessions/{s['id']}/node", json={"node": first})
    assert status == 200 and body["session"]["current_node"] == first
    status, body = await sales.post(f"/api/sessions/{s['id']}/node", json={"node": "nope"})
    assert status == 400
    assert_error(body, "unknown_node")
    meta = json.loads((server.ctx.settings.sessions_dir / s["id"] / "metadata.json").read_text())
    assert [e["node"] for e in meta["events"] if e["type"] == "node"] == [first]


async def test_the_same_move_sent_at_once_is_one_event(
    server: RunningServer, client_factory: Any
) -> None:
    """A move to the node already current is a no-op; so is the same move sent several
    times at once (a double click, a retry while the first is on its way). Before, each
    found the node not yet current and wrote it: six at once were six ``node`` events (the
    customer's self-service page moves the same way)."""
    sales = await client_factory("sales1")
    s = await _create(sales)
    status, info = await sales.get(f"/api/sessions/{s['id']}")
    first, second = info["script"][1]["id"], info["script"][2]["id"]
    for node in (first, second, first):
        answers = await asyncio.gather(
            *(sales.post(f"/api/sessions/{s['id']}/node", json={"node": node}) for _ in range(6))
        )
        assert [status for status, _ in answers] == [200] * 6, answers
        assert {body["session"]["current_node"] for _, body in answers} == {node}
    meta = json.loads((server.ctx.settings.sessions_dir / s["id"] / "metadata.json").read_text())
    assert [e["node"] for e in meta["events"] if e["type"] == "node"] == [first, second, first]


async def test_end_queues_jobs_and_refuses_second_end(
    server: RunningServer, client_factory: Any
) -> None:
    sales = await client_factory("sales1")
    s = await _create(sales)
    status, body = await sales.post(f"/api/sessions/{s['id']}/end")
    assert status == 200 and body["session"]["status"] == "ended"
    status, body = await sales.post(f"/api/sessions/{s['id']}/end")
    assert status == 409
    assert_error(body, "session_ended")
    from sqlalchemy import select

    from server.store.models import Job

    async with server.ctx.db.session() as db:
        kinds = sorted(j.kind for j in (await db.execute(select(Job))).scalars())
    assert kinds == ["inspect", "review_video"]


async def test_capacity_limit_gives_503(tmp_path: Any) -> None:
    from server.users import add_user
    from tests.conftest import Client, make_settings, start_server

    settings = make_settings(tmp_path, max_sessions=0)
    await add_user(settings, "s", "salesperson", "password-123")
    srv = await start_server(settings)
    c = Client(srv.url)
    # A well-formed offer: malformed ones are refused (400) before capacity is looked at.
    peer = make_peer("salesperson")
    try:
        await c.login("s", "password-123")
        status, body = await c.post("/api/sessions", json=new_session_body())
        sid = body["session"]["id"]
        offer = await peer.offer()
        status, body = await c.post(
            f"/api/sessions/{sid}/offer", json={"type": "offer", "sdp": offer}
        )
        assert status == 503
        assert_error(body, "capacity")
    finally:
        await peer.close()
        await c.close()
        await srv.runner.cleanup()


COMBINED_PRODUCTS = [
    {
        "product_name": "示例终身寿险",
        "product_type": "traditional",
        "premium": 12000,
        "payment_method": "年交",
        "payment_years": 10,
        "insurance_years": None,
        "template_id": None,  # null optional text fields are fine (the fuzzer found a 500)
        "key": "",
    },
    {
        "product_name": "附加意外伤害保险",
        "product_type": "traditional",
        "premium": 600,
        "payment_method": "年交",
        "payment_years": 1,
        "insurance_years": 1,
    },
]


async def test_create_combined_sale_with_several_products(
    server: RunningServer, client_factory: Any
) -> None:
    c = await client_factory("sales1")
    inline = ("product_name", "product_type", "premium", "payment_method", "payment_years")
    body = {k: v for k, v in new_session_body().items() if k not in inline}
    del body["insurance_years"]
    status, out = await c.post("/api/sessions", json={**body, "products": COMBINED_PRODUCTS})
    assert status == 201, out
    s = out["session"]
    assert s["product_name"] == "示例终身寿险"
    meta = json.loads((server.ctx.settings.sessions_dir / s["id"] / "metadata.json").read_text())
    products = meta["policy"]["products"]
    assert [p["key"] for p in products] == ["main", "rider1"]
    assert [p["premium"] for p in products] == [12000, 600]
    status, detail = await c.get(f"/api/sessions/{s['id']}")
    assert status == 200
    by_id = {n["id"]: n for n in detail["script"]}
    assert (
        "600元" in by_id["rider1.premium"]["text"]
        and by_id["rider1.premium"]["product"] == "rider1"
    )
    assert by_id["consent"]["product"] is None
    assert [p["key"] for p in detail["estimated_products"]] == ["main", "rider1"]
    assert all(p["estimated_s"] > 0 for p in detail["estimated_products"])
    # Refused: no product at all, a bad product type, a path as a product's template.
    for products, code in (
        ([], "invalid_fields"),
        ([{**COMBINED_PRODUCTS[0], "product_type": "lottery"}], "invalid_fields"),
        (
            [COMBINED_PRODUCTS[0], {**COMBINED_PRODUCTS[1], "template_id": "../x"}],
            "invalid_template",
        ),
        (
            [COMBINED_PRODUCTS[0], {**COMBINED_PRODUCTS[1], "template_id": "nope"}],
            "invalid_template",
        ),
    ):
        status, out = await c.post("/api/sessions", json={**body, "products": products})
        assert status == 400, (products, out)
        assert_error(out, code)
    status, out = await c.post("/api/sessions", json=body)  # neither inline nor products
    assert status == 400
    assert_error(out, "invalid_fields")


async def test_template_id_never_names_a_file_of_the_working_directory(
    client_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notes").write_text("id: notes\ntitle: private\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    c = await client_factory("sales1")
    status, body = await c.post("/api/sessions", json=new_session_body(template_id="notes"))
    assert status == 400, body
    assert_error(body, "invalid_template")
    # Refused as unknown, not read and found wanting ("notes: 3 problems").
    assert "no such built-in or installed template" in body["error"]["message"], body
