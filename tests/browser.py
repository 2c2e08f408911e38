"""Debian Chromium for browser tests: its path, the flags that keep it quiet and on loopback,
and the login every page test starts with."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Browser, Dialog, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"

# No background traffic (this machine has no network but loopback), no first-run UI.
BASE_FLAGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--autoplay-policy=no-user-gesture-required",
]

# A camera and a microphone that need no permission prompt and no device.
FAKE_MEDIA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@asynccontextmanager
async def chromium(*flags: str) -> AsyncIterator[Browser]:
    """Headless Debian Chromium with ``flags`` and the quiet loopback-only ones."""
    async with async_playwright() as pw:
        b = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", *flags, *BASE_FLAGS]
        )
        try:
            yield b
        finally:
            await b.close()


# Argon2 (64 MiB, t=3) runs for every login: on a busy CI box it can take seconds, longer
# than Playwright's 5 s default wait.
LOGIN_TIMEOUT_MS = 20_000


async def log_in(page: Page, base: str, username: str, password: str) -> None:
    """Sign in through the login page and wait until it has sent the browser on."""
    await page.goto(f"{base}/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("#login-submit")
    await page.wait_for_url(lambda url: "/login" not in url, timeout=LOGIN_TIMEOUT_MS)


def browser_boxes(page: Page) -> list[str]:
    """The messages of the browser's own boxes (alert, confirm, prompt) the page shows from
    now on, each dismissed: the pages ask in the page (ask.js), so none may be shown."""
    boxes: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        boxes.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    return boxes
