"""Passwords (argon2), random tokens, and signed expiring join links. No HTTP, no database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from models.durable_write import atomic_write

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """What is stored in place of a bearer token."""
    # surrogateescape: a cookie of invalid UTF-8 arrives with surrogates; it must simply
    # match nothing, not fail to encode.
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def write_private(path: Path, data: bytes) -> None:
    """Write a secret to ``path``, readable by its owner only from its first byte, never
    through a file or symlink planted there or beside it (``atomic_write``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data, private=True)


def load_or_create_key(path: Path) -> bytes:
    """The signing key kept beside the data (created once, readable only by its owner)."""
    if path.exists():
        return path.read_bytes().strip()
    key = secrets.token_hex(32).encode()
    write_private(path, key)
    return key


class TokenError(Exception):
    """A join token that is malformed, forged or expired."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class JoinClaims:
    session_id: str
    nonce: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class JoinSigner:
    """Signs ``session_id.nonce.expiry`` with HMAC-SHA256; one link per session, revocable by nonce."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, b"join:" + body.encode(), hashlib.sha256).digest())

    def node_mac(self, text: str) -> str:
        """A MAC only the nodes of one cluster (one ``secret_key``) can make: marks a
        request one node forwarded to another (server.api.forward)."""
        return _b64(hmac.new(self._key, b"node:" + text.encode(), hashlib.sha256).digest())

    def sign(self, session_id: str, nonce: str, ttl_s: float, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + ttl_s)
        body = f"{session_id}.{nonce}.{expires}"
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str, now: float | None = None) -> JoinClaims:
        parts = token.split(".")
        # Real tokens are ASCII; compare_digest refuses non-ASCII str, so screen it out first.
        if len(parts) != 4 or len(token) > 256 or not token.isascii():
            raise TokenError("the join link is malformed", "token_malformed")
        session_id, nonce, expires_raw, mac = parts
        if not hmac.compare_digest(mac, self._mac(f"{session_id}.{nonce}.{expires_raw}")):
            raise TokenError("the join link is not valid", "token_invalid")
        try:
            expires = int(expires_raw)
        except ValueError as exc:
            raise TokenError("the join link is malformed", "token_malformed") from exc
        if (now if now is not None else time.time()) > expires:
            raise TokenError("the join link has expired", "token_expired")
        return JoinClaims(session_id, nonce, expires)
