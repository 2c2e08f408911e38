"""Tables. One declarative base; every datetime is UTC (see types.UTCDateTime)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.store.types import UTCDateTime, utcnow


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # admin | salesperson | reviewer
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(128), default="")
    institution: Mapped[str] = mapped_column(String(128), default="")
    qualified_remote: Mapped[bool] = mapped_column(Boolean, default=True)  # R20
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthSession(Base):
    """A login. The cookie carries a random token; only its hash is stored."""

    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class LoginFailure(Base):
    """Failed logins counted in one fixed window of one limit, for an account name or a
    client address; shared by every server process (server/login_failures.py)."""

    __tablename__ = "login_failures"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # account | address
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    # The window's end: until then ``count`` stands (and refuses at the limit); after it
    # the row is dead and the next failure starts a new window.
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RecordingSession(Base):
    """One sale's remote recording and everything that follows it (inspection, review)."""

    __tablename__ = "recording_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    salesperson_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The salesperson's institution when the session was made: a reviewer of an
    # institution reviews only its sessions (server.reviews.access.institution_scope).
    institution: Mapped[str] = mapped_column(String(128), default="", index=True)
    customer_name: Mapped[str] = mapped_column(String(64))
    customer_id_number: Mapped[str] = mapped_column(String(18))
    product_name: Mapped[str] = mapped_column(String(128))
    product_type: Mapped[str] = mapped_column(String(32))
    template_id: Mapped[str] = mapped_column(String(64))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    # created | live | ended | interrupted | cancelled
    status: Mapped[str] = mapped_column(String(16), default="created", index=True)
    # pending | queued | running | done | failed
    inspection_status: Mapped[str] = mapped_column(String(16), default="pending")
    verdict: Mapped[str | None] = mapped_column(String(16), default=None)  # pass | flagged
    worst_severity: Mapped[str | None] = mapped_column(String(16), default=None)
    finding_count: Mapped[int] = mapped_column(Integer, default=0)
    # none | queued | second_pending | approved | rejected
    review_status: Mapped[str] = mapped_column(String(24), default="none", index=True)
    current_node: Mapped[str | None] = mapped_column(String(64), default=None)
    join_nonce: Mapped[str] = mapped_column(String(32))
    consent_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    retain_until: Mapped[date | None] = mapped_column(Date, default=None)
    rerecord_of: Mapped[str | None] = mapped_column(
        ForeignKey("recording_sessions.id"), default=None
    )
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    # The media node holding the room (media_nodes.id); NULL until the first offer.
    node_id: Mapped[str | None] = mapped_column(String(128), default=None, index=True)


class MediaNode(Base):
    """One `kesu serve` process: where browsers reach it, its capacity, its heartbeat."""

    __tablename__ = "media_nodes"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    url: Mapped[str] = mapped_column(String(512))
    capacity: Mapped[int] = mapped_column(Integer)
    live_rooms: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A unit of background work (inspection, review video), claimed by one worker at a time."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_claim", "status", "run_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(64), default="")
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(64), default=None)
    locked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class InspectionReport(Base):
    __tablename__ = "inspection_reports"

    session_id: Mapped[str] = mapped_column(
        ForeignKey("recording_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FindingRow(Base):
    """A finding from the inspection plus the reviewer's judgement of it."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("recording_sessions.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(48), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    node: Mapped[str | None] = mapped_column(String(64), default=None)
    participant: Mapped[str | None] = mapped_column(String(16), default=None)
    start_s: Mapped[float | None] = mapped_column(Float, default=None)
    end_s: Mapped[float | None] = mapped_column(Float, default=None)
    message: Mapped[str] = mapped_column(Text)
    # English message of the report's finding (``message_en``); None for findings of reports
    # written before the inspection gave one.
    message_en: Mapped[str | None] = mapped_column(Text, default=None)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    review_state: Mapped[str] = mapped_column(
        String(16), default="open"
    )  # open|confirmed|dismissed
    review_comment: Mapped[str] = mapped_column(Text, default="")
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)


class ReviewDecision(Base):
    """A reviewer's decision on a session: level 1 (一审) or level 2 (二审)."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("recording_sessions.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[int] = mapped_column(Integer)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))  # approve | reject
    reason: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RerecordRequest(Base):
    """What a salesperson must record again after a rejection."""

    __tablename__ = "rerecord_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("recording_sessions.id"), index=True)
    salesperson_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    items: Mapped[list[Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    new_session_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Append-only, hash-chained log: each entry stores the SHA-256 of the previous one, and
    an HMAC of its own hash under the audit key (NULL only for entries older than the key)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48), index=True)
    session_id: Mapped[str | None] = mapped_column(String(40), index=True, default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str | None] = mapped_column(String(64), default=None)
