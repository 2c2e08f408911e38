"""The stamp one media node puts on a request it forwards to another (server.api.forward).

``X-Kesu-Forwarded-By: <node id> <unix time> <nonce> <MAC>``, the MAC (the cluster's
``secret_key``, see :meth:`server.security.JoinSigner.node_mac`) covering the sender, the
time, the nonce, the method, the path with its query and a SHA-256 of the body. The
receiving node accepts a stamp only within :data:`MAX_AGE_S` of its own clock (either way:
the nodes' clocks may differ a little) and only once: a stamp captured on the wire between
two nodes can be neither sent again nor put on another request. A stamp whose MAC does not
match is no stamp at all (the request is a client's, checked as such). No HTTP here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from server.security import JoinSigner

# Long enough for the clock difference of NTP-synchronised hosts and a slow hop; the nonces
# of this long are remembered, so it also bounds that memory.
MAX_AGE_S = 60
# Nonces remembered at most (per process): past this many forwarded requests a minute,
# further ones are refused rather than remembered without bound (StampError "forward_busy").
MAX_NONCES = 100_000


class StampError(Exception):
    """A genuine stamp that must not be honoured (stale or already used)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Stamp:
    sender: str
    issued_at: int
    nonce: str


def _text(sender: str, issued_at: int, nonce: str, method: str, target: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return f"{sender} {issued_at} {nonce} {method} {target} {digest}"


def make(
    signer: JoinSigner,
    sender: str,
    method: str,
    target: str,
    body: bytes,
    now: float | None = None,
) -> str:
    """The header value for a request ``method target`` with ``body`` sent on by ``sender``."""
    issued_at = int(time.time() if now is None else now)
    nonce = secrets.token_urlsafe(16)
    mac = signer.node_mac(_text(sender, issued_at, nonce, method, target, body))
    return f"{sender} {issued_at} {nonce} {mac}"


def parse(signer: JoinSigner, value: str, method: str, target: str, body: bytes) -> Stamp | None:
    """The stamp in ``value`` if its MAC is right for this request, else None."""
    parts = value.rsplit(" ", 3)
    if len(parts) != 4 or len(value) > 512 or not value.isascii():
        return None
    sender, issued_raw, nonce, mac = parts
    if not issued_raw.isdigit() or len(issued_raw) > 12:
        return None
    issued_at = int(issued_raw)
    expected = signer.node_mac(_text(sender, issued_at, nonce, method, target, body))
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    return Stamp(sender, issued_at, nonce)


class SeenNonces:
    """The nonces of stamps accepted within the last :data:`MAX_AGE_S` (one process)."""

    def __init__(self, max_entries: int = MAX_NONCES) -> None:
        self._until: dict[str, float] = {}  # nonce -> when it can be forgotten
        self._max = max_entries
        self._next_prune = 0.0

    def accept(self, stamp: Stamp, now: float | None = None) -> None:
        """Accept ``stamp`` once, or raise StampError (stale, replayed, too many)."""
        now = time.time() if now is None else now
        if abs(now - stamp.issued_at) > MAX_AGE_S:
            raise StampError(
                f"this forwarded request was stamped {int(now - stamp.issued_at)} s from now "
                f"by node {stamp.sender}; at most {MAX_AGE_S} s is accepted (node clocks?)",
                "forward_stale",
            )
        if stamp.nonce in self._until:
            raise StampError("this forwarded request was already received", "forward_replayed")
        if now >= self._next_prune or len(self._until) >= self._max:
            self._until = {n: t for n, t in self._until.items() if t >= now}
            self._next_prune = now + MAX_AGE_S
            if len(self._until) >= self._max:
                raise StampError("too many forwarded requests; try again shortly", "forward_busy")
        # Forgotten once its stamp is stale anyway (issued + window, whatever the skew).
        self._until[stamp.nonce] = stamp.issued_at + MAX_AGE_S
