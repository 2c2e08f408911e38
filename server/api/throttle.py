"""Login throttling: failed attempts per account and per client address, with stepped backoff.

Counting uses the ``limits`` library (fixed windows in process memory). Several windows per key
("5/minute;20/hour;60/day") make the backoff: a few typos cost a minute, a guessing run an hour,
then a day. Only failures count, so people who log in often from one office address are never
slowed down. Verifications run at most ``login_hash_concurrency`` at a time and the limit is
re-checked once a slot is held, so parallel guesses overshoot a limit by less than that number.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import FixedWindowRateLimiter

from server.settings import Settings

OVERFLOW = "~overflow"

T = TypeVar("T")


def _lower_priority(increment: int) -> None:
    """Run password hashing at a lower CPU priority than the event loop (Linux: per thread,
    inherited by argon2's own lane threads), so a login storm does not starve media relay.
    Off by default: inspection workers run at normal priority, and logins must not starve
    behind them either."""
    if increment <= 0:
        return
    with contextlib.suppress(AttributeError, OSError):
        tid = threading.get_native_id()
        niceness = min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment)
        os.setpriority(os.PRIO_PROCESS, tid, niceness)


@dataclass(frozen=True)
class Refusal:
    """A throttled login: which counter refused it and when to try again."""

    scope: str  # "account" or "address"
    retry_after_s: int


def address_key(remote: str | None) -> str:
    """The unit an address is counted in: the IPv4 address, or the IPv6 /64 a host usually gets."""
    if not remote:
        return "unknown"
    try:
        ip = ipaddress.ip_address(remote)
    except ValueError:
        return remote[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def account_key(username: str) -> str:
    return username.strip().casefold()[:64]


class LoginThrottle:
    """Per-account and per-address failure counters, bounded to ``max_keys`` keys in memory."""

    def __init__(
        self,
        account_limits: str,
        address_limits: str,
        max_keys: int,
        concurrency: int,
        hash_niceness: int = 0,
    ) -> None:
        self._limits: dict[str, list[RateLimitItem]] = {
            "account": parse_many(account_limits),
            "address": parse_many(address_limits),
        }
        self._storage = MemoryStorage()
        self._limiter = FixedWindowRateLimiter(self._storage)
        self._max_keys = max_keys
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._pool = ThreadPoolExecutor(
            max(1, concurrency),
            thread_name_prefix="kesu-hash",
            initializer=_lower_priority,
            initargs=(hash_niceness,),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(
            settings.login_account_limits,
            settings.login_address_limits,
            settings.login_throttle_max_keys,
            settings.login_hash_concurrency,
            settings.login_hash_niceness,
        )

    def tracked_keys(self) -> int:
        # MemoryStorage keeps one counter per (window, key) in its public ``storage`` Counter
        # and drops expired ones itself; tests/test_throttle.py fails if that attribute changes.
        return len(self._storage.storage)

    async def refusal(self, account: str, address: str) -> Refusal | None:
        """Why a login for ``account`` from ``address`` must wait, or None when it may proceed."""
        worst: Refusal | None = None
        for scope, ident in (("account", account), ("address", address)):
            key = await self._key(scope, ident)
            for item in self._limits[scope]:
                if await self._limiter.test(item, scope, key):
                    continue
                stats = await self._limiter.get_window_stats(item, scope, key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                if worst is None or wait > worst.retry_after_s:
                    worst = Refusal(scope, wait)
        return worst

    async def _key(self, scope: str, ident: str) -> str:
        """The key to count under; past ``max_keys`` new names share one counter (fail closed)."""
        if self.tracked_keys() < self._max_keys:
            return ident
        for item in self._limits[scope]:
            stats = await self._limiter.get_window_stats(item, scope, ident)
            if stats.remaining < item.amount:
                return ident  # already tracked: keep counting it on its own
        return OVERFLOW

    async def failed(self, account: str, address: str) -> None:
        for scope, ident in (("account", account), ("address", address)):
            key = await self._key(scope, ident)
            for item in self._limits[scope]:
                await self._limiter.hit(item, scope, key)

    async def succeeded(self, account: str) -> None:
        """A correct password clears the account's counters (not the address's: one valid
        account must not reset a guessing run against others)."""
        for item in self._limits["account"]:
            await self._limiter.clear(item, "account", account)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Password hashing work, in the low-priority hashing threads."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the few password-verification slots."""
        async with self._slots:
            yield
