"""Set-up shared by the tests that run a ``JobRunner`` by hand on a session."""

from __future__ import annotations

from tests.conftest import Client
from tests.test_api_recording import open_session


async def no_progress(stage: str, fraction: float) -> None:
    return None


async def ended_session(url: str) -> str:
    """A session salesperson ``sales1`` opened and ended at once (nothing recorded): its
    inspection is ``queued``. Returns its id."""
    sales = Client(url)
    try:
        await sales.login("sales1")
        sid, _token = await open_session(sales)
        status, body = await sales.post(f"/api/sessions/{sid}/end")
        assert status == 200 and body["session"]["inspection_status"] == "queued", body
    finally:
        await sales.close()
    return sid
