"""The audit key and the signed checkpoints of the chain's head (see docs/audit.md).

One secret (32 random bytes, hex, in ``audit_key_file``, kept outside the database) gives two
keys: an HMAC-SHA256 key that stamps every entry (``audit_log.mac``), so nobody without the
file can rewrite or forge entries; and an Ed25519 key that signs checkpoints ``{seq, hash,
at, keyed_from}`` of the head. Checkpoints go to an append-only file outside the database
after every commit that appended entries, and into every evidence export: deleting the
newest entries leaves a signed checkpoint pointing past the end, and an export can be
checked with the public key alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from server.store.types import iso, utcnow

_MAC_LABEL = b"kesu.audit.entry-mac/1"
_SIGN_LABEL = b"kesu.audit.checkpoint-key/1"
CHECKPOINT_SCHEMA = "kesu.checkpoint/1"


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


class AuditKeys:
    """The two keys derived from the audit secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the audit key must hold at least 32 bytes")
        self._mac_key = hmac.new(secret, _MAC_LABEL, hashlib.sha256).digest()
        seed = hmac.new(secret, _SIGN_LABEL, hashlib.sha256).digest()
        self._signer = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._signer.public_key().public_bytes_raw().hex()
        self.key_id = key_id(self.public_key)

    @classmethod
    def load(cls, path: Path) -> AuditKeys | None:
        """The keys in ``path``, or None when the file does not exist (never creates it)."""
        try:
            raw = path.read_bytes().strip()
        except FileNotFoundError:
            return None
        return cls(bytes.fromhex(raw.decode("ascii")))

    @classmethod
    def load_or_create(cls, path: Path) -> AuditKeys:
        """Load the key, creating it (mode 0600, never overwritten) on first use."""
        keys = cls.load(path)
        if keys is not None:
            return keys
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: two processes starting at once must not each write their own key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.load_or_create(path)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return cls.load_or_create(path)

    def mac(self, entry_hash: str) -> str:
        """HMAC-SHA256 of an entry's hash (which covers the entry and its predecessor's hash)."""
        return hmac.new(self._mac_key, entry_hash.encode(), hashlib.sha256).hexdigest()

    def mac_ok(self, entry_hash: str, mac: str | None) -> bool:
        return mac is not None and hmac.compare_digest(self.mac(entry_hash), mac)

    def sign(self, payload: dict[str, Any]) -> str:
        return self._signer.sign(canonical(payload)).hex()


def key_id(public_key_hex: str) -> str:
    """A short fingerprint of a public key, to compare by eye or over the phone."""
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()[:16]


def signature_ok(public_key_hex: str, payload: dict[str, Any], signature_hex: str) -> bool:
    try:
        pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        pub.verify(bytes.fromhex(signature_hex), canonical(payload))
    except (ValueError, InvalidSignature):
        return False
    return True


def read_public_key(path: Path) -> str:
    """A public key file as written by ``kesu audit public-key`` (hex, comments allowed)."""
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            bytes.fromhex(line)
            return line
    raise ValueError(f"{path}: no public key in the file")


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: at ``at`` the chain's head was entry ``seq`` with ``hash``;
    entries from ``keyed_from`` on carry a MAC (older ones predate the key)."""

    seq: int
    hash: str
    at: str
    keyed_from: int
    key_id: str
    signature: str = ""

    def payload(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("signature")
        out["schema"] = CHECKPOINT_SCHEMA
        return out

    def to_json(self) -> dict[str, Any]:
        return {**self.payload(), "signature": self.signature}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        if data.get("schema") != CHECKPOINT_SCHEMA:
            raise ValueError(f"unknown checkpoint schema {data.get('schema')!r}")
        return cls(
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            at=str(data["at"]),
            keyed_from=int(data["keyed_from"]),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
        )

    def valid(self, public_key_hex: str) -> bool:
        return key_id(public_key_hex) == self.key_id and signature_ok(
            public_key_hex, self.payload(), self.signature
        )


def make_checkpoint(keys: AuditKeys, seq: int, entry_hash: str, keyed_from: int) -> Checkpoint:
    unsigned = Checkpoint(seq, entry_hash, str(iso(utcnow())), keyed_from, keys.key_id)
    return Checkpoint(**{**asdict(unsigned), "signature": keys.sign(unsigned.payload())})


class CheckpointLog:
    """The append-only checkpoint file (one JSON object a line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, cp: Checkpoint) -> None:
        """Blocking (call from a thread). O_APPEND keeps lines whole across processes."""
        line = json.dumps(cp.to_json(), sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)

    def read(self) -> Iterator[tuple[int, Checkpoint | None]]:
        """(line number, checkpoint or None when unreadable) of every line (blocking)."""
        try:
            fh = open(self.path, encoding="utf-8")
        except FileNotFoundError:
            return
        with fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield number, Checkpoint.from_json(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    yield number, None


@dataclass(frozen=True)
class CheckpointScan:
    """What the checkpoint file says, checked against the public key."""

    valid: list[Checkpoint]
    problems: list[str]

    @property
    def latest(self) -> Checkpoint | None:
        return max(self.valid, key=lambda c: c.seq) if self.valid else None


def scan_checkpoints(
    log: CheckpointLog, public_key_hex: str, known: dict[int, str] | None = None
) -> CheckpointScan:
    """The checkpoints with a good signature; a bad line is a problem (blocking).

    With ``known`` (``{seq: hash}`` of the chain as stored) only the lines that matter are
    signature-checked: the newest good one (its ``seq`` and ``keyed_from`` are trusted) and
    every line that disagrees with the chain. A line that agrees with the chain states
    nothing false, so checking its signature would only cost time (one Ed25519 check each).
    """
    lines = list(log.read())
    problems = [f"checkpoint file line {n}: unreadable" for n, cp in lines if cp is None]
    parsed = [(n, cp) for n, cp in lines if cp is not None]
    good: dict[int, bool] = {}

    def ok(number: int, cp: Checkpoint) -> bool:
        if number not in good:
            good[number] = cp.valid(public_key_hex)
        return good[number]

    if known is None:
        for number, cp in parsed:
            ok(number, cp)
    else:
        for number, cp in sorted(parsed, key=lambda x: -x[1].seq):
            if ok(number, cp):
                break  # the newest good checkpoint
        for number, cp in parsed:
            if known.get(cp.seq) != cp.hash:
                ok(number, cp)
    valid: list[Checkpoint] = []
    for number, cp in parsed:
        if good.get(number, True):
            valid.append(cp)
        else:
            problems.append(f"checkpoint file line {number}: bad signature (forged or edited)")
    problems.sort(key=lambda p: int(p.split()[3].rstrip(":")))
    return CheckpointScan(valid, problems)
