"""A re-recording is recorded the way the original was: a customer's self-service session
(docs/self-service.md) is re-recorded as a self-service session, a two-party one as a
two-party one. Before, every re-recording started as two-party, so the customer who had
recorded alone got a link to a call with nobody reading the script. With nodes on
separate disks, the start is sent to the node whose disk has the original's metadata.json
(its mode is kept only there), and the new session is made there."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from server.store.models import RecordingSession
from tests.conftest import Client, RunningServer
from tests.review_fixtures import build_session
from tests.test_api_sales_findings import _reject
from tests.test_forward import TwoHosts, hosts  # noqa: F401 (the two-node fixture)


async def _start(sales: Client) -> dict[str, Any]:
    status, body = await sales.get("/api/rerecord-requests")
    assert status == 200, body
    (req,) = body["requests"]
    status, body = await sales.post(f"/api/rerecord-requests/{req['id']}/start")
    assert status == 201, body
    session: dict[str, Any] = body["session"]
    return session


@pytest.mark.parametrize("mode", ["self_service", "two_party"])
async def test_a_rerecording_keeps_the_originals_mode(
    server: RunningServer, client_factory: Any, mode: str
) -> None:
    built = await build_session(server.ctx, salesperson="sales1", mode=mode)
    await _reject(client_factory, built.id, built.finding_ids)
    sales1 = await client_factory("sales1")
    new = await _start(sales1)
    assert new["rerecord_of"] == built.id
    status, body = await sales1.get(f"/api/sessions/{new['id']}")
    assert status == 200, body
    assert body["session"]["mode"] == mode  # old code: always two_party
    # The customer's link opens the same kind of page as the original's did.
    status, link = await sales1.post(f"/api/sessions/{new['id']}/link")
    assert status == 200, link
    status, state = await sales1.get(f"/api/join/{link['token']}")
    assert status == 200, state
    assert state["mode"] == mode


async def test_a_rerecording_started_on_another_node_keeps_the_mode(
    hosts: TwoHosts,  # noqa: F811
) -> None:
    h = hosts
    # The original was recorded on node b: its metadata.json is only on b's disk.
    built = await build_session(h.b.ctx, salesperson="sales1", mode="self_service")
    assert not (h.a.ctx.settings.sessions_dir / built.id).exists()
    reviewers = [Client(h.a.url), Client(h.a.url)]
    try:
        for who, c in zip(("rev1", "rev2"), reviewers, strict=True):
            await c.login(who)

        async def factory(name: str) -> Client:
            return dict(zip(("rev1", "rev2"), reviewers, strict=True))[name]

        await _reject(factory, built.id, built.finding_ids)
    finally:
        for c in reviewers:
            await c.close()
    new = await _start(h.sales)  # through node a, the proxy's pick
    status, body = await h.sales.get(f"/api/sessions/{new['id']}")
    assert status == 200, body
    assert body["session"]["mode"] == "self_service"
    async with h.a.ctx.db.read() as s:
        held_by = await s.scalar(
            select(RecordingSession.node_id).where(RecordingSession.id == new["id"])
        )
    assert held_by == "node-b"
    assert (h.b.ctx.settings.sessions_dir / new["id"] / "metadata.json").is_file()
