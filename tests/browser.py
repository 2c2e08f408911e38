"""Debian Chromium for browser tests: its path, the flags that keep it quiet and on loopback,
and the login every page test starts with."""

from __future__ import annotations

from playwright.async_api import Page

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
