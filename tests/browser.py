"""Debian Chromium for browser tests: its path and the flags that keep it quiet and on loopback."""

from __future__ import annotations

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
