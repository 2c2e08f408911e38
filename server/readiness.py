"""``GET /readyz``: can this node take work? (``/healthz`` only says the process answers.)

Three checks, run concurrently, each with a time limit: the database answers ``SELECT 1``;
the recordings directory takes a write; the models verify (``ModelRegistry.check``, whose
hashes are cached by file stamp; the result is kept for ``MODELS_TTL_S`` so a scrape every
few seconds costs nothing). 200 when all pass, 503 otherwise, with one entry per check.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import text

from server.context import CTX, AppContext

log = logging.getLogger("kesu.readiness")

CHECK_TIMEOUT_S = 3.0
MODELS_TTL_S = 300.0


@dataclass
class _ModelsCache:
    checked_at: float = -1e9
    result: dict[str, Any] = field(default_factory=dict)
    task: asyncio.Task[dict[str, Any]] | None = None


MODELS_CACHE = web.AppKey("kesu_ready_models", _ModelsCache)


async def check_database(ctx: AppContext) -> dict[str, Any]:
    async with ctx.db.read() as s:
        await s.execute(text("SELECT 1"))
    return {"ok": True}


def _write_probe(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".readyz-", dir=directory)
    try:
        os.write(fd, b"ok")
    finally:
        os.close(fd)
        os.unlink(name)


async def check_storage(ctx: AppContext) -> dict[str, Any]:
    await asyncio.to_thread(_write_probe, ctx.settings.sessions_dir)
    return {"ok": True}


def _check_models(models_dir: str) -> dict[str, Any]:
    from models.registry import ModelRegistry, default_cache_dir

    registry = ModelRegistry(default_cache_dir(), Path(models_dir) if models_dir else None)
    broken = {}
    for s in registry.check():
        if not s.ok:
            # The answer names the state only; the detail (paths of the cache) is logged.
            log.warning("readiness: model %s %s: %s", s.name, s.state, s.detail)
            broken[s.name] = s.state
    return {"ok": not broken, **({"broken": broken} if broken else {})}


async def check_models(ctx: AppContext, cache: _ModelsCache) -> dict[str, Any]:
    if ctx.settings.workers <= 0:
        return {"ok": True, "skipped": "no embedded workers on this node"}
    fresh = time.monotonic() - cache.checked_at <= MODELS_TTL_S and cache.result.get("ok")
    if fresh:
        return dict(cache.result)
    if cache.task is None:
        # One verification at a time, shielded from the caller's time limit: a cold hash
        # cache can take longer than one request, and its result must still be kept.
        cache.task = asyncio.create_task(asyncio.to_thread(_check_models, ctx.settings.models_dir))
        cache.task.add_done_callback(lambda t: _keep(cache, t))
    return dict(await asyncio.shield(cache.task))


def _keep(cache: _ModelsCache, task: asyncio.Task[dict[str, Any]]) -> None:
    cache.task = None
    if not task.cancelled() and task.exception() is None:
        cache.result, cache.checked_at = task.result(), time.monotonic()


async def _guard(name: str, coro: Any) -> tuple[str, dict[str, Any]]:
    """A check's result. /readyz needs no login: a failure says what kind of fault it is,
    never a path, host or DSN (the whole message goes to the log for the operator)."""
    try:
        return name, await asyncio.wait_for(coro, CHECK_TIMEOUT_S)
    except TimeoutError:
        return name, {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_S:g} s"}
    except Exception as exc:
        log.warning("readiness check %s failed: %r", name, exc)
        error = type(exc).__name__
        if isinstance(exc, OSError) and exc.strerror:
            error += f": {exc.strerror}"  # (without the file name it carries)
        return name, {"ok": False, "error": error}


async def readyz(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    results = dict(
        await asyncio.gather(
            _guard("database", check_database(ctx)),
            _guard("storage", check_storage(ctx)),
            _guard("models", check_models(ctx, request.app[MODELS_CACHE])),
        )
    )
    ready = all(r["ok"] for r in results.values())
    return web.json_response(
        {"ready": ready, "checks": results},
        status=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


async def _stop_models_check(app: web.Application) -> None:
    """The app owns the shielded models check: a /readyz whose caller left (or timed out)
    must not leave it pending when the loop closes."""
    task = app[MODELS_CACHE].task
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def setup(app: web.Application) -> None:
    app[MODELS_CACHE] = _ModelsCache()
    app.router.add_get("/readyz", readyz)
    app.on_cleanup.append(_stop_models_check)
