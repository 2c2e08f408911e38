"""Evidence export: one zip per session that a regulator can verify without our database.

Layout of the zip (``kesu.export/1``)::

    manifest.json          what is inside, with every file's SHA-256
    session/...            the session directory: recordings, review video, report,
                           metadata.json, evidence thumbnails (names as anchored)
    review.json            findings with the reviewers' judgements, decisions, requests
    audit/entries.jsonl    the session's audit entries, complete (content + hashes)
    audit/chain.jsonl      ``{seq, prev, hash}`` of EVERY entry from the session's first to
                           the head of the chain at export time: proves that none of the
                           session's entries was removed, without revealing other sessions

``manifest.json`` carries a checkpoint of that head signed with the audit key (Ed25519,
``kesu.export/2``) and the public key it was signed with.

Verification (``server.audit_export_verify.verify_export``) recomputes each file's hash, each entry's hash, the links
of the chain up to the signed head, checks the signature (against the public key the
verifier trusts, given separately; the embedded one only proves self-consistency), checks
the recordings and metadata.json against the hashes anchored in the entries, and
review.json against the review actions in the entries.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit import (
    anchors_of,
    record,
    session_entries,
)
from server.audit_keys import make_checkpoint
from server.audit_trail import TRAIL_KEY, AuditTrail
from server.durable_files import sha256_file
from server.store.models import AuditEntry
from server.store.types import iso, utcnow

SCHEMA = "kesu.export/2"
SESSION_PREFIX = "session/"
# Already-compressed media are stored; text is deflated.
_STORED = (".mkv", ".webm", ".mp4", ".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class ExportInfo:
    path: Path
    session_id: str
    files: int
    bytes: int
    manifest_sha256: str


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry exactly as hashed (``at`` in the hashed ISO form)."""
    return {
        "seq": entry.seq,
        "at": iso(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "session_id": entry.session_id,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "mac": entry.mac,
    }


def _session_files(session_dir: Path) -> list[tuple[str, Path]]:
    """(relative name, path) of every regular file of the session directory, sorted."""
    out = []
    for path in sorted(session_dir.rglob("*")):
        rel = path.relative_to(session_dir).as_posix()
        if path.is_file() and not path.is_symlink() and not path.name.startswith("."):
            out.append((rel, path))
    return out


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode()


def _generated_files(
    review: dict[str, Any], entries: list[dict[str, Any]], skeleton: list[dict[str, Any]]
) -> dict[str, bytes]:
    return {
        "review.json": json.dumps(review, ensure_ascii=False, indent=1, sort_keys=True).encode(),
        "audit/entries.jsonl": _jsonl(entries),
        "audit/chain.jsonl": _jsonl(skeleton),
    }


def _write_zip(
    out: Path,
    session_dir: Path,
    generated: dict[str, bytes],
    manifest_head: dict[str, Any],
) -> tuple[int, int, str]:
    """Write the zip on a thread; returns (files, bytes, manifest sha256)."""
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        return _write_zip_as(tmp, out, session_dir, generated, manifest_head)
    except BaseException:
        # Nothing half-written stays: the zip holds the session's recordings.
        tmp.unlink(missing_ok=True)
        raise


def _write_zip_as(
    tmp: Path,
    out: Path,
    session_dir: Path,
    generated: dict[str, bytes],
    manifest_head: dict[str, Any],
) -> tuple[int, int, str]:
    entries: list[dict[str, Any]] = []
    with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
        for rel, path in _session_files(session_dir):
            name = SESSION_PREFIX + rel
            kind = zipfile.ZIP_STORED if rel.lower().endswith(_STORED) else zipfile.ZIP_DEFLATED
            zf.write(path, name, compress_type=kind)
            entries.append(
                {"name": name, "sha256": sha256_file(path), "bytes": path.stat().st_size}
            )
        for name, data in generated.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
            entries.append(
                {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            )
        manifest = {**manifest_head, "files": entries}
        raw = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode()
        zf.writestr("manifest.json", raw, compress_type=zipfile.ZIP_DEFLATED)
    tmp.replace(out)
    return len(entries), sum(e["bytes"] for e in entries), hashlib.sha256(raw).hexdigest()


async def chain_skeleton(db: AsyncSession, from_seq: int) -> list[dict[str, Any]]:
    """``{seq, prev, hash}`` of every entry from ``from_seq`` to the head."""
    query = (
        select(AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.hash)
        .where(AuditEntry.seq >= from_seq)
        .order_by(AuditEntry.seq)
    )
    return [{"seq": s, "prev": p, "hash": h} for s, p, h in (await db.execute(query)).all()]


async def export_session(
    db_factory: Any,
    session_dir: Path,
    session_id: str,
    out: Path,
    actor: str,
    review: dict[str, Any],
) -> ExportInfo:
    """Write the evidence zip of one session to ``out`` (in an existing directory: none is
    made, a mistyped path is the caller's error) and audit the export.

    ``db_factory`` is ``Database.session``; ``review`` is the JSON for ``review.json``
    (findings, decisions, requests) that the caller assembled.
    """
    async with db_factory() as s:
        trail = s.info.get(TRAIL_KEY)
        if not isinstance(trail, AuditTrail):
            raise RuntimeError("export_session: no audit key attached to this database")
        entries = await session_entries(s, session_id)
        head = (await s.execute(select(func.max(AuditEntry.seq)))).scalar_one_or_none() or 0
        skeleton = await chain_skeleton(s, entries[0].seq) if entries else []
        keyed_from = await trail.ensure_keyed_from(s, head + 1)
    checkpoint = None
    if skeleton:
        checkpoint = make_checkpoint(
            trail.keys, skeleton[-1]["seq"], skeleton[-1]["hash"], keyed_from
        )
        await asyncio.to_thread(trail.log.append, checkpoint)
    anchors = anchors_of(entries)
    # The skeleton runs from the session's first entry to the head: for an old session on a
    # long-lived server, 10^5 rows take a second or more to encode. Off the loop.
    generated = await asyncio.to_thread(
        _generated_files, review, [entry_json(e) for e in entries], skeleton
    )
    head_row = skeleton[-1] if skeleton else {"seq": head, "hash": None}
    manifest_head = {
        "schema": SCHEMA,
        "session_id": session_id,
        "exported_at": iso(utcnow()),
        "exported_by": actor,
        "anchors": anchors,
        "audit": {
            "entries": len(entries),
            "first_seq": entries[0].seq if entries else None,
            "last_seq": entries[-1].seq if entries else None,
        },
        "chain_head": {"seq": head_row["seq"], "hash": head_row["hash"]},
        "checkpoint": checkpoint.to_json() if checkpoint else None,
        "public_key": trail.keys.public_key,
    }
    files, size, manifest_sha = await asyncio.to_thread(
        _write_zip, out, session_dir, generated, manifest_head
    )
    async with db_factory() as s:
        await record(
            s,
            actor,
            "session.export",
            session_id,
            {"manifest_sha256": manifest_sha, "files": files, "bytes": size},
        )
    return ExportInfo(out, session_id, files, size, manifest_sha)
