"""Where ICE gathers candidates, and how fast it notices a vanished peer.

aioice offers every interface except 127.0.0.1 and has no per-connection setting for
either. We replace ``aioice.ice.get_host_addresses`` once with a function that consults
a context variable: inside ``with candidate_addresses(("127.0.0.1",)):`` (set around
``setLocalDescription``, where aiortc gathers) only those addresses are used; everywhere
else the original function runs unchanged. Tests use this to keep all traffic on loopback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import aioice.ice

_addresses: ContextVar[tuple[str, ...] | None] = ContextVar("kesu_ice_addresses", default=None)
_install_lock = threading.Lock()
_original: Callable[[bool, bool], list[str]] | None = None


def _get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    chosen = _addresses.get()
    if chosen is None:
        assert _original is not None
        return _original(use_ipv4, use_ipv6)
    return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]


def install() -> None:
    """Patch ``aioice.ice.get_host_addresses`` (idempotent; a no-op outside the context)."""
    global _original
    with _install_lock:
        if _original is None:
            _original = aioice.ice.get_host_addresses
            aioice.ice.get_host_addresses = _get_host_addresses


@contextmanager
def candidate_addresses(addresses: Sequence[str] | None) -> Iterator[None]:
    """Within this block (and tasks it starts), ICE gathers only on ``addresses``
    (None = unchanged behaviour)."""
    install()
    token = _addresses.set(tuple(addresses) if addresses is not None else None)
    try:
        yield
    finally:
        _addresses.reset(token)


def configure_consent(interval_s: float, failures: int) -> None:
    """Set aioice's consent-freshness check (RFC 7675): a peer is dropped after about
    ``interval_s * failures`` seconds of silence (aioice default: 5 s x 6). These are
    module globals in aioice, so this applies to every connection in the process."""
    aioice.ice.CONSENT_INTERVAL = interval_s  # type: ignore[assignment]  # read as a float
    aioice.ice.CONSENT_FAILURES = failures
