"""A self-service session and its customer's join link, made through the API as the
salesperson's page makes them."""

from __future__ import annotations

from tests.conftest import Client, new_session_body


async def self_service_join(sales: Client) -> tuple[str, str]:
    """(session id, the customer's API base ``/api/join/<token>``) of a new self-service
    session of ``sales`` (logged in)."""
    status, body = await sales.post("/api/sessions", json=new_session_body(mode="self_service"))
    assert status == 201, body
    sid: str = body["session"]["id"]
    status, link = await sales.post(f"/api/sessions/{sid}/link")
    assert status == 200, link
    return sid, f"/api/join/{link['token']}"
