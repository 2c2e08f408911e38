"""Recording sessions: creation, join links, reading and listing; the call itself (consent,
media joins, script progress) is ``server.session_call``, its end ``server.session_end``.

The HTTP handlers stay thin and call this; it ties the database row and the session directory
(metadata.json) together.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inspection.idnumber import mask_id, validate_id
from inspection.policy import Policy
from inspection.templates import (
    TEMPLATES_DIR_ENV,
    RenderedNode,
    Template,
    TemplateError,
    TemplateIssue,
    load_template,
    render,
    template_ids,
)
from server import audit, creation_limit, free_space, nodes
from server.api.schemas.sessions import NewSessionBody
from server.context import AppContext
from server.durable_files import sha256_file
from server.errors import KesuError
from server.session_dir import SessionDir
from server.session_format import METADATA
from server.store.models import RecordingSession, User
from server.store.types import iso, utcnow

log = logging.getLogger("kesu.sessions")

SESSION_ID_RE = re.compile(r"^s-[0-9a-f]{16}$")
WHOLE_LIFE_AGE = 105  # the age a whole-life contract is taken to end at, for retention


class SessionError(KesuError):
    """A user fault about a session."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code, status=status, details=details)


@dataclass(frozen=True)
class NewSession:
    """Validated input for a new recording session (the sale's policy data)."""

    policy: Policy
    template_id: str
    mode: str = "two_party"  # or "self_service" (kept in metadata.json)


def _required(value: str, key: str) -> str:
    value = value.strip()
    if not value:
        raise SessionError(400, "invalid_fields", f"{key} is required", {"field": key})
    return value


def parse_new_session(body: NewSessionBody, salesperson: User) -> NewSession:
    """Check the creation form beyond the schema's types and bounds: required fields
    filled, the ID number passes GB 11643, the template fits the product."""
    id_check = validate_id(_required(body.customer_id_number, "customer_id_number"))
    if not id_check.valid:
        raise SessionError(
            400,
            "invalid_id_number",
            f"customer ID number is not valid: {id_check.reason}",
            {"field": "customer_id_number"},
        )
    common = {
        "customer_name": _required(body.customer_name, "customer_name"),
        "customer_id_number": id_check.number,
        "salesperson_name": salesperson.display_name or salesperson.username,
        "institution": salesperson.institution,
        "cooling_off_days": body.cooling_off_days or 15,
    }
    try:
        policy = Policy.from_dict({**common, **_product_fields(body)})
    except ValueError as exc:
        raise SessionError(400, "invalid_fields", str(exc), {"field": "products"}) from None
    template_id = _required(body.template_id, "template_id")
    rendered_nodes(template_id, policy)  # refuses an unknown or mismatched template now
    return NewSession(policy, template_id, body.mode)


def _product_fields(body: NewSessionBody) -> dict[str, Any]:
    """The policy's product fields: inline (one product) or the ``products`` list."""
    if not body.products:
        return {
            "product_name": _required(body.product_name or "", "product_name"),
            "product_type": body.product_type or _missing("product_type"),
            "premium": body.premium,
            "payment_method": body.payment_method.strip(),
            "payment_years": body.payment_years,
            "insurance_years": body.insurance_years,
        }
    products = []
    for i, p in enumerate(body.products):
        item = p.model_dump(exclude_none=True)
        item["product_name"] = _required(p.product_name, f"products[{i}].product_name")
        item["payment_method"] = p.payment_method.strip()
        item["insurance_years"] = p.insurance_years  # null is whole life, not "unset"
        if p.template_id is not None and not re.fullmatch(r"[a-z0-9_]{1,64}", p.template_id):
            raise SessionError(
                400,
                "invalid_template",
                "template_id must be a built-in template id",
                {"field": f"products[{i}].template_id"},
            )
        products.append(item)
    inline = {
        k: v
        for k, v in (("product_name", body.product_name), ("product_type", body.product_type))
        if v
    }
    return {**inline, "products": products}


def _missing(key: str) -> str:
    raise SessionError(400, "invalid_fields", f"{key} is required", {"field": key})


def rendered_nodes(template_id: str, policy: Policy) -> list[RenderedNode]:
    """The script for this sale; template problems are the user's fault (400)."""
    if not re.fullmatch(r"[a-z0-9_]{1,64}", template_id):
        raise SessionError(400, "invalid_template", "template_id must be a built-in template id")
    try:
        return render(builtin_template(template_id), policy)
    except TemplateError as exc:
        raise SessionError(400, "invalid_template", str(exc).splitlines()[0]) from None


def node_of(row: RecordingSession, node_id: str) -> RenderedNode:
    """The node ``node_id`` of the session's script; one not in it is the user's fault (400)."""
    nodes = rendered_nodes(row.template_id, Policy.from_dict(row.policy))
    node = next((n for n in nodes if n.id == node_id), None)
    if node is None:
        raise SessionError(
            400, "unknown_node", f"node {node_id!r} is not in template {row.template_id}"
        )
    return node


