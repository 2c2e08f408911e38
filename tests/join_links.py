"""A self-service session and its customer's join link, made through the API as the
salesperson's page makes them; a customer brought into the call on the join page, or
recording on the self-service page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.conftest import Client, RunningServer, new_session_body, wait_for


def use_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> None:
    """The server's templates (for a server started after this): ``text`` alone, as ``name``."""
    directory = tmp_path / "templates"
    directory.mkdir()
    (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("KESU_TEMPLATES_DIR", str(directory))


async def self_service_link(sales: Client, template_id: str | None = None) -> tuple[str, str]:
    """(session id, the customer's join token) of a new self-service session of ``sales``
    (logged in), on ``template_id`` or the default template."""
    extra = {} if template_id is None else {"template_id": template_id}
    status, body = await sales.post(
        "/api/sessions", json=new_session_body(mode="self_service", **extra)
    )
    assert status == 201, body
    sid: str = body["session"]["id"]
    status, link = await sales.post(f"/api/sessions/{sid}/link")
    assert status == 200, link
    token: str = link["token"]
    return sid, token


async def self_service_join(sales: Client) -> tuple[str, str]:
    """(session id, the customer's API base ``/api/join/<token>``) of a new self-service
    session of ``sales`` (logged in)."""
    sid, token = await self_service_link(sales)
    return sid, f"/api/join/{token}"


async def customer_in_call(page: Page, server: RunningServer, sid: str, token: str) -> None:
    """The customer opens the join link, consents, passes the device check and enters the
    call; returns once the server's room has them connected."""
    await page.goto(f"{server.url}/join/{token}")
    await page.check("#consent-check")
    await page.click("#consent-button")
    await expect(page.locator("#enter-call")).to_be_enabled(timeout=20_000)
    await page.click("#enter-call")
    await wait_for(
        lambda: bool((room := server.ctx.rooms.get(sid)) and room.connected()["customer"]), 30
    )


async def self_service_recording(page: Page, server: RunningServer, token: str) -> None:
    """The customer opens the self-service link, consents and starts: returns once step one
    shows and the page's call is connected."""
    await page.goto(f"{server.url}/self/{token}")
    await page.check("#ss-consent")
    await page.click("#ss-start")
    await expect(page.locator("#step-title")).to_have_text("第一步", timeout=20_000)
    await page.wait_for_function("() => window.kesuCall.state === 'connected'", timeout=30_000)
