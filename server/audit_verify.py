"""``kesu audit verify``: the chain (hashes, links, MACs), the signed checkpoints of its head,
every anchored file and deletions under the retention rules (``server.audit_files``), and the
review tables against the review actions in the chain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit import GENESIS, entry_hash
from server.audit_files import check_all_files
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


@dataclass
class _Walk:
    """What one pass over the entries in order found, beyond the problems it reported."""

    hashes: dict[int, str] = field(default_factory=dict)
    no_mac: list[int] = field(default_factory=list)
    bad_mac: list[int] = field(default_factory=list)
    first_mac: int | None = None
    head: int = 0  # the last entry's seq; 0 for an empty chain


def _link_problems(entry: AuditEntry, expected_seq: int, prev: str) -> list[str]:
    """Entries missing before this one; a broken link to the one before."""
    problems = []
    if entry.seq != expected_seq:
        problems.append(f"entry {expected_seq}..{entry.seq - 1} missing (removed?)")
    if entry.prev_hash != prev:
        problems.append(f"entry {entry.seq}: prev_hash does not match entry {entry.seq - 1}")
    return problems


def _altered(entry: AuditEntry) -> bool:
    """The entry's content no longer hashes to its stored hash."""
    actual = entry_hash(
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.session_id,
        entry.detail,
        entry.prev_hash,
    )
    return actual != entry.hash


def _note_mac(walk: _Walk, entry: AuditEntry, keys: AuditKeys | None) -> None:
    """Whether the entry has a MAC and (with ``keys``) whether it matches."""
    if entry.mac is None:
        walk.no_mac.append(entry.seq)
        return
    walk.first_mac = entry.seq if walk.first_mac is None else walk.first_mac
    if keys is not None and not keys.mac_ok(entry.hash, entry.mac):
        walk.bad_mac.append(entry.seq)


