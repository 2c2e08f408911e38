"""Login throttling: failed attempts per account and per client address, with stepped backoff.

The counters are rows of the database (``server/login_failures.py``), so every ``kesu serve``
process on one database counts the same failures and a restart forgets none. Several windows
per key ("5/minute;20/hour;60/day") make the backoff: a few typos cost a minute, a guessing run
an hour, then a day. Only failures count, so people who log in often from one office address
are never slowed down. Verifications run at most ``login_hash_concurrency`` at a time per
process and the limit is re-checked once a slot is held, so parallel guesses overshoot a limit
by less than that number times the number of processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TypeVar

from server import login_failures
from server.login_failures import OVERFLOW, Refusal, Window, windows
from server.settings import Settings
from server.store.db import Database
from server.store.types import utcnow

__all__ = ["OVERFLOW", "LoginThrottle", "Refusal", "account_key", "address_key"]

#: Failures delete the expired rows at most this often (per process).
PURGE_EVERY_S = 60.0

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
    """Per-account and per-address failure counters in the database, bounded to about
    ``max_keys`` keys per scope; plus the few threads that hash passwords."""

    def __init__(
        self,
        db: Database,
        account_limits: str,
        address_limits: str,
        max_keys: int,
        concurrency: int,
        hash_niceness: int = 0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._clock = clock  # the time windows are counted in (tests move it)
        self._limits: dict[str, tuple[Window, ...]] = {
            "account": windows(account_limits),
            "address": windows(address_limits),
        }
        self._max_keys = max_keys
        self._purged_at = float("-inf")
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._pool = ThreadPoolExecutor(
            max(1, concurrency),
            thread_name_prefix="kesu-hash",
            initializer=_lower_priority,
            initargs=(hash_niceness,),
        )

    @classmethod
    def from_settings(cls, settings: Settings, db: Database) -> LoginThrottle:
        return cls(
            db,
            settings.login_account_limits,
            settings.login_address_limits,
            settings.login_throttle_max_keys,
            settings.login_hash_concurrency,
            settings.login_hash_niceness,
        )

    async def refusal(self, account: str, address: str) -> Refusal | None:
        """Why a login for ``account`` from ``address`` must wait, or None when it may proceed."""
        idents = {"account": account, "address": address}
        now, limits, cap = self._clock(), self._limits, self._max_keys
        return await self._db.run_read(
            lambda s: login_failures.refusal(s, limits, idents, cap, now)
        )

    async def failed(self, account: str, address: str) -> None:
        idents = {"account": account, "address": address}
        now, limits, cap = self._clock(), self._limits, self._max_keys
        purge = time.monotonic() - self._purged_at >= PURGE_EVERY_S
        if purge:
            self._purged_at = time.monotonic()
        await self._db.run_write(
            lambda s: login_failures.failed(s, limits, idents, cap, now, purge)
        )

    async def succeeded(self, account: str) -> None:
        """A correct password clears the account's counters (not the address's: one valid
        account must not reset a guessing run against others). Read first, so a login
        without earlier failures costs no write."""
        now = self._clock()
        if await self._db.run_read(lambda s: login_failures.tracked(s, "account", account, now)):
            await self._db.run_write(lambda s: login_failures.clear(s, "account", account))

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
