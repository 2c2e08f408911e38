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

Verification (:func:`verify_export`) recomputes each file's hash, each entry's hash, the links
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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit import (
    ANCHOR_ACTIONS,
    GENESIS,
    anchors_of,
    entry_hash,
    record,
    session_entries,
    sha256_file,
)
from server.audit_keys import AuditKeys, Checkpoint, key_id, make_checkpoint
from server.audit_reviews import REVIEW_ACTIONS, check_review, review_from_export
from server.audit_trail import TRAIL_KEY, AuditTrail
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


def _write_zip(
    out: Path,
    session_dir: Path,
    generated: dict[str, bytes],
    manifest_head: dict[str, Any],
) -> tuple[int, int, str]:
    """Write the zip on a thread; returns (files, bytes, manifest sha256)."""
    entries: list[dict[str, Any]] = []
    tmp = out.with_name(f".{out.name}.tmp")
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
    """Write the evidence zip of one session to ``out`` and audit the export.

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
    generated = {
        "review.json": json.dumps(review, ensure_ascii=False, indent=1, sort_keys=True).encode(),
        "audit/entries.jsonl": _jsonl([entry_json(e) for e in entries]),
        "audit/chain.jsonl": _jsonl(skeleton),
    }
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
    out.parent.mkdir(parents=True, exist_ok=True)
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


# ---------------------------------------------------------------------------------------------
# Verification (needs only the zip)


def _read_jsonl(zf: zipfile.ZipFile, name: str) -> Iterator[dict[str, Any]]:
    for line in zf.read(name).decode("utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def _zip_sha256(zf: zipfile.ZipFile, name: str) -> str:
    digest = hashlib.sha256()
    with zf.open(name) as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _check_manifest_files(zf: zipfile.ZipFile, manifest: dict[str, Any]) -> list[str]:
    problems = []
    listed = {f["name"]: f for f in manifest.get("files", [])}
    present = set(zf.namelist()) - {"manifest.json"}
    for name in sorted(present - set(listed)):
        problems.append(f"{name}: in the zip but not in the manifest (added?)")
    for name, f in sorted(listed.items()):
        if name not in present:
            problems.append(f"{name}: listed in the manifest but missing from the zip")
        elif _zip_sha256(zf, name) != f["sha256"]:
            problems.append(f"{name}: content differs from the manifest's sha256 (altered)")
    return problems


def _check_entries(
    entries: list[dict[str, Any]], session_id: str, keys: AuditKeys | None, bad: set[int]
) -> list[str]:
    """Hash (and, with the audit key at hand, MAC) of every entry; failures go into ``bad``."""
    problems = []
    last = 0
    for e in entries:
        at = datetime.fromisoformat(str(e["at"]).replace("Z", "+00:00"))
        actual = entry_hash(
            e["seq"], at, e["actor"], e["action"], e["session_id"], e["detail"], e["prev_hash"]
        )
        if actual != e["hash"]:
            problems.append(f"audit entry {e['seq']} ({e['action']}): content was altered")
            bad.add(e["seq"])
        elif keys is not None and e.get("mac") is not None and not keys.mac_ok(e["hash"], e["mac"]):
            problems.append(f"audit entry {e['seq']} ({e['action']}): MAC does not match the key")
            bad.add(e["seq"])
        if e["session_id"] != session_id:
            problems.append(f"audit entry {e['seq']}: belongs to another session")
        if e["seq"] <= last:
            problems.append(f"audit entry {e['seq']}: out of order")
        last = e["seq"]
    return problems


def _check_checkpoint(
    manifest: dict[str, Any], chain: list[dict[str, Any]], public_key: str | None
) -> list[str]:
    """The signed head: good signature, and the chain skeleton ends exactly there."""
    raw = manifest.get("checkpoint")
    if not isinstance(raw, dict):
        return ["manifest: no signed checkpoint of the chain head"]
    try:
        cp = Checkpoint.from_json(raw)
    except (ValueError, KeyError, TypeError):
        return ["manifest: the checkpoint is unreadable"]
    key = public_key or str(manifest.get("public_key") or "")
    try:
        ok = cp.valid(key)
    except ValueError:
        ok = False
    if not ok:
        who = "the given public key" if public_key else "the public key in the manifest"
        return [f"manifest: the checkpoint's signature does not verify with {who} (forged?)"]
    if not chain or chain[-1]["seq"] != cp.seq or chain[-1]["hash"] != cp.hash:
        return [
            "chain: does not end at the signed checkpoint (entries added, removed or rewritten)"
        ]
    return []


def _check_chain(
    chain: list[dict[str, Any]], entries: list[dict[str, Any]], head: dict[str, Any]
) -> list[str]:
    problems = []
    by_seq = {c["seq"]: c for c in chain}
    prev: dict[str, Any] | None = None
    for c in chain:
        if prev is not None:
            if c["seq"] != prev["seq"] + 1:
                problems.append(f"chain: entries {prev['seq'] + 1}..{c['seq'] - 1} missing")
            if c["prev"] != prev["hash"]:
                problems.append(f"chain: entry {c['seq']} does not link to entry {prev['seq']}")
        elif c["seq"] == 1 and c["prev"] != GENESIS:
            problems.append("chain: entry 1 does not start from the genesis hash")
        prev = c
    for e in entries:
        link = by_seq.get(e["seq"])
        if link is None:
            problems.append(f"chain: session entry {e['seq']} is not in the chain")
        elif link["hash"] != e["hash"] or link["prev"] != e["prev_hash"]:
            problems.append(f"chain: session entry {e['seq']} differs from the chain")
    if chain and (chain[-1]["seq"] != head.get("seq") or chain[-1]["hash"] != head.get("hash")):
        problems.append("chain: does not end at the manifest's chain head")
    return problems


def _check_anchors(
    zf: zipfile.ZipFile, manifest: dict[str, Any], entries: list[dict[str, Any]]
) -> list[str]:
    problems = []
    anchors: dict[str, str] = {}
    for e in entries:
        files = e["detail"].get("files") if e["action"] in ANCHOR_ACTIONS else None
        if isinstance(files, dict):
            anchors.update({str(k): str(v) for k, v in files.items()})
    if anchors != manifest.get("anchors", {}):
        problems.append("manifest: anchored hashes differ from those in the audit entries")
    names = set(zf.namelist())
    for rel, expected in sorted(anchors.items()):
        name = SESSION_PREFIX + rel
        if name not in names:
            problems.append(f"{name}: anchored in the audit chain but missing from the zip")
        elif _zip_sha256(zf, name) != expected:
            problems.append(f"{name}: differs from the hash anchored in the audit chain (altered)")
    return problems


@dataclass
class ExportReport:
    problems: list[str]
    notes: list[str]


def verify_export(
    path: Path, public_key: str | None = None, keys: AuditKeys | None = None
) -> list[str]:
    """Every problem with an evidence zip, as readable lines (empty when it is intact)."""
    return verify_export_report(path, public_key, keys).problems


def verify_export_report(
    path: Path, public_key: str | None = None, keys: AuditKeys | None = None
) -> ExportReport:
    """Problems with an evidence zip, and notes (whose key signed it).

    ``public_key`` (hex) is the key the verifier trusts; without it the signature is checked
    with the key embedded in the manifest, which shows only that the zip is self-consistent.
    ``keys`` (the audit key itself, on the server) also checks the MAC of every entry.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return ExportReport([f"{path}: not a readable zip ({exc})"], [])
    with zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except (KeyError, ValueError) as exc:
            return ExportReport([f"{path}: manifest.json missing or unreadable ({exc})"], [])
        if manifest.get("schema") != SCHEMA:
            return ExportReport([f"{path}: unknown export schema {manifest.get('schema')!r}"], [])
        problems = _check_manifest_files(zf, manifest)
        try:
            entries = list(_read_jsonl(zf, "audit/entries.jsonl"))
            chain = list(_read_jsonl(zf, "audit/chain.jsonl"))
            review = json.loads(zf.read("review.json"))
        except (KeyError, ValueError) as exc:
            return ExportReport([*problems, f"audit files missing or unreadable ({exc})"], [])
        bad: set[int] = set()
        problems += _check_entries(entries, manifest["session_id"], keys, bad)
        problems += _check_chain(chain, entries, manifest.get("chain_head", {}))
        problems += _check_checkpoint(manifest, chain, public_key)
        problems += _check_anchors(zf, manifest, entries)
        problems += _check_review_json(manifest["session_id"], entries, review, bad)
    embedded = str(manifest.get("public_key") or "")
    signer = key_id(embedded) if _is_hex(embedded) else "?"
    notes = [
        f"checkpoint signed by audit key {signer}"
        + ("" if public_key else " (embedded key: compare it with the operator's public key)")
    ]
    return ExportReport(problems, notes)


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return bool(text)


def _check_review_json(
    session_id: str, entries: list[dict[str, Any]], review: dict[str, Any], bad: set[int]
) -> list[str]:
    """review.json against the review actions anchored in the entries (skipped when one of
    them is altered: that is reported already, and the comparison would only echo it)."""
    anchored = [
        (e["seq"], e["action"], e["detail"]) for e in entries if e["action"] in REVIEW_ACTIONS
    ]
    if any(seq in bad for seq, _, _ in anchored):
        return []
    current = review_from_export(review)
    return [
        f"review.json: {p}"
        for p in check_review(
            session_id,
            anchored,
            current["findings"],
            current["decisions"],
            current["requests"],
            current["review_status"],
        )
    ]
