"""The published OpenAPI document: it lists exactly the app's /api routes, is served without
login, docs/api.md is rendered from it, and 4xx answers match its error schema; the routes
outside /api (pages, health, metrics) are in the README's table of pages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema_rs
from aiohttp import web

from server.api.openapi import OPERATIONS, document
from server.app import create_app
from server.settings import Settings
from tests.conftest import RunningServer, new_session_body

ROOT = Path(__file__).resolve().parent.parent


def _api_routes(app: web.Application) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/") and route.method != "HEAD":
            out.add((route.method, path))
    return out


def test_every_page_route_is_in_the_readme(settings: Settings) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Pages", 1)[1].split("\n## ", 1)[0]
    paths = set()
    for route in create_app(settings).router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or f"{info.get('prefix', '')}/"
        if not path.startswith("/api/"):
            paths.add(re.sub(r"\{(\w+)\}", r"<\1>", path))  # written <session_id> there
    assert {"/", "/login", "/join/<token>", "/static/"} <= paths  # the walk found the pages
    assert sorted(p for p in paths if f"`{p}`" not in table) == []


def test_document_lists_exactly_the_api_routes(settings: Settings) -> None:
    app = create_app(settings)
    documented = {(op.method, op.path) for op in OPERATIONS}
    assert len(documented) == len(OPERATIONS), "an operation is declared twice"
    assert _api_routes(app) == documented


async def test_served_without_login_and_loadable_by_schemathesis(
    server: RunningServer, client_factory: Any
) -> None:
    import schemathesis

    anon = await client_factory()
    status, body = await anon.get("/api/openapi.json")
    assert status == 200
    assert body == document()
    assert body["openapi"].startswith("3.1")
    schema = schemathesis.openapi.from_dict(body)
    ops = [r.ok() for r in schema.get_all_operations()]
    assert {(o.method.upper(), o.path) for o in ops} == {(op.method, op.path) for op in OPERATIONS}


def test_docs_api_md_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/api_docs.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


async def test_4xx_answers_match_the_documented_error_schema(client_factory: Any) -> None:
    doc = document()
    schema = {**doc["components"]["schemas"]["ErrorBody"], "$defs": doc["components"]["schemas"]}
    schema = _inline_refs(schema)
    validator = jsonschema_rs.validator_for(schema)
    anon = await client_factory()
    sales = await client_factory("sales1")
    cases: list[tuple[Any, str, str, Any]] = [
        (anon, "GET", "/api/me", None),
        (anon, "GET", "/api/join/a.b.c.%EF%BC%A1", None),
        (anon, "POST", "/api/login", {"username": 5}),
        (sales, "POST", "/api/sessions", new_session_body(premium=-1)),
        (sales, "POST", "/api/sessions", new_session_body(customer_id_number="1")),
        (sales, "GET", "/api/review/queue", None),
        (sales, "GET", "/api/sessions/s-0000000000000000", None),
        (sales, "DELETE", "/api/sessions", None),
    ]
    seen = set()
    for client, method, path, body in cases:
        status, answer = await client.request(method, path, json=body)
        assert 400 <= status < 500, (path, answer)
        errors = [e.message for e in validator.iter_errors(answer)]
        assert not errors, (path, answer, errors)
        seen.add(status)
    assert seen >= {400, 401, 403, 404, 405}
    # The schema is strict: an answer with an extra key would not pass.
    assert not validator.is_valid({"error": {"code": "x", "message": "y"}})


def _inline_refs(schema: Any) -> Any:
    """jsonschema-rs resolves local $refs through $defs; point OpenAPI refs there."""
    if isinstance(schema, dict):
        return {
            k: (
                v.replace("#/components/schemas/", "#/$defs/")
                if k == "$ref" and isinstance(v, str)
                else _inline_refs(v)
            )
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_inline_refs(v) for v in schema]
    return schema


def test_wrong_node_is_documented_where_it_can_be_answered() -> None:
    from server.nodes import WrongNode

    doc = document()
    bound = {
        (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if "WrongNodeBody" in json.dumps(op["responses"].get("409", {}))
    }
    # The offers place the call (server.nodes.place), the end needs its holder, and a
    # re-recording starts where the original's metadata.json (its mode) is.
    assert bound == {
        ("POST", "/api/sessions/{session_id}/offer"),
        ("POST", "/api/join/{token}/offer"),
        ("POST", "/api/sessions/{session_id}/end"),
        ("POST", "/api/rerecord-requests/{request_id}/start"),
    }
    schemas = doc["components"]["schemas"]
    validator = jsonschema_rs.validator_for(
        _inline_refs({**schemas["WrongNodeBody"], "$defs": schemas})
    )
    exc = WrongNode("m2", "https://kesu.example.com:8443")
    answer = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    assert validator.is_valid(answer)
    assert not validator.is_valid({"error": {**answer["error"], "details": {}}})


def test_the_teleprompter_moves_say_a_repeated_move_is_a_no_op() -> None:
    """A move to the node already current writes nothing (tests/test_node_db_locked.py): a
    page retrying a move whose answer was lost relies on it, so both operations say so."""
    paths = document()["paths"]
    for path in ("/api/sessions/{session_id}/node", "/api/join/{token}/node"):
        assert "already current is a no-op" in paths[path]["post"]["summary"], path
