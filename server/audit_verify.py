"""``kesu audit verify``: the chain (hashes, links, MACs), the signed checkpoints of its head,
every anchored file (recordings, derived files, ``metadata.json``), deletions under the
retention rules, and the review tables against the review actions in the chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.archive import key_of
from server.audit import (
    ANCHOR_ACTIONS,
    DELETE_ACTION,
    GENESIS,
    anchors_of,
    entry_hash,
    sha256_file,
)
from server.audit_keys import AuditKeys, CheckpointLog, CheckpointScan, scan_checkpoints
from server.audit_reviews import (
    REVIEW_ACTIONS,
    check_review,
    decision_state,
    finding_state,
    request_state,
)
from server.audit_trail import TRAIL_KEY, AuditTrail
from server.blobs import ObjectBlobStore
from server.store.models import (
    AuditEntry,
    FindingRow,
    RecordingSession,
    RerecordRequest,
    ReviewDecision,
)

HOLD, RELEASE = "retention.hold", "retention.release"
LIVE = ("created", "live")


@dataclass
class ChainCheck:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Entries whose content cannot be trusted (bad hash, bad or missing MAC).
    untrusted: set[int] = field(default_factory=set)


def _ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in sorted(seqs):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def _span(a: int, b: int) -> str:
    return f"entry {a}" if a == b else f"entries {a}..{b}"


async def check_chain(
    db: AsyncSession, keys: AuditKeys | None, checkpoints: CheckpointLog | None
) -> ChainCheck:
    """Hashes and links of every entry; with ``keys`` their MACs; with ``checkpoints`` the
    chain against every signed checkpoint."""
    out = ChainCheck()
    prev, expected_seq, head = GENESIS, 1, 0
    hashes: dict[int, str] = {}
    no_mac: list[int] = []
    bad_mac: list[int] = []
    first_mac: int | None = None
    for entry in (await db.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars():
        if entry.seq != expected_seq:
            out.problems.append(f"entry {expected_seq}..{entry.seq - 1} missing (removed?)")
        if entry.prev_hash != prev:
            out.problems.append(
                f"entry {entry.seq}: prev_hash does not match entry {entry.seq - 1}"
            )
        actual = entry_hash(
            entry.seq,
            entry.at,
            entry.actor,
            entry.action,
            entry.session_id,
            entry.detail,
            entry.prev_hash,
        )
        if actual != entry.hash:
            out.problems.append(f"entry {entry.seq} ({entry.action}): content was altered")
            out.untrusted.add(entry.seq)
        if entry.mac is None:
            no_mac.append(entry.seq)
        else:
            first_mac = entry.seq if first_mac is None else first_mac
            if keys is not None and not keys.mac_ok(entry.hash, entry.mac):
                bad_mac.append(entry.seq)
        hashes[entry.seq] = entry.hash
        prev, expected_seq, head = entry.hash, entry.seq + 1, entry.seq
    scan: CheckpointScan | None = None
    if keys is not None and checkpoints is not None:
        scan = await asyncio.to_thread(scan_checkpoints, checkpoints, keys.public_key, hashes)
    if keys is None:
        if first_mac is not None or (checkpoints is not None and checkpoints.path.exists()):
            out.problems.append("the audit key is missing: MACs and checkpoints not checked")
        elif head:
            out.notes.append(f"entries 1..{head}: legacy, no audit key yet (hash chain only)")
        return out
    latest = scan.latest if scan else None
    keyed_from = latest.keyed_from if latest else (first_mac or head + 1)
    legacy = [n for n in no_mac if n < keyed_from]
    unkeyed = [n for n in no_mac if n >= keyed_from]
    for a, b in _ranges(bad_mac):
        out.problems.append(
            f"{_span(a, b)}: MAC does not match the audit key (forged or rewritten)"
        )
    for a, b in _ranges(unkeyed):
        out.problems.append(f"{_span(a, b)}: no MAC, though written after the audit key existed")
    for a, b in _ranges(legacy):
        out.notes.append(f"{_span(a, b)}: legacy, written before the audit key (hash chain only)")
    out.untrusted |= set(bad_mac) | set(unkeyed)
    if scan is not None:
        _check_checkpoints(out, scan, hashes, head)
    return out


def _check_checkpoints(
    out: ChainCheck, scan: CheckpointScan, hashes: dict[int, str], head: int
) -> None:
    out.problems += scan.problems
    latest = scan.latest
    if latest is None:
        if head:
            out.problems.append(
                "no signed checkpoint: deletion of the newest entries cannot be ruled out"
            )
        return
    if latest.seq > head:
        out.problems.append(
            f"the chain ends at entry {head} but a checkpoint signed at {latest.at} covers "
            f"entry {latest.seq}: entries {head + 1}..{latest.seq} were deleted"
        )
    differ = sorted(
        (c for c in scan.valid if c.seq <= head and hashes.get(c.seq) != c.hash),
        key=lambda c: c.seq,
    )
    if differ:
        more = f" (and {len(differ) - 1} later checkpoint(s))" if len(differ) > 1 else ""
        out.problems.append(
            f"entry {differ[0].seq} differs from the checkpoint signed at {differ[0].at}{more}: "
            "the chain was rewritten"
        )
    if head > latest.seq:
        out.notes.append(
            f"entries {latest.seq + 1}..{head} are newer than the latest checkpoint (keyed)"
        )


# ---------------------------------------------------------------------------------------------
# Files


@dataclass(frozen=True)
class FileProblem:
    """A recording (or derived file) that no longer matches its anchored hash."""

    session_id: str
    file: str
    problem: str  # "missing" | "altered"
    expected: str
    actual: str | None = None

    def __str__(self) -> str:
        if self.problem == "missing":
            return f"session {self.session_id}: {self.file} is missing (anchored {self.expected[:16]}…)"
        return (
            f"session {self.session_id}: {self.file} was altered "
            f"(sha256 {str(self.actual)[:16]}… ≠ anchored {self.expected[:16]}…)"
        )


def check_files(session_id: str, session_dir: Path, anchors: dict[str, str]) -> list[FileProblem]:
    """Compare files on disk with their anchored hashes (blocking: call from a thread)."""
    problems = []
    root = session_dir.resolve()
    for name, expected in sorted(anchors.items()):
        path = (session_dir / name).resolve()
        if root not in path.parents or not path.is_file():
            problems.append(FileProblem(session_id, name, "missing", expected))
            continue
        actual = sha256_file(path)
        if actual != expected:
            problems.append(FileProblem(session_id, name, "altered", expected, actual))
    return problems


def _retained(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def deletion_refusal(
    entries: list[AuditEntry], delete: AuditEntry, row: RecordingSession | None, untrusted: set[int]
) -> str | None:
    """Why a ``session.delete`` entry must not excuse missing files (None: it was allowed)."""
    if delete.seq in untrusted:
        return "the entry fails its hash or MAC (forged?)"
    if row is None or row.deleted_at is None:
        return "the session is not marked deleted in the database"
    create = next((e for e in entries if e.action == "session.create"), None)
    anchored = _retained(create.detail.get("retain_until")) if create else None
    recorded = _retained(delete.detail.get("retain_until"))
    if anchored is not None and recorded is not None and anchored != recorded:
        return f"the retention date was changed from {anchored} to {recorded}"
    until = anchored or recorded or row.retain_until
    if until is None:
        return "the session has no retention date"
    on = _retained(delete.detail.get("on")) or delete.at.date()
    if on < delete.at.date() or on <= until:
        return f"deleted on {on}, before its retention date {until}"
    holds = [
        e
        for e in entries
        if e.action in (HOLD, RELEASE) and e.seq < delete.seq and e.seq not in untrusted
    ]
    if holds and holds[-1].action == HOLD:
        return f"a legal hold (entry {holds[-1].seq}) was in force"
    return None


async def check_all_files(
    db: AsyncSession, sessions_dir: Path, untrusted: set[int], store: ObjectBlobStore | None = None
) -> tuple[list[str], list[FileProblem]]:
    """Every anchored file of every session not deleted under the retention rules; also
    every ``session.delete`` entry that does not excuse missing files. With ``store``
    (object storage), a file missing locally is checked there."""
    by_session: dict[str, list[AuditEntry]] = {}
    actions = (*ANCHOR_ACTIONS, DELETE_ACTION, HOLD, RELEASE, "session.create")
    query = select(AuditEntry).where(AuditEntry.action.in_(actions)).order_by(AuditEntry.seq)
    for entry in (await db.execute(query)).scalars():
        if entry.session_id:
            by_session.setdefault(entry.session_id, []).append(entry)
    rows = {
        r.id: r
        for r in (
            await db.execute(
                select(RecordingSession).where(RecordingSession.id.in_(list(by_session)))
            )
        ).scalars()
    }
    refused: list[str] = []
    problems: list[FileProblem] = []
    for session_id, entries in sorted(by_session.items()):
        row = rows.get(session_id)
        deletes = [e for e in entries if e.action == DELETE_ACTION]
        if deletes:
            why = deletion_refusal(entries, deletes[-1], row, untrusted)
            if why is None:
                continue  # deleted after its retention term, and the deletion is in the chain
            refused.append(
                f"session {session_id}: session.delete entry {deletes[-1].seq} not honoured "
                f"({why}); its files are checked"
            )
        anchors = anchors_of([e for e in entries if e.action in ANCHOR_ACTIONS])
        if row is not None and row.status in LIVE and not deletes:
            anchors.pop("metadata.json", None)  # being written by the live call right now
        if anchors:
            found = await asyncio.to_thread(
                check_files, session_id, sessions_dir / session_id, anchors
            )
            if store is not None:
                rechecked = [await _recheck_in_store(store, p) for p in found]
                found = [p for p in rechecked if p is not None]
            problems += found
    return refused, problems


async def _recheck_in_store(store: ObjectBlobStore, problem: FileProblem) -> FileProblem | None:
    """A file missing here checked in object storage (a worker's report written on another
    machine; a recording whose local copy is gone): None if the copy there has the anchored
    hash, ``altered`` if another."""
    if problem.problem != "missing":
        return problem
    try:
        _size, digest = await store.sha256(key_of(problem.session_id, problem.file))
    except FileNotFoundError:
        return problem
    if digest == problem.expected:
        return None
    return replace(problem, problem="altered", actual=digest)


# ---------------------------------------------------------------------------------------------
# Review tables


async def check_reviews(db: AsyncSession, untrusted: set[int]) -> list[str]:
    """Every session's findings, decisions and requests against the chain's review actions."""
    entries: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    query = select(AuditEntry.seq, AuditEntry.action, AuditEntry.session_id, AuditEntry.detail)
    for seq, action, sid, detail in (
        await db.execute(query.where(AuditEntry.action.in_(REVIEW_ACTIONS)))
    ).all():
        if sid:
            entries.setdefault(sid, []).append((seq, action, detail))
    findings: dict[str, list[dict[str, Any]]] = {}
    for f in (await db.execute(select(FindingRow).order_by(FindingRow.id))).scalars():
        findings.setdefault(f.session_id, []).append({"id": f.id, **finding_state(f)})
    decisions: dict[str, list[dict[str, Any]]] = {}
    for d in (await db.execute(select(ReviewDecision).order_by(ReviewDecision.id))).scalars():
        decisions.setdefault(d.session_id, []).append(decision_state(d))
    requests: dict[str, list[dict[str, Any]]] = {}
    for r in (await db.execute(select(RerecordRequest).order_by(RerecordRequest.id))).scalars():
        requests.setdefault(r.session_id, []).append(request_state(r))
    ids = set(entries) | set(findings) | set(decisions) | set(requests)
    status = {
        sid: st
        for sid, st in (
            await db.execute(
                select(RecordingSession.id, RecordingSession.review_status).where(
                    RecordingSession.id.in_(list(ids))
                )
            )
        ).all()
    }
    problems: list[str] = []
    for sid in sorted(ids):
        if any(seq in untrusted for seq, _, _ in entries.get(sid, [])):
            continue  # an altered review entry is reported by the chain check already
        problems += check_review(
            sid,
            entries.get(sid, []),
            findings.get(sid, []),
            decisions.get(sid, []),
            requests.get(sid, []),
            status.get(sid),
        )
    return problems


# ---------------------------------------------------------------------------------------------
# Everything


@dataclass
class Report:
    problems: list[str]
    notes: list[str]


async def verify_archive(
    db: AsyncSession,
    sessions_dir: Path,
    keys: AuditKeys | None,
    checkpoints: CheckpointLog,
    store: ObjectBlobStore | None = None,
) -> Report:
    """The whole archive (local files, then ``store`` for those missing here); ``problems``
    empty means intact."""
    chain = await check_chain(db, keys, checkpoints)
    refused, files = await check_all_files(db, sessions_dir, chain.untrusted, store)
    reviews = await check_reviews(db, chain.untrusted)
    problems = (
        [f"chain: {p}" for p in chain.problems]
        + [f"retention: {p}" for p in refused]
        + [f"file: {p}" for p in files]
        + [f"review: {p}" for p in reviews]
    )
    notes = [f"chain: {n}" for n in chain.notes]
    return Report(problems, notes)


def _trail(db: AsyncSession) -> AuditTrail | None:
    trail = db.info.get(TRAIL_KEY)
    return trail if isinstance(trail, AuditTrail) else None


async def verify_chain(db: AsyncSession) -> list[str]:
    """Chain problems, checked with the key and checkpoints of the attached audit trail."""
    trail = _trail(db)
    if trail is None:
        return (await check_chain(db, None, None)).problems
    await trail.flush()
    return (await check_chain(db, trail.keys, trail.log)).problems


async def verify_files(db: AsyncSession, sessions_dir: Path) -> list[str]:
    """File problems and deletions not honoured (keys from the attached audit trail)."""
    trail = _trail(db)
    chain = await check_chain(db, trail.keys if trail else None, None)
    refused, files = await check_all_files(db, sessions_dir, chain.untrusted)
    return refused + [str(f) for f in files]
