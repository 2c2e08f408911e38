"""A loop of small requests cannot grow a session's metadata without bound: teleprompter
nodes (salesperson or self-service customer), answers and documents stop at
``max_session_events`` with 429 ``too_many_events``, and nothing more is written."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.selfservice import MODELS_KEY
from server.session_dir import SessionDir
from tests.conftest import Client, RunningServer, make_settings, new_session_body, serving
from tests.join_links import self_service_join
from tests.test_api_auth import assert_error
from tests.test_selfservice import _png

LIMIT = 12


@pytest.fixture
async def small_budget(tmp_path: Path) -> AsyncIterator[RunningServer]:
    async with serving(make_settings(tmp_path, max_session_events=LIMIT)) as srv:
        yield srv


def _events(server: RunningServer, sid: str) -> list[dict[str, Any]]:
    events = SessionDir(server.ctx.settings.sessions_dir / sid).metadata["events"]
    assert isinstance(events, list)
    return events


async def test_salesperson_node_loop_stops_at_the_budget(small_budget: RunningServer) -> None:
    sales = Client(small_budget.url)
    try:
        await sales.login("sales1")
        status, body = await sales.post("/api/sessions", json=new_session_body())
        assert status == 201, body
        sid = body["session"]["id"]
        status, shown = await sales.get(f"/api/sessions/{sid}")
        nodes = [n["id"] for n in shown["script"]]
        refused = []
        for i in range(LIMIT + 5):
            status, body = await sales.post(
                f"/api/sessions/{sid}/node", {"node": nodes[i % len(nodes)]}
            )
            if status != 200:
                refused.append((status, body))
        assert len(refused) == 5, refused
        for status, body in refused:
            assert status == 429
            assert_error(body, "too_many_events")
            assert body["error"]["details"] == {"limit": LIMIT}
        assert len(_events(small_budget, sid)) == LIMIT
        # The refused moves changed nothing: the row shows the last accepted node.
        status, shown = await sales.get(f"/api/sessions/{sid}")
        assert shown["session"]["current_node"] == nodes[(LIMIT - 1) % len(nodes)]
    finally:
        await sales.close()


async def test_self_service_requests_stop_at_the_budget(small_budget: RunningServer) -> None:
    sales, customer = Client(small_budget.url), Client(small_budget.url)
    try:
        await sales.login("sales1")
        sid, base = await self_service_join(sales)
        status, _ = await customer.post(f"{base}/consent", json={"consent": True})
        assert status == 200
        status, info = await customer.get(base)
        nodes = [n["id"] for n in info["script"]]
        for i in range(LIMIT + 3):
            status, body = await customer.post(f"{base}/node", {"node": nodes[i % len(nodes)]})
        assert status == 429, body
        assert_error(body, "too_many_events")
        assert len(_events(small_budget, sid)) == LIMIT
        # The costly checks are refused before any model is loaded or anything is heard.
        for path, payload in (
            ("document", {"node": "id_card", "image": _png(64, 64, "RGB")}),
            ("answer", {"node": "id_card", "attempt": 1}),
        ):
            status, body = await customer.post(f"{base}/{path}", payload)
            assert status == 429, (path, body)
            assert_error(body, "too_many_events")
        assert MODELS_KEY not in small_budget.ctx.extras
        assert len(_events(small_budget, sid)) == LIMIT
    finally:
        await sales.close()
        await customer.close()
