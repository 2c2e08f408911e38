"""The audit key's signatures: checkpoint file lines, the signed head an evidence export
carries (an edited export, a recomputed chain, a forger's own key), and a worker refused
without the server's key (docs/audit.md)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from server import audit
from tests.audit_cli import run_cli, settle
from tests.cli_run import kesu
from tests.conftest import RunningServer
from tests.review_fixtures import reject_twice


def test_checkpoint_file_lines_are_signed(tmp_path: Path) -> None:
    from server.audit_keys import AuditKeys, CheckpointLog, make_checkpoint, scan_checkpoints

    keys = AuditKeys.load_or_create(tmp_path / "audit.key")
    assert (tmp_path / "audit.key").stat().st_mode & 0o777 == 0o600
    assert AuditKeys.load_or_create(tmp_path / "audit.key").public_key == keys.public_key
    log = CheckpointLog(tmp_path / "cp.jsonl")
    log.append(make_checkpoint(keys, 7, "ab" * 32, 1))
    other = AuditKeys(b"x" * 32)
    log.append(make_checkpoint(other, 9, "cd" * 32, 1))  # signed with someone else's key
    with open(log.path, "a") as fh:
        line = json.loads(log.path.read_text().splitlines()[0])
        fh.write(json.dumps({**line, "seq": 99}) + "\n")  # an edited copy of a good line
        fh.write("{not json\n")
    scan = scan_checkpoints(log, keys.public_key)
    assert [c.seq for c in scan.valid] == [7]
    assert scan.problems == [
        "checkpoint file line 2: bad signature (forged or edited)",
        "checkpoint file line 3: bad signature (forged or edited)",
        "checkpoint file line 4: unreadable",
    ]


# ---------------------------------------------------------------------------------------------
# Evidence exports: the signed checkpoint


def _forge_zip(src: Path, dst: Path, change: dict[str, bytes], manifest_edit: Any = None) -> None:
    """Copy an export with members replaced and the manifest's hashes recomputed to match."""
    import hashlib
    import zipfile

    with zipfile.ZipFile(src) as zin:
        manifest = json.loads(zin.read("manifest.json"))
        members = {n: change.get(n, zin.read(n)) for n in zin.namelist() if n != "manifest.json"}
    for f in manifest["files"]:
        data = members[f["name"]]
        f["sha256"], f["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    if manifest_edit is not None:
        manifest_edit(manifest)
    with zipfile.ZipFile(dst, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)
        zout.writestr("manifest.json", json.dumps(manifest))


async def test_exports_carry_a_signed_head(
    server: RunningServer,
    client_factory: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    import zipfile

    from server.audit_keys import AuditKeys, make_checkpoint

    session_id, _ = await reject_twice(server.ctx, client_factory)
    await settle(server)
    data_dir = str(server.ctx.settings.data_dir)
    out = tmp_path / "e.zip"
    code, text = await run_cli(
        capsys, "audit", "export", session_id, "-o", str(out), "--data-dir", data_dir
    )
    assert code == 0, text
    code, text = await run_cli(capsys, "audit", "public-key", "--data-dir", data_dir)
    assert code == 0, text
    pub = tmp_path / "kesu-audit.pub"
    pub.write_text(text)
    code, text = await run_cli(
        capsys, "audit", "verify", "--export", str(out), "--public-key", str(pub)
    )
    assert code == 0 and "export intact" in text, text
    keys = AuditKeys.load(server.ctx.settings.audit_key_path)
    assert keys is not None and f"signed by audit key {keys.key_id}" in text

    with zipfile.ZipFile(out) as zf:
        entries = [json.loads(x) for x in zf.read("audit/entries.jsonl").splitlines()]
        chain = [json.loads(x) for x in zf.read("audit/chain.jsonl").splitlines()]
        review = json.loads(zf.read("review.json"))
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["checkpoint"]["seq"] == chain[-1]["seq"] == manifest["chain_head"]["seq"]

    # 1. review.json edited (the final rejection turned into an approval).
    review["decisions"][-1]["decision"] = "approve"
    bad = tmp_path / "bad-review.zip"
    _forge_zip(out, bad, {"review.json": json.dumps(review, ensure_ascii=False).encode()})
    code, text = await run_cli(
        capsys, "audit", "verify", "--export", str(bad), "--public-key", str(pub)
    )
    assert code == 1 and "decision 'approve' (anchored 'reject')" in text, text

    # 2. An entry edited and the whole hash chain in the zip recomputed to match.
    decide = next(e for e in entries if e["action"] == "review.decide")
    decide["detail"] = {**decide["detail"], "reason": "无"}
    by_seq = {e["seq"]: e for e in entries}
    prev = next(c["prev"] for c in chain if c["seq"] == decide["seq"])
    for c in chain:
        if c["seq"] < decide["seq"]:
            continue
        c["prev"] = prev
        e = by_seq.get(c["seq"])
        if e is not None:
            e["prev_hash"] = prev
            at = datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
            e["hash"] = audit.entry_hash(
                e["seq"], at, e["actor"], e["action"], e["session_id"], e["detail"], prev
            )
            c["hash"] = e["hash"]
        else:  # another session's entry: its content is not in the zip, only its hash
            c["hash"] = hashlib_hex(prev + c["hash"])
        prev = c["hash"]

    def head(m: dict[str, Any]) -> None:
        m["chain_head"] = {"seq": chain[-1]["seq"], "hash": chain[-1]["hash"]}

    with zipfile.ZipFile(out) as zf:
        review = json.loads(zf.read("review.json"))
    review["decisions"][0]["reason"] = "无"  # the forger keeps review.json consistent
    rewritten = {
        "audit/entries.jsonl": "".join(json.dumps(e) + "\n" for e in entries).encode(),
        "audit/chain.jsonl": "".join(json.dumps(c) + "\n" for c in chain).encode(),
        "review.json": json.dumps(review, ensure_ascii=False).encode(),
    }
    bad = tmp_path / "bad-chain.zip"
    _forge_zip(out, bad, rewritten, head)
    code, text = await run_cli(capsys, "audit", "verify", "--export", str(bad))
    assert code == 1, text
    assert "chain: does not end at the signed checkpoint" in text

    # 3. ...and re-signed with the forger's own key, embedded in the manifest.
    forger = AuditKeys(b"f" * 32)

    def resign(m: dict[str, Any]) -> None:
        head(m)
        cp = make_checkpoint(forger, chain[-1]["seq"], chain[-1]["hash"], 1)
        m["checkpoint"], m["public_key"] = cp.to_json(), forger.public_key

    bad = tmp_path / "bad-signed.zip"
    _forge_zip(out, bad, rewritten, resign)
    code, text = await run_cli(capsys, "audit", "verify", "--export", str(bad))
    assert code == 0, text  # self-consistent: only the operator's public key tells
    assert f"signed by audit key {forger.key_id} (embedded key" in text
    code, text = await run_cli(
        capsys, "audit", "verify", "--export", str(bad), "--public-key", str(pub)
    )
    assert code == 1, text
    assert "signature does not verify with the given public key" in text


def hashlib_hex(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_a_worker_without_the_servers_audit_key_refuses_to_start(tmp_path: Path) -> None:
    """Its own fresh key would stamp entries that verify as forged."""
    data = tmp_path / "data"
    assert kesu("migrate", "--data-dir", str(data), cwd=tmp_path).returncode == 0
    done = kesu("worker", "--data-dir", str(data), cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"no audit key at {data / 'audit.key'}" in done.stderr
    assert not (data / "audit.key").exists()
