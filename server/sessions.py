"""Recording sessions: creation, join links, media joins, script progress, ending, recovery.

The HTTP handlers stay thin and call this; it ties the database row, the session directory
(metadata.json) and the live media room together.
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
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
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
from server import audit, creation_limit, nodes
from server.api.schemas.sessions import NewSessionBody
from server.context import AppContext
from server.errors import KesuError
from server.rtc.errors import RtcError
from server.sdp_check import check_offer, public_message
from server.session_dir import METADATA, SessionDir
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


def builtin_template(template_id: str) -> Template:
    """A template by id (built-in or in ``KESU_TEMPLATES_DIR``), parsed once per process:
    parsing its YAML took a few ms of the event loop on every session creation and join-page
    view. Keyed by the templates directory too, so changing it is never served stale."""
    return _template_in(template_id, os.environ.get(TEMPLATES_DIR_ENV, ""))


@functools.lru_cache(maxsize=64)
def _template_in(template_id: str, templates_dir: str) -> Template:
    # Templates are frozen; errors are not cached (lru_cache keeps only results).
    if template_id not in template_ids():
        # load_template also takes a file path: an id from a request must never name a
        # file of the server's working directory.
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
    return sdir, audit.sha256_file(sdir.path / METADATA)


async def get_session(ctx: AppContext, session_id: str) -> RecordingSession:
    if not SESSION_ID_RE.match(session_id):
        raise SessionError(404, "not_found", "no such session")
    row = await ctx.db.run_read(lambda s: s.get(RecordingSession, session_id))
    if row is None or row.deleted_at is not None:
        raise SessionError(404, "not_found", "no such session")
    return row


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


# ---------------------------------------------------------------------------------------------
# Live: media, consent, script progress, end


LIVE_STATES = ("created", "live", "interrupted")


async def _update(ctx: AppContext, session_id: str, **values: Any) -> RecordingSession:
    async with ctx.db.session() as s:
        row = await s.get(RecordingSession, session_id)
        if row is None:
            raise SessionError(404, "not_found", "no such session")
        for key, value in values.items():
            setattr(row, key, value)
    return row


async def record_consent(ctx: AppContext, row: RecordingSession) -> RecordingSession:
    """R2: the customer's consent to be recorded, stamped with the server clock."""
    if row.status not in LIVE_STATES:
        raise SessionError(409, "session_ended", "this session has ended")
    if row.consent_at is not None:
        return row
    now = utcnow()
    sdir = await local_dir(ctx, row.id)
    await sdir.add_event("consent", participant="customer")
    async with ctx.db.session() as s:
        db_row = await s.get(RecordingSession, row.id)
        assert db_row is not None
        db_row.consent_at = now
        await audit.record(s, f"customer:{row.id}", "consent.given", row.id, {"at": iso(now)})
    return db_row


async def join_media(ctx: AppContext, row: RecordingSession, role: str, offer_sdp: str) -> str:
    """Connect one participant's browser to the session's media room; returns the SDP answer."""
    if row.status not in LIVE_STATES:
        raise SessionError(409, "session_ended", "this session has ended")
    if role == "customer" and row.consent_at is None:
        raise SessionError(409, "consent_required", "the customer must consent to recording first")
    if len(offer_sdp.encode()) > ctx.settings.max_sdp_bytes:
        raise SessionError(
            413, "sdp_too_large", f"SDP offer larger than {ctx.settings.max_sdp_bytes} bytes"
        )
    sdir = await local_dir(ctx, row.id)
    _check_rejoin_window(sdir, role, ctx.settings.rejoin_window_s)
    _check_join_count(sdir, role, ctx.settings.max_joins_per_participant)
    try:
        check_offer(offer_sdp, ctx.settings.max_sdp_bytes)
        await nodes.place(ctx, row.id)  # or WrongNode: the browser goes to the holder
        room = ctx.rooms.room_for(row.id, sdir)
        if ctx.live is not None and room.tap is None:
            room.tap = ctx.live.open(row.id, sdir, row.template_id, row.policy)
        try:
            answer = await room.join(role, offer_sdp)
        except BaseException:
            # A refused offer must not hold one of the max_sessions slots.
            await ctx.rooms.discard_if_unused(row.id)
            raise
    except RtcError as exc:
        log.info("session %s: %s refused: %s", row.id, role, exc)
        raise SessionError(exc.status, exc.code, public_message(exc)) from None
    if row.status != "live":
        await _update(ctx, row.id, status="live", started_at=row.started_at or utcnow())
    async with ctx.db.session() as s:
        actor = f"customer:{row.id}" if role == "customer" else f"salesperson:{row.salesperson_id}"
        await audit.record(s, actor, "media.join", row.id, {"role": role})
    return answer


