"""Offline verification of an evidence zip (``kesu audit verify --export FILE``): needs only
the zip, and the operator's public key to trust its signature. Layout: server/audit_export.py."""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from server.audit import ANCHOR_ACTIONS, GENESIS, entry_hash
from server.audit_export import SCHEMA, SESSION_PREFIX
from server.audit_keys import AuditKeys, Checkpoint, key_id
from server.audit_reviews import REVIEW_ACTIONS, check_review, review_from_export

# The JSON members of one session's export are kilobytes to a few MB; a zip can inflate a
# member far beyond its own size, and each is read whole.
MAX_JSON_MEMBER = 64 << 20
# What an altered zip of any shape can raise while it is checked: each is a problem with the
# export (it is not intact), not a fault of the verifier.
_MALFORMED = (
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    ValueError,
    RecursionError,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
)


class _TooLarge(Exception):
    pass


def _read(zf: zipfile.ZipFile, name: str) -> bytes:
    """A JSON member, at most MAX_JSON_MEMBER bytes once inflated (read no further)."""
    with zf.open(name) as fh:
        data = fh.read(MAX_JSON_MEMBER + 1)
    if len(data) > MAX_JSON_MEMBER:
        raise _TooLarge(f"{name} is larger than {MAX_JSON_MEMBER >> 20} MiB once inflated")
    return data


def _read_jsonl(zf: zipfile.ZipFile, name: str) -> Iterator[dict[str, Any]]:
    for line in _read(zf, name).decode("utf-8").splitlines():
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
    try:
        with zf:
            return _verify_open(path, zf, public_key, keys)
    except _TooLarge as exc:
        return ExportReport([f"{path}: {exc}"], [])
    except _MALFORMED as exc:
        # Before, an altered zip of another shape ended the command in a traceback.
        return ExportReport([f"{path}: malformed export ({type(exc).__name__}: {exc})"], [])


def _verify_open(
    path: Path, zf: zipfile.ZipFile, public_key: str | None, keys: AuditKeys | None
) -> ExportReport:
    """verify_export_report on the opened zip (which catches what a malformed one raises)."""
    try:
        manifest = json.loads(_read(zf, "manifest.json"))
    except (KeyError, ValueError) as exc:
        return ExportReport([f"{path}: manifest.json missing or unreadable ({exc})"], [])
    if manifest.get("schema") != SCHEMA:
        return ExportReport([f"{path}: unknown export schema {manifest.get('schema')!r}"], [])
    problems = _check_manifest_files(zf, manifest)
    try:
        entries = list(_read_jsonl(zf, "audit/entries.jsonl"))
        chain = list(_read_jsonl(zf, "audit/chain.jsonl"))
        review = json.loads(_read(zf, "review.json"))
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