async def _walk_entries(db: AsyncSession, keys: AuditKeys | None, out: ChainCheck) -> _Walk:
    """Every entry in seq order: its links and hash (problems into ``out``) and its MAC."""
    entries = list((await db.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars())
    # Rehashing and MAC-checking an entry takes ~45 us: seconds for a long-lived chain, too
    # long for the event loop (GET /api/audit/verify). The rows are loaded: no lazy loads.
    return await asyncio.to_thread(_walk, entries, keys, out)


def _walk(entries: list[AuditEntry], keys: AuditKeys | None, out: ChainCheck) -> _Walk:
    walk = _Walk()
    prev, expected_seq = GENESIS, 1
    for entry in entries:
        out.problems += _link_problems(entry, expected_seq, prev)
        if _altered(entry):
            out.problems.append(f"entry {entry.seq} ({entry.action}): content was altered")
            out.untrusted.add(entry.seq)
        _note_mac(walk, entry, keys)
        walk.hashes[entry.seq] = entry.hash
        prev, expected_seq, walk.head = entry.hash, entry.seq + 1, entry.seq
    return walk


def _without_key(out: ChainCheck, walk: _Walk, checkpoints: CheckpointLog | None) -> None:
    """No audit key: MACs and checkpoints cannot be checked. A problem when the chain has
    MACs or checkpoints exist (the key was lost); else a note that the chain is legacy."""
    if walk.first_mac is not None or (checkpoints is not None and checkpoints.path.exists()):
        out.problems.append("the audit key is missing: MACs and checkpoints not checked")
    elif walk.head:
        out.notes.append(f"entries 1..{walk.head}: legacy, no audit key yet (hash chain only)")


def _check_macs(out: ChainCheck, walk: _Walk, scan: CheckpointScan | None) -> None:
    """MACs against the key. Entries without one are legacy before the chain was keyed (from
    the latest checkpoint, else the first MAC), a problem after."""
    latest = scan.latest if scan else None
    keyed_from = latest.keyed_from if latest else (walk.first_mac or walk.head + 1)
    legacy = [n for n in walk.no_mac if n < keyed_from]
    unkeyed = [n for n in walk.no_mac if n >= keyed_from]
    for a, b in _ranges(walk.bad_mac):
        out.problems.append(
            f"{_span(a, b)}: MAC does not match the audit key (forged or rewritten)"
        )
    for a, b in _ranges(unkeyed):
        out.problems.append(f"{_span(a, b)}: no MAC, though written after the audit key existed")
    for a, b in _ranges(legacy):
        out.notes.append(f"{_span(a, b)}: legacy, written before the audit key (hash chain only)")
    out.untrusted |= set(walk.bad_mac) | set(unkeyed)


async def check_chain(
    db: AsyncSession, keys: AuditKeys | None, checkpoints: CheckpointLog | None
) -> ChainCheck:
    """Hashes and links of every entry; with ``keys`` their MACs; with ``checkpoints`` the
    chain against every signed checkpoint."""
    out = ChainCheck()
    walk = await _walk_entries(db, keys, out)
    if keys is None:
        _without_key(out, walk, checkpoints)
        return out
    scan: CheckpointScan | None = None
    if checkpoints is not None:
        scan = await asyncio.to_thread(scan_checkpoints, checkpoints, keys.public_key, walk.hashes)
    _check_macs(out, walk, scan)
    if scan is not None:
        _check_checkpoints(out, scan, walk.hashes, walk.head)
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
# Review tables


async def check_reviews(db: AsyncSession, untrusted: set[int]) -> list[str]:
    """Every session's findings, decisions and requests against the chain's review actions."""
    query = select(AuditEntry.seq, AuditEntry.action, AuditEntry.session_id, AuditEntry.detail)
    rows = _ReviewRows(
        (await db.execute(query.where(AuditEntry.action.in_(REVIEW_ACTIONS)))).all(),
        list((await db.execute(select(FindingRow).order_by(FindingRow.id))).scalars()),
        list((await db.execute(select(ReviewDecision).order_by(ReviewDecision.id))).scalars()),
        list((await db.execute(select(RerecordRequest).order_by(RerecordRequest.id))).scalars()),
    )
    status = {
        sid: st
        for sid, st in (
            await db.execute(
                select(RecordingSession.id, RecordingSession.review_status).where(
                    RecordingSession.id.in_(list(rows.session_ids()))
                )
            )
        ).all()
    }
    # Comparing every finding, decision and request with its anchored state is CPU work in
    # proportion to the whole review history: on a thread, like the chain walk. The rows
    # are loaded (no lazy loads there).
    return await asyncio.to_thread(_review_problems, rows, status, untrusted)


@dataclass(frozen=True)
class _ReviewRows:
    """The review tables and the chain's review actions, as loaded."""

    entries: Sequence[tuple[int, str, str | None, dict[str, Any]]]  # seq, action, session, detail
    findings: list[FindingRow]
    decisions: list[ReviewDecision]
    requests: list[RerecordRequest]

    def session_ids(self) -> set[str]:
        ids = {sid for _, _, sid, _ in self.entries if sid}
        ids |= {f.session_id for f in self.findings}
        ids |= {d.session_id for d in self.decisions}
        return ids | {r.session_id for r in self.requests}


def _review_problems(rows: _ReviewRows, status: dict[str, str], untrusted: set[int]) -> list[str]:
    entries: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    for seq, action, sid, detail in rows.entries:
        if sid:
            entries.setdefault(sid, []).append((seq, action, detail))
    findings: dict[str, list[dict[str, Any]]] = {}
    for f in rows.findings:
        findings.setdefault(f.session_id, []).append({"id": f.id, **finding_state(f)})
    decisions: dict[str, list[dict[str, Any]]] = {}
    for d in rows.decisions:
        decisions.setdefault(d.session_id, []).append(decision_state(d))
    requests: dict[str, list[dict[str, Any]]] = {}
    for r in rows.requests:
        requests.setdefault(r.session_id, []).append(request_state(r))
    problems: list[str] = []
    for sid in sorted(rows.session_ids()):
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
