"""End-to-end fixtures: fake media files, a real Kesu server subprocess, Debian Chromium.

See kesu_e2e.py for how traffic is kept on loopback (a network namespace with only ``lo``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fake_media import FakeDevice, make_device
from kesu_e2e import (
    CHROMIUM_FLAGS,
    FACES,
    SERVER_ENV,
    KesuServer,
    chromium_executable,
    serving,
)
from playwright.async_api import Browser, async_playwright


@pytest.fixture(scope="session")
def fake_devices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FakeDevice]:
    """Distinct fake camera/microphone per participant (orange + 220 Hz vs blue + 330 Hz)."""
    root = tmp_path_factory.mktemp("fake-media")
    return {
        "salesperson": make_device(
            root, "salesperson", FACES / "astronaut-portrait.jpg", (230, 120, 20), 220.0
        ),
        "customer": make_device(root, "customer", FACES / "t1-a.jpg", (20, 90, 220), 330.0),
    }


@pytest.fixture
def screenshot_dir(tmp_path: Path) -> Path:
    """Where the test saves page screenshots (KESU_E2E_SHOTS to keep them somewhere known)."""
    chosen = os.environ.get("KESU_E2E_SHOTS")
    path = Path(chosen) if chosen else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def kesu_server(tmp_path: Path) -> AsyncIterator[KesuServer]:
    """The real server on 127.0.0.1 with loopback-only ICE, one worker (for the review video)
    and a salesperson account created with the CLI's function."""
    async with serving(tmp_path, SERVER_ENV) as server:
        yield server


@pytest.fixture
async def browsers(
    kesu_server: KesuServer, fake_devices: dict[str, FakeDevice], tmp_path: Path
) -> AsyncIterator[dict[str, Browser]]:
    """One headless Chromium per participant (each needs its own fake camera/microphone)."""
    executable = chromium_executable(kesu_server, tmp_path)
    async with async_playwright() as pw:
        launched: dict[str, Browser] = {}
        try:
            for role, device in fake_devices.items():
                launched[role] = await pw.chromium.launch(
                    executable_path=executable,
                    headless=True,
                    chromium_sandbox=False,
                    args=[
                        *CHROMIUM_FLAGS,
                        f"--use-file-for-fake-video-capture={device.video}",
                        f"--use-file-for-fake-audio-capture={device.audio}",
                    ],
                )
            yield launched
        finally:
            for browser in launched.values():
                with contextlib.suppress(Exception):
                    await browser.close()
