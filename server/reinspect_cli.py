"""``kesu reinspect SESSION_ID``: run an ended session's inspection again.

For an inspection that failed for good (its files were gone and are back, a recording that
could not be read was repaired) or one an operator wants done again. The command only marks
the session's inspection ``queued`` and audits it (``inspection.requeued`` by ``cli``, reason
``operator``); the housekeeping of the server holding the session (``kesu serve``) finds a
queued inspection without a job within seconds and queues it (``server.inspection_resume``),
so the command needs no running server and never queues a second job next to a live one.
Before, docs/operations.md told operators to edit the database by hand.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from server import audit
from server.audit_trail import AuditTrail, attach
from server.cli_common import CliError, announce, global_options, require_database, settings_from
from server.sessions import SESSION_ID_RE
from server.settings import Settings
from server.store.db import Database
from server.store.models import RecordingSession
from server.text_rules import MAX_NOTE, prose_problem, text_problem


def check_arguments(session_id: str, note: str | None) -> None:
    """CliError for an id no session can have or a note the audit chain should not keep,
    before the database is opened: an argument that is not UTF-8 (Python makes lone
    surrogates of its bytes) was a traceback from the database driver or the audit MAC,
    and a note with an escape sequence or a right-to-left override is refused as a legal
    hold's reason is."""
    if not SESSION_ID_RE.fullmatch(session_id):
        raise CliError(f"no session {session_id!r}")
    if note is None:
        return
    problem = text_problem(note) or prose_problem(note)
    if problem is None and len(note) > MAX_NOTE:
        problem = f"must be at most {MAX_NOTE} characters"
    if problem is not None:
        raise CliError(f"--note {problem}")


async def reinspect(settings: Settings, session_id: str, note: str | None) -> str:
    """Mark ``session_id``'s inspection ``queued``; returns what was done (CliError when it
    cannot be: no such session, not ended, running now)."""
    check_arguments(session_id, note)
    db = Database(settings.db_url)
    trail = attach(db, AuditTrail.from_settings(settings))
    try:
        async with db.session() as s:
            row = await s.get(RecordingSession, session_id)
            if row is None or row.deleted_at is not None:
                raise CliError(f"no session {session_id!r}")
            if row.status != "ended":
                raise CliError(
                    f"session {session_id} has not ended (status {row.status}); "
                    "it is inspected when it ends"
                )
            before = row.inspection_status
            if before == "running":
                raise CliError(f"the inspection of {session_id} is running now; wait for it")
            if before == "queued":
                return f"the inspection of {session_id} is already queued"
            row.inspection_status = "queued"
            detail: dict[str, Any] = {"reason": "operator", "was": before}
            if note:
                detail["note"] = note
            await audit.record(s, "cli", "inspection.requeued", session_id, detail)
    finally:
        await db.close()
        await asyncio.to_thread(trail.close)
    return (
        f"the inspection of {session_id} is queued (it was {before}); "
        "the server holding the session starts it within a minute"
    )


def cmd_reinspect(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    announce(settings, "kesu reinspect")
    require_database(settings)
    print(asyncio.run(reinspect(settings, args.session_id, args.note)))
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "reinspect",
        help="run an ended session's inspection again (after a failure, or once its files are back)",
        parents=[global_options()],
    )
    p.add_argument("session_id", help="the session's id (as in the API and the review pages)")
    p.add_argument("--note", default=None, help="why, kept in the audit entry")
    p.set_defaults(func=cmd_reinspect)