def builtin_template(template_id: str) -> Template:
    """A template by id (built-in or in ``KESU_TEMPLATES_DIR``), parsed once per process:
    parsing its YAML took a few ms of the event loop on every session creation and join-page
    view. Keyed by the templates directory too, so changing it is never served stale."""
    return _template_in(template_id, os.environ.get(TEMPLATES_DIR_ENV, ""))


@functools.lru_cache(maxsize=64)
def _template_in(template_id: str, templates_dir: str) -> Template:
    # Templates are frozen; errors are not cached (lru_cache keeps only results).
    if template_id not in template_ids():
        # Only known ids (load_template reads a file for a str that is not of id syntax;
        # the caller checked the syntax too).
        raise TemplateError(
            template_id, [TemplateIssue(None, "", "no such built-in or installed template")]
        )
    return load_template(template_id)


def retain_until(policy: Policy, created: date, years_after_term: int) -> date:
    """R17: kept ``years_after_term`` after the contract ends (whole life: to age WHOLE_LIFE_AGE)."""
    if policy.insurance_years is not None:
        end_year = created.year + policy.insurance_years
    else:
        birth = validate_id(policy.customer_id_number).birth_date
        end_year = (birth.year if birth else created.year) + WHOLE_LIFE_AGE
    return date(end_year + years_after_term, created.month, min(created.day, 28))


def session_dir(ctx: AppContext, session_id: str) -> SessionDir:
    if not SESSION_ID_RE.match(session_id):
        raise SessionError(404, "not_found", "no such session")
    return SessionDir(ctx.settings.sessions_dir / session_id)


async def local_dir(ctx: AppContext, session_id: str) -> SessionDir:
    """The session's directory on this node's disk, for writing. Nodes on separate disks
    keep it on the node that created the session; requests about it are forwarded there
    (server.api.forward), so it is missing here only while that node is down: 409
    ``wrong_node`` if it came back meanwhile, else 503 ``node_unavailable``."""
    sdir = session_dir(ctx, session_id)
    if not await asyncio.to_thread(sdir.exists):
        await nodes.check_holder(ctx, session_id)
        raise SessionError(
            503,
            "node_unavailable",
            "this session's recordings are on a media node that is not running; "
            "try again when it is back",
        )
    return sdir


def session_mode(ctx: AppContext, session_id: str) -> str:
    """``two_party`` or ``self_service`` (metadata.json; older sessions are two-party)."""
    return str(session_dir(ctx, session_id).metadata.get("mode") or "two_party")


async def recorded_mode(ctx: AppContext, session_id: str) -> str:
    """The mode this node's copy of the session's metadata.json records, read on a thread
    (a re-recording starts in it). Not guessed when the directory is on another node's disk:
    409 ``wrong_node`` / 503 ``node_unavailable`` as :func:`local_dir`."""
    sdir = await local_dir(ctx, session_id)
    meta = await asyncio.to_thread(lambda: sdir.metadata)
    return str(meta.get("mode") or "two_party")


def masked_policy(policy: dict[str, Any]) -> dict[str, Any]:
    out = dict(policy)
    if out.get("customer_id_number"):
        out["customer_id_number"] = mask_id(str(out["customer_id_number"]))
    return out


def session_json(row: RecordingSession, live: dict[str, bool] | None = None) -> dict[str, Any]:
    """The API view of a session; the ID number is always masked."""
    return {
        "id": row.id,
        "status": row.status,
        "customer_name": row.customer_name,
        "customer_id_number": mask_id(row.customer_id_number),
        "product_name": row.product_name,
        "product_type": row.product_type,
        "template_id": row.template_id,
        "policy": masked_policy(row.policy),
        "current_node": row.current_node,
        "consent_at": iso(row.consent_at),
        "created_at": iso(row.created_at),
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
        "inspection_status": row.inspection_status,
        "verdict": row.verdict,
        "finding_count": row.finding_count,
        "review_status": row.review_status,
        "retain_until": row.retain_until.isoformat() if row.retain_until else None,
        "rerecord_of": row.rerecord_of,
        "connected": live or {},
    }


