"""Failed-login counters in the database (table ``login_failures``), shared by every server
process on it and kept across restarts.

One row per (scope, key, window): ``scope`` is ``account`` or ``address``, ``key`` the account
name or the address unit, ``window_s`` the length of one of the limits ("5/minute" -> 60).
A window is fixed and starts at its first failure; ``expires_at`` is its end. At ``count`` >=
the limit's amount every login for that key is refused until ``expires_at``. A failure is one
``INSERT ... ON CONFLICT DO UPDATE`` per window, so concurrent failures in several processes
(PostgreSQL) or writers (SQLite) never lose a count, and a dead window restarts at 1 in the
same statement. Expired rows are deleted by the failures that come after them.

These are plain functions on a synchronous ``Session``: the throttle runs them on a database
thread (``Database.run_read`` / ``run_write``), never on the event loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from limits import parse_many
from sqlalchemy import and_, case, delete, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.store.models import LoginFailure
from server.store.types import UTCDateTime

#: The key new names share once ``max_keys`` are tracked in a scope (fails closed).
OVERFLOW = "~overflow"
SCOPES = ("account", "address")


@dataclass(frozen=True)
class Window:
    """One limit: at most ``amount`` failures in ``seconds``."""

    seconds: int
    amount: int


@dataclass(frozen=True)
class Refusal:
    """A throttled login: which counter refused it and when to try again."""

    scope: str  # "account" or "address"
    retry_after_s: int


def windows(spec: str) -> tuple[Window, ...]:
    """``"5/minute;20/hour"`` as windows (``limits`` rate strings; the strictest amount wins
    when two name the same length)."""
    amounts: dict[int, int] = {}
    for item in parse_many(spec):
        seconds = int(item.get_expiry())
        amounts[seconds] = min(amounts.get(seconds, item.amount), item.amount)
    return tuple(Window(s, a) for s, a in sorted(amounts.items()))


Limits = Mapping[str, tuple[Window, ...]]


def _live_counts(
    s: Session, keys: list[tuple[str, str]], now: datetime
) -> dict[tuple[str, str], dict[int, tuple[int, datetime]]]:
    """For each (scope, key): window seconds -> (count, expires_at), unexpired rows only."""
    rows = s.execute(
        select(
            LoginFailure.scope,
            LoginFailure.key,
            LoginFailure.window_s,
            LoginFailure.count,
            LoginFailure.expires_at,
        ).where(
            or_(*(and_(LoginFailure.scope == sc, LoginFailure.key == k) for sc, k in keys)),
            LoginFailure.expires_at > now,
        )
    ).all()
    out: dict[tuple[str, str], dict[int, tuple[int, datetime]]] = {}
    for scope, key, window_s, count, expires_at in rows:
        out.setdefault((scope, key), {})[window_s] = (count, expires_at)
    return out


def _full(s: Session, scope: str, max_keys: int, limits: Limits) -> bool:
    """Whether ``scope`` already has ``max_keys`` keys' worth of rows (expired rows that
    were not purged yet count too: the bound is on the table's size)."""
    rows = s.execute(
        select(func.count()).select_from(LoginFailure).where(LoginFailure.scope == scope)
    ).scalar_one()
    return rows >= max_keys * max(1, len(limits[scope]))


def refusal(
    s: Session,
    limits: Limits,
    idents: Mapping[str, str],
    max_keys: int,
    now: datetime,
) -> Refusal | None:
    """Why a login of ``idents`` (scope -> key) must wait, or None when it may proceed."""
    wanted = [(sc, k) for sc, k in idents.items()] + [(sc, OVERFLOW) for sc in idents]
    live = _live_counts(s, wanted, now)
    worst: Refusal | None = None
    for scope, ident in idents.items():
        counts = live.get((scope, ident))
        if counts is None and (scope, OVERFLOW) in live and _full(s, scope, max_keys, limits):
            # Not tracked on its own and the table is full: it would count under the
            # shared key (see ``_key``), so that key's state is what applies.
            counts = live[(scope, OVERFLOW)]
        for window in limits[scope]:
            count, expires_at = (counts or {}).get(window.seconds, (0, now))
            if count < window.amount:
                continue
            wait = max(1, math.ceil((expires_at - now).total_seconds()))
            if worst is None or wait > worst.retry_after_s:
                worst = Refusal(scope, wait)
    return worst


def _key(s: Session, scope: str, ident: str, limits: Limits, max_keys: int, now: datetime) -> str:
    """The key to count under: past ``max_keys`` new names share one counter (fail closed)."""
    if _live_counts(s, [(scope, ident)], now):
        return ident  # already tracked: keep counting it on its own
    return OVERFLOW if _full(s, scope, max_keys, limits) else ident


def _upsert(s: Session, scope: str, key: str, window: Window, now: datetime) -> None:
    """Count one failure in ``window`` atomically; a dead window restarts at 1."""
    ends = now + timedelta(seconds=window.seconds)
    dialect = s.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(LoginFailure).values(
        scope=scope, key=key, window_s=window.seconds, count=1, expires_at=ends
    )
    table = LoginFailure.__table__.c
    dead = table.expires_at <= literal(now, UTCDateTime())
    stmt = stmt.on_conflict_do_update(
        index_elements=["scope", "key", "window_s"],
        set_={
            "count": case((dead, 1), else_=table.count + 1),
            "expires_at": case((dead, literal(ends, UTCDateTime())), else_=table.expires_at),
        },
    )
    s.execute(stmt)


def failed(
    s: Session,
    limits: Limits,
    idents: Mapping[str, str],
    max_keys: int,
    now: datetime,
    purge: bool,
) -> None:
    """Count one failed login against every window of each (scope, key) in ``idents``;
    with ``purge``, delete every expired row first."""
    if purge:
        purge_expired(s, now)
    for scope, ident in idents.items():
        key = _key(s, scope, ident, limits, max_keys, now)
        for window in limits[scope]:
            _upsert(s, scope, key, window, now)


def purge_expired(s: Session, now: datetime) -> int:
    result = s.execute(delete(LoginFailure).where(LoginFailure.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


def tracked(s: Session, scope: str, key: str, now: datetime) -> bool:
    return bool(_live_counts(s, [(scope, key)], now))


def clear(s: Session, scope: str, key: str) -> None:
    s.execute(delete(LoginFailure).where(LoginFailure.scope == scope, LoginFailure.key == key))