def _check_join_count(sdir: SessionDir, role: str, limit: int) -> None:
    """Each join starts new segment files and metadata events: a script holding the link (or
    a login) that joins and leaves in a loop must not grow them without bound."""
    if limit <= 0:
        return
    joins = sum(
        1
        for e in sdir.metadata.get("events", [])
        if e.get("type") == "join" and e.get("participant") == role
    )
    if joins >= limit:
        raise SessionError(
            429,
            "too_many_joins",
            f"the {role} has joined this session {joins} times, the most allowed",
            {"limit": limit},
        )


def _check_rejoin_window(sdir: SessionDir, role: str, window_s: float) -> None:
    """A participant whose last event is a leave (or the server's crash, which dropped
    everyone) may come back only within the window."""
    last = None
    for event in sdir.metadata.get("events", []):
        if event.get("type") == "interrupted" or (
            event.get("participant") == role and event.get("type") in ("join", "leave")
        ):
            last = event
    if last is None or last["type"] == "join":
        return
    left_at = datetime.fromisoformat(str(last["at"]).replace("Z", "+00:00"))
    away_s = (utcnow() - left_at).total_seconds()
    if away_s > window_s:
        raise SessionError(
            410,
            "rejoin_window_expired",
            f"the {role} left {away_s:.0f} s ago; rejoining is allowed within {window_s:.0f} s",
        )


async def leave_media(ctx: AppContext, row: RecordingSession, role: str) -> None:
    room = ctx.rooms.get(row.id)
    if room is not None:
        await room.leave(role)


async def set_node(ctx: AppContext, row: RecordingSession, node_id: str) -> RecordingSession:
    """The salesperson moved the teleprompter to ``node_id``; stored with the server time."""
    if row.status not in LIVE_STATES:
        raise SessionError(409, "session_ended", "this session has ended")
    nodes = rendered_nodes(row.template_id, Policy.from_dict(row.policy))
    if node_id not in {n.id for n in nodes}:
        raise SessionError(
            400, "unknown_node", f"node {node_id!r} is not in template {row.template_id}"
        )
    await (await local_dir(ctx, row.id)).add_event("node", node=node_id)
    if ctx.live is not None:
        ctx.live.marker(row.id, node_id)
    return await _update(ctx, row.id, current_node=node_id)


async def _claim_end(ctx: AppContext, session_id: str) -> str:
    """Set ``ended`` if the session is still in a live state; returns the state it had."""
    async with ctx.db.session() as s:
        status = await s.scalar(
            select(RecordingSession.status).where(RecordingSession.id == session_id)
        )
        if status in LIVE_STATES:
            done = await s.execute(
                update(RecordingSession)
                .where(RecordingSession.id == session_id, RecordingSession.status == status)
                .values(status="ended", ended_at=utcnow())
            )
            if getattr(done, "rowcount", 0) == 1:
                return str(status)
    raise SessionError(409, "session_ended", "this session has already ended")


async def end_session(
    ctx: AppContext,
    row: RecordingSession,
    actor: str,
    reason: str | None = None,
    confirmed_missing: bool = False,
) -> RecordingSession:
    """Finalise the recordings, then queue the review video and the inspection. ``reason``
    (the system ending a session nobody came back to) goes in the end event and audit.
    What the live checks still missed is stored as a ``live_end`` event, with whether the
    salesperson confirmed ending anyway (``confirmed_missing``)."""
    if row.status not in LIVE_STATES:
        raise SessionError(409, "session_ended", "this session has already ended")
    # Only the node holding the call can close its room (or WrongNode: the page goes there).
    await nodes.check_holder(ctx, row.id)
    await local_dir(ctx, row.id)  # (or 503: the files are on a node that is down)
    # The room closes before the status changes: this node's fence (server.fence) takes a
    # session that stops being live under an open room for one the cluster took away.
    if ctx.live is not None:
        await ctx.live.end(row.id, confirmed_missing)
    if ctx.rooms.get(row.id) is not None:
        await ctx.rooms.close_room(row.id)
    # Then the end is claimed by compare-and-set: two enders at once (the salesperson and
    # the housekeeping of another node) must not both finish the files and queue the jobs.
    previous = await _claim_end(ctx, row.id)
    try:
        sdir = session_dir(ctx, row.id)
        await sdir.finish(detail={"reason": reason} if reason else None)
        if ctx.anchorer is not None:
            await ctx.anchorer.flush(row.id)  # the final metadata.json is anchored before the end
    except BaseException:
        await asyncio.shield(_update(ctx, row.id, status=previous, ended_at=None))
        raise
    row = await _update(ctx, row.id, ended_at=utcnow(), inspection_status="queued")
    detail: dict[str, Any] = {"files": await sdir.file_hashes()}
    if reason:
        detail["reason"] = reason
    async with ctx.db.session() as s:
        await audit.record(s, actor, "session.end", row.id, detail)
    if ctx.settings.make_review_video:
        await ctx.queue.enqueue("review_video", {"session_id": row.id})
    await ctx.queue.enqueue("inspect", {"session_id": row.id})
    return row
