"""Adding an event to a session's metadata: the client's event budget, events refused once
the session ended, and events that happen once however often they are sent.

Functions on the metadata dict of ``server.session_dir.SessionDir``, called under its lock;
the caller writes ``metadata.json`` afterwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.session_format import new_event, parse_iso, secs, utc_now


class EventBudgetSpent(Exception):
    """The session has as many events as a client may still add to (``add_event(budget=)``)."""

    def __init__(self, count: int) -> None:
        super().__init__(f"the session has {count} events")
        self.count = count


class SessionEnded(Exception):
    """The session has ended: a participant's event is refused (``add_event(live_only=)``)."""


def append_event(
    meta: dict[str, Any],
    type: str,
    participant: str | None,
    node: str | None,
    detail: dict[str, Any] | None,
    at: datetime,
) -> dict[str, Any]:
    """Append an event to ``meta``; returns it with its ``t_s``."""
    event = new_event(type, participant, node, detail, at)
    meta["events"].append(event)
    return with_t_s(meta, event)


def with_t_s(meta: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``event`` with its ``t_s``: seconds since the session started."""
    return {**event, "t_s": secs(parse_iso(event["at"]), parse_iso(meta.get("started_at")))}


def admit_event(
    meta: dict[str, Any],
    type: str,
    participant: str | None,
    node: str | None,
    detail: dict[str, Any] | None,
    at: datetime | None,
    budget: int,
    live_only: bool,
    *,
    once: bool,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Append the event unless refused (:class:`SessionEnded`, :class:`EventBudgetSpent`):
    (the event with its ``t_s``, the record stored in ``meta``). With ``once``, an event of
    ``type`` already there is returned instead, with None as the stored record."""
    if live_only and meta.get("status") == "ended":
        raise SessionEnded
    if once:
        for found in meta["events"]:
            if found.get("type") == type:
                return with_t_s(meta, found), None
    if 0 < budget <= len(meta["events"]):
        raise EventBudgetSpent(len(meta["events"]))
    event = append_event(meta, type, participant, node, detail, at or utc_now())
    return event, meta["events"][-1]


def take_back(meta: dict[str, Any], stored: dict[str, Any]) -> None:
    """Remove an appended event record (by identity) that could not be written."""
    events = meta["events"]
    for i in range(len(events) - 1, -1, -1):
        if events[i] is stored:
            del events[i]
            break