async def create_session(
    ctx: AppContext, user: User, new: NewSession, rerecord_of: str | None = None
) -> RecordingSession:
    """Insert the row, create the session directory with its metadata, and audit it."""
    session_id = f"s-{secrets.token_hex(8)}"
    now = utcnow()
    row = RecordingSession(
        id=session_id,
        salesperson_id=user.id,
        institution=user.institution or "",
        customer_name=new.policy.customer_name,
        customer_id_number=new.policy.customer_id_number,
        product_name=new.policy.product_name,
        product_type=new.policy.product_type,
        template_id=new.template_id,
        policy=new.policy.to_dict(),
        join_nonce=secrets.token_hex(8),
        created_at=now,
        retain_until=retain_until(new.policy, now.date(), ctx.settings.retention_years_after_term),
        rerecord_of=rerecord_of,
        # Its directory is created here, so this node holds it (server.nodes: a creation
        # is forwarded to the node with the most free capacity before it gets here).
        node_id=nodes.node_id(ctx.settings),
    )
    # Before anything is made: a recording must not start on a disk with no room for it.
    await free_space.ensure_room(ctx.settings.sessions_dir, ctx.settings.min_free_mb)
    limit = ctx.settings.max_sessions_per_hour
    await ctx.db.run_read(lambda s: creation_limit.check(s, user.id, limit, now))
    path = path_of(ctx, session_id)
    anchorer = ctx.anchorer
    if anchorer is not None:
        anchorer.claim(session_id)
    anchored: str | None = None
    try:
        # The directory first, on a thread: file I/O (with fsync) must not happen while the
        # transaction below holds SQLite's one write lock that every other writer waits for.
        sdir, meta_sha = await asyncio.to_thread(
            _create_dir,
            ctx.settings.sessions_dir,
            session_id,
            template_id=new.template_id,
            policy=new.policy.to_dict(),
            mode=new.mode,
        )
        actor = f"user:{user.username}"
        created_detail = {
            "template_id": new.template_id,
            "product": new.policy.product_name,
            # Anchored so a retention date moved in the database cannot excuse a deletion.
            "retain_until": row.retain_until.isoformat() if row.retain_until else None,
        }

        def insert(s: Session) -> None:
            creation_limit.check(s, user.id, limit, now)  # again, under the write lock
            s.add(row)
            audit.record_sync(s, actor, "session.create", session_id, created_detail)
            # The first metadata.json, anchored in the same transaction (not a second write).
            audit.record_sync(
                s, "system", audit.METADATA_ACTION, session_id, {"files": {METADATA: meta_sha}}
            )

        # One call on the writer thread: the write lock is held for the statements only.
        await ctx.db.run_write(insert)
        anchored = meta_sha
    except BaseException:
        # A session is its row and its directory: neither may outlive a failed creation.
        await asyncio.to_thread(shutil.rmtree, path, True)
        raise
    finally:
        if anchorer is not None:
            anchorer.settle(session_id, anchored)
    log.info("session %s created by %s (%s)", session_id, user.username, sdir.path)
    return row


def _create_dir(root: Path, session_id: str, **fields: Any) -> tuple[SessionDir, str]:
    """Create the session directory (blocking) and hash the metadata.json it wrote."""
    sdir = SessionDir.create(root, session_id, **fields)
    return sdir, sha256_file(sdir.path / METADATA)


async def get_session(ctx: AppContext, session_id: str) -> RecordingSession:
    if not SESSION_ID_RE.match(session_id):
        raise SessionError(404, "not_found", "no such session")
    row = await ctx.db.run_read(lambda s: s.get(RecordingSession, session_id))
    if row is None or row.deleted_at is not None:
        raise SessionError(404, "not_found", "no such session")
    return row


async def get_session_and_owner(
    ctx: AppContext, session_id: str
) -> tuple[RecordingSession, User | None]:
    """:func:`get_session` and its salesperson's account (None if there is none), in one
    query: a customer's link asks for both on every request (the state poll, the
    heartbeats), where two reads cost two round trips."""
    if not SESSION_ID_RE.match(session_id):
        raise SessionError(404, "not_found", "no such session")
    query = (
        select(RecordingSession, User)
        .outerjoin(User, User.id == RecordingSession.salesperson_id)
        .where(RecordingSession.id == session_id)
    )
    found = await ctx.db.run_read(lambda s: s.execute(query).first())
    if found is None or found[0].deleted_at is not None:
        raise SessionError(404, "not_found", "no such session")
    return found


def check_owner(row: RecordingSession, user: User) -> None:
    if user.role != "admin" and row.salesperson_id != user.id:
        # 404, not 403: do not reveal that someone else's session exists.
        raise SessionError(404, "not_found", "no such session")


async def list_sessions(ctx: AppContext, user: User, limit: int = 200) -> list[RecordingSession]:
    query = select(RecordingSession).where(RecordingSession.deleted_at.is_(None))
    if user.role != "admin":
        query = query.where(RecordingSession.salesperson_id == user.id)
    query = query.order_by(RecordingSession.created_at.desc()).limit(limit)
    return await ctx.db.run_read(lambda s: list(s.execute(query).scalars()))


def path_of(ctx: AppContext, session_id: str) -> Path:
    return ctx.settings.sessions_dir / session_id
