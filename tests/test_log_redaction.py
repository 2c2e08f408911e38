"""Join tokens (24 h credentials) never reach a log line, and redirects stay on this site."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningServer, new_session_body

JS_DIR = Path(__file__).resolve().parent.parent / "web" / "static" / "js"


async def test_join_token_is_redacted_from_every_log_line(
    client_factory: Any, server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    c = await client_factory("sales1")
    status, body = await c.post("/api/sessions", json=new_session_body())
    assert status == 201
    sid = body["session"]["id"]
    status, link = await c.post(f"/api/sessions/{sid}/link")
    assert status == 200
    token = link["token"]
    secret_part = token.split(".", 1)[1]
    forged = token[:-4] + "AAAA"
    caplog.set_level(logging.DEBUG)
    anon = await client_factory()
    for path in (f"/api/join/{token}/state", f"/api/join/{token}", f"/join/{token}"):
        assert (await anon.get(path))[0] == 200
    assert (await anon.get(f"/api/join/{forged}/state"))[0] == 404
    await anon.get("/static/js/join.js", headers={"Referer": f"{server.url}/join/{token}"})
    text = caplog.text
    assert "/api/join/" in text and "/join/" in text  # the lines are there...
    assert sid in text  # ...with the session id kept for debugging
    assert secret_part not in text and forged.split(".", 1)[1] not in text  # ...but no token


def _node_safe_next(cases: list[str], origin: str) -> list[str | None]:
    script = (
        f"import {{ safeNext }} from {json.dumps((JS_DIR / 'nav.js').as_uri())};\n"
        f"const cases = {json.dumps(cases)};\n"
        f"console.log(JSON.stringify(cases.map((c) => safeNext(c, {json.dumps(origin)}))));\n"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: list[str | None] = json.loads(out.stdout)
    return result


def test_login_next_only_allows_same_origin_paths() -> None:
    origin = "https://kesu.example.com"
    bad = [
        "/\t/example.invalid/",  # what /login?next=/%09/example.invalid/ decodes to
        "/\n/example.invalid/",
        "//example.invalid/",
        "/\\example.invalid/",
        "\\/example.invalid",
        "https://example.invalid/",
        "javascript:alert(1)",
        "sales",
        "",
        "https://kesu.example.com.evil.io/",
    ]
    good = ["/sales", "/review?tab=mine#x", "/sales/session/abc"]
    got = _node_safe_next(bad + good, origin)
    assert got[: len(bad)] == [None] * len(bad), list(zip(bad, got, strict=False))
    assert got[len(bad) :] == good


async def test_login_redirect_keeps_the_whole_path(client_factory: Any) -> None:
    c = await client_factory()
    async with c.http.get(f"{c.base}/sales?x=1&y=2", allow_redirects=False) as r:
        assert r.status == 302
        location = r.headers["Location"]
    from yarl import URL

    url = URL(location)
    assert url.path == "/login" and url.query.get("next") == "/sales?x=1&y=2", location
