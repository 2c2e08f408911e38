"""A salesperson whose account is disabled (``kesu user disable``) during a call is taken out
of it: the cookie was refused at once, but the call joined before went on being relayed and
recorded for as long as the browser stayed. The customer stays; a rejoin is refused."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import update

from server.store.models import User
from tests.conftest import RunningServer, wait_for
from tests.test_api_recording import make_peer, start_call


async def test_a_disabled_salesperson_leaves_the_call(
    server: RunningServer, client_factory: Any
) -> None:
    sales = await client_factory("sales1")
    customer = await client_factory()
    peers: list[Any] = []
    try:
        sid, _token = await start_call(sales, customer, peers)
        room = server.ctx.rooms.get(sid)
        assert room is not None
        async with server.ctx.db.session() as s:
            await s.execute(update(User).where(User.username == "sales1").values(disabled=True))
        # The housekeeping sweep runs every few seconds; this only bounds a failing test.
        path = server.ctx.settings.sessions_dir / sid / "metadata.json"

        def leaves() -> list[dict[str, Any]]:
            events = json.loads(path.read_text())["events"]
            return [e for e in events if e["type"] == "leave"]

        # (The leave event is written once the participant's segment is finalised.)
        await wait_for(lambda: bool(leaves()), 30.0)
        assert not room.connected()["salesperson"] and room.connected()["customer"]
        assert [(e["participant"], e["detail"]["reason"]) for e in leaves()] == [
            ("salesperson", "account_disabled")
        ]
        again = make_peer("salesperson")
        peers.append(again)
        status, _ = await sales.post(
            f"/api/sessions/{sid}/offer", json={"type": "offer", "sdp": await again.offer()}
        )
        assert status == 401
    finally:
        for p in peers:
            await p.close()
