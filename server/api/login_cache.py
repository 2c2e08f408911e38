"""Recently verified logins, so that logging in again with the same password skips argon2.

A verification costs about 0.25 s of CPU (64 MiB, t=3, p=4; more on a busy machine), so a
server on two cores can verify only a handful of passwords per second. People log in again
and again with the same password (new tabs, expired cookies, a second device); this cache
remembers, for ``ttl_s``, that a password matched an account's *current* stored hash.

What it keeps and why that is safe:

- Only successes are cached, so every wrong guess still costs a full argon2 verification
  (and counts against the throttle, which is checked first): guessing gains nothing.
- The key is an HMAC, under a random key of this process that never leaves memory, of the
  account name, its stored hash and the password; no password or plain hash of one is kept.
- The stored hash is part of the key: ``kesu user passwd`` changes it, so the old password
  misses at once. A disabled account is refused after the lookup (as after argon2).
- Bounded to ``max_entries`` (oldest dropped), nothing survives a restart; ``ttl_s = 0``
  turns it off.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict


class VerifiedLogins:
    """HMAC(process key, account, stored hash, password) -> expiry, for recent successes."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self._max = max(1, max_entries)
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, username: str, stored_hash: str, password: str) -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for part in (username, stored_hash, password):
            data = part.encode("utf-8", "surrogateescape")
            mac.update(len(data).to_bytes(4, "big") + data)  # unambiguous concatenation
        return mac.digest()

    def matches(self, username: str, stored_hash: str, password: str) -> bool:
        """True if this password was verified against this stored hash within ``ttl_s``."""
        if self.ttl_s <= 0:
            return False
        key = self._digest(username, stored_hash, password)
        with self._lock:
            expiry = self._entries.get(key)
            if expiry is None:
                return False
            if expiry <= time.monotonic():
                del self._entries[key]
                return False
            return True

    def remember(self, username: str, stored_hash: str, password: str) -> None:
        """Record a successful argon2 verification."""
        if self.ttl_s <= 0:
            return
        key = self._digest(username, stored_hash, password)
        with self._lock:
            self._entries[key] = time.monotonic() + self.ttl_s
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
