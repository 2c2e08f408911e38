"""A customer's link request reads its session and the salesperson's standing in one
query: the join page's state poll (every 1.5 s) and the link's other requests each read
the salesperson's account after the session, and ``info`` read it once more. Before: info
3 statements, state 2; now 1 each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from server.store.db import Database
from tests.conftest import Client, RunningServer
from tests.join_links import self_service_join


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement the database's engines send while the block runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    engines = {db.engine.sync_engine, db.read_engine.sync_engine, *db.sync_engines}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize(("method", "path", "expected"), [("GET", "", 1), ("GET", "/state", 1)])
async def test_a_link_request_is_one_query(
    server: RunningServer, client_factory: Any, method: str, path: str, expected: int
) -> None:
    sales = await client_factory("sales1")
    _sid, base = await self_service_join(sales)
    customer = Client(server.url)
    try:
        status, body = await customer.request(method, f"{base}{path}")  # warm (templates)
        assert status == 200, body
        with statements(server.ctx.db) as sent:
            status, body = await customer.request(method, f"{base}{path}")
        assert status == 200, body
    finally:
        await customer.close()
    # The forwarding middleware's look-up of the node holding the room is another concern.
    reads = [s for s in sent if s.startswith("SELECT") and "FROM media_nodes" not in s]
    assert len(reads) == expected, reads
