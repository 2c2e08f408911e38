"""Yes/no fields of request bodies take JSON true and false only. pydantic's lax mode read
"no", 0, 1, "1" and "true" as booleans: a staff member's ``{"hold": "no"}`` lifted a legal
hold, ``{"confirm_missing": "no"}`` ended a call without asking. Now each is 400
``invalid_fields`` naming the field, and nothing is written."""

from __future__ import annotations

import typing
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import select

from server import retention
from server.api.openapi import OPERATIONS
from server.store.models import AuditEntry, RecordingSession
from tests.conftest import Client, RunningServer, new_session_body
from tests.review_fixtures import build_session

NOT_BOOLEANS = ["no", 0, 1, "1", "true"]


def _models(model: type[BaseModel]) -> typing.Iterator[type[BaseModel]]:
    """``model`` and the models its fields hold (a combined sale's products...)."""
    yield model
    for info in model.model_fields.values():
        stack: list[Any] = [info.annotation]
        while stack:
            kind = stack.pop()
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from _models(kind)
            stack.extend(typing.get_args(kind))


def _boolean_fields() -> list[tuple[str, str, Any]]:
    """Every field of a request body the API documents as a boolean."""
    found = []
    for body in {op.body for op in OPERATIONS if op.body is not None}:
        for model in _models(body):
            props = model.model_json_schema()["properties"]
            for name, info in model.model_fields.items():
                if props[info.alias or name].get("type") == "boolean":
                    kind: Any = info.annotation
                    if info.metadata:
                        kind = Annotated[(kind, *info.metadata)]
                    found.append((model.__name__, name, kind))
    return found


def test_the_bodies_have_the_boolean_fields_this_file_drives() -> None:
    assert {(m, f) for m, f, _ in _boolean_fields()} >= {
        ("EndBody", "confirm_missing"),
        ("HoldBody", "hold"),
        ("ConsentBody", "consent"),
    }


@pytest.mark.parametrize("value", NOT_BOOLEANS, ids=repr)
def test_every_boolean_field_takes_only_true_or_false(value: Any) -> None:
    for model, name, kind in _boolean_fields():
        adapter = TypeAdapter(kind)
        with pytest.raises(ValidationError):
            adapter.validate_python(value)
            pytest.fail(f"{model}.{name} took {value!r}")
        adapter.validate_python(True)


async def _entries(server: RunningServer, session_id: str) -> list[str]:
    query = select(AuditEntry.action).where(AuditEntry.session_id == session_id)
    async with server.ctx.db.read() as s:
        return list((await s.execute(query.order_by(AuditEntry.seq))).scalars())


def _refused(status: int, body: Any, field: str) -> None:
    assert status == 400, body
    assert body["error"]["code"] == "invalid_fields", body
    assert body["error"]["details"]["field"] == field, body


async def test_hold_takes_only_true_or_false(server: RunningServer, client_factory: Any) -> None:
    built = await build_session(server.ctx)
    admin: Client = await client_factory("admin")
    url = f"/api/sessions/{built.id}/hold"
    status, body = await admin.post(url, {"hold": True, "reason": "客户投诉 2026-001"})
    assert status == 200 and body["hold"]["reason"] == "客户投诉 2026-001"
    before = await _entries(server, built.id)
    for value in NOT_BOOLEANS:
        status, body = await admin.post(url, {"hold": value, "reason": "撤销"})
        _refused(status, body, "hold")
    assert await _entries(server, built.id) == before
    async with server.ctx.db.session() as s:
        held = await retention.legal_hold(s, built.id)
    assert held is not None and held["reason"] == "客户投诉 2026-001"


async def test_confirm_missing_takes_only_true_or_false(
    server: RunningServer, client_factory: Any
) -> None:
    sales: Client = await client_factory("sales1")
    status, body = await sales.post("/api/sessions", new_session_body())
    assert status == 201, body
    sid = body["session"]["id"]
    before = await _entries(server, sid)
    for value in NOT_BOOLEANS:
        status, body = await sales.post(f"/api/sessions/{sid}/end", {"confirm_missing": value})
        _refused(status, body, "confirm_missing")
    async with server.ctx.db.read() as s:
        row = await s.get(RecordingSession, sid)
    assert row is not None and row.status == "created"
    assert await _entries(server, sid) == before
