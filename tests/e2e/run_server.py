"""Run the Kesu app on 127.0.0.1 with an OS-chosen port; print ``KESU_PORT=<n>`` when ready
(on stdout, which the tests send to the server log file).

Settings come from ``KESU_*`` environment variables; ``KESU_E2E_PORT`` fixes the port (a
restart on the same address). The end-to-end tests start this as a
subprocess (possibly inside a network namespace that has only ``lo``) and stop it with
SIGTERM, which runs the app's cleanup (rooms closed, recordings finalised, workers stopped).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiohttp import web  # noqa: E402

from server.app import create_app  # noqa: E402
from server.settings import load_settings  # noqa: E402


async def main() -> None:
    settings = load_settings({"host": "127.0.0.1", "port": 0})
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    runner = web.AppRunner(create_app(settings), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", int(os.environ.get("KESU_E2E_PORT", "0")))
    await site.start()
    port = runner.addresses[0][1]
    print(f"KESU_PORT={port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
