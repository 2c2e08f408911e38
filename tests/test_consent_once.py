"""The customer's consent sent several times at once (a double click, a page and its retry):
one consent, one time. Before, every request that read "no consent yet" wrote a consent
event of its own into metadata.json and a ``consent.given`` audit entry, each answered a
different ``consent_at``, and the database kept whichever request committed last, so the
stamp it showed matched no first consent in the recording's metadata (R2, R4)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from scripts.session_body import new_session_body
from server import session_call
from server.context import AppContext
from server.localservers import fresh_database
from server.session_dir import SessionDir
from server.session_format import parse_iso
from server.store.models import AuditEntry, RecordingSession
from tests.conftest import Client, RunningServer, make_settings, serving

AT_ONCE = 6


async def _new_link(sales: Client) -> tuple[str, str]:
    status, body = await sales.post("/api/sessions", json=new_session_body())
    assert status == 201, body
    sid: str = body["session"]["id"]
    status, link = await sales.post(f"/api/sessions/{sid}/link")
    assert status == 200, link
    return sid, link["token"]


async def _one_consent(ctx: AppContext, sid: str, answered: set[str]) -> None:
    events = SessionDir(ctx.settings.sessions_dir / sid).metadata["events"]
    consents = [e for e in events if e["type"] == "consent"]
    assert len(consents) == 1, consents
    async with ctx.db.read() as s:
        row = await s.get(RecordingSession, sid)
        audited = await s.scalar(
            select(func.count(AuditEntry.seq)).where(
                AuditEntry.session_id == sid, AuditEntry.action == "consent.given"
            )
        )
    assert row is not None and row.consent_at is not None
    assert audited == 1
    # Every request was told the one stamp, which is the event's and the database's.
    assert answered == {consents[0]["at"]}
    assert row.consent_at == parse_iso(consents[0]["at"])


async def test_simultaneous_consents_make_one(server: RunningServer, client_factory: Any) -> None:
    sid, token = await _new_link(await client_factory("sales1"))
    customers = [await client_factory() for _ in range(AT_ONCE)]
    results = await asyncio.gather(
        *(c.post(f"/api/join/{token}/consent", json={"consent": True}) for c in customers)
    )
    assert [status for status, _ in results] == [200] * AT_ONCE, results
    await _one_consent(server.ctx, sid, {body["consent_at"] for _, body in results})
    # Sent again later: the same answer, nothing written.
    status, again = await customers[0].post(f"/api/join/{token}/consent", json={"consent": True})
    assert status == 200 and again["consent_at"] == results[0][1]["consent_at"]
    await _one_consent(server.ctx, sid, {again["consent_at"]})


async def test_simultaneous_consents_make_one_on_postgres(pg_admin: str, tmp_path: Path) -> None:
    """PostgreSQL runs the write transactions at once: the stamp is set and audited under
    the session's row lock, by whichever commits first."""
    url = await fresh_database(pg_admin)
    async with serving(make_settings(tmp_path, database_url=url)) as srv:
        sales = Client(srv.url)
        try:
            await sales.login("sales1")
            sid, _token = await _new_link(sales)
        finally:
            await sales.close()
        async with srv.ctx.db.read() as s:
            row = await s.get(RecordingSession, sid)
        assert row is not None
        rows = await asyncio.gather(
            *(session_call.record_consent(srv.ctx, row) for _ in range(AT_ONCE))
        )
        answered = {r.consent_at for r in rows}
        assert len(answered) == 1
        events = SessionDir(srv.ctx.settings.sessions_dir / sid).metadata["events"]
        consents = [e["at"] for e in events if e["type"] == "consent"]
        await _one_consent(srv.ctx, sid, set(consents))
        assert answered == {parse_iso(consents[0])}
