"""The application context: every long-lived resource, built once and passed in (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from server.security import JoinSigner
from server.settings import Settings
from server.store.db import Database

if TYPE_CHECKING:
    from server.archive import Archiver
    from server.audit_metadata import MetadataAnchorer
    from server.fence import Fence
    from server.jobs import JobQueue, WorkerPool
    from server.live.service import LiveService
    from server.rtc.manager import RoomManager


@dataclass
class AppContext:
    settings: Settings
    db: Database
    signer: JoinSigner
    queue: JobQueue
    rooms: RoomManager
    pool: WorkerPool | None = None
    anchorer: MetadataAnchorer | None = None  # metadata.json -> audit chain (server only)
    extras: dict[str, object] = field(default_factory=dict)
    archive: Archiver | None = None  # object storage (storage_url), None = local files only
    live: LiveService | None = None  # live checks (live_checks), None = off
    fence: Fence | None = None  # this media node's lease on media (kesu serve only)


CTX = web.AppKey("kesu_ctx", AppContext)
