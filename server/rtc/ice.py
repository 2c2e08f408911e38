"""Where ICE gathers candidates, and how fast it notices a vanished peer.

aioice offers every interface except 127.0.0.1 and has no per-connection setting for
either. We replace ``aioice.ice.get_host_addresses`` once with a function that consults
a context variable: inside ``with candidate_addresses(("127.0.0.1",)):`` (set around
``setLocalDescription``, where aiortc gathers) only those addresses are used; everywhere
else the original function runs unchanged. Tests use this to keep all traffic on loopback.

aioice also has no option for the local UDP ports (aiortc/aioice#47; PR #112 is not merged):
it binds each host candidate with ``loop.create_datagram_endpoint(..., local_addr=(address,
0))`` so the kernel picks any ephemeral port, and a firewall in front of a media node would
have to open them all. ``udp_port_range((lo, hi))`` (set around ``setLocalDescription`` like
the addresses) makes exactly those binds, the only ones with a local address and port 0,
take a free port in ``lo..hi`` instead: the running loop's ``create_datagram_endpoint`` is
wrapped once and acts only while the context variable is set. STUN/TURN client sockets
(``remote_addr``) and mDNS (port 5353) are untouched. tests/test_rtc_ports.py fails if aioice
stops binding that way.
"""

from __future__ import annotations

import asyncio
import errno
import random
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aioice.ice

_addresses: ContextVar[tuple[str, ...] | None] = ContextVar("kesu_ice_addresses", default=None)
_install_lock = threading.Lock()
_original: Callable[[bool, bool], list[str]] | None = None
_port_range: ContextVar[tuple[int, int] | None] = ContextVar("kesu_ice_ports", default=None)
_WRAPPED = "_kesu_ranged_datagram_endpoint"


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


def parse_port_range(text: str) -> tuple[int, int] | None:
    """``"50000-50199"`` -> (50000, 50199); empty -> None (any port); ValueError otherwise."""
    text = text.strip()
    if not text:
        return None
    lo_s, sep, hi_s = text.partition("-")
    try:
        lo, hi = int(lo_s), int(hi_s)
    except ValueError:
        raise ValueError(f"UDP port range {text!r} is not LOW-HIGH") from None
    if not sep or not 1024 <= lo <= hi <= 65535:
        raise ValueError(f"UDP port range {text!r} must be LOW-HIGH within 1024-65535")
    return lo, hi


async def _bind_in_range(
    original: Callable[..., Any], factory: Any, host: str, rng: tuple[int, int], kw: Any
) -> Any:
    lo, hi = rng
    span = hi - lo + 1
    # A random start spreads concurrent gatherers over the range instead of all racing for lo.
    start = random.randrange(span)
    for i in range(span):
        port = lo + (start + i) % span
        try:
            return await original(factory, local_addr=(host, port), **kw)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    # aioice logs this and offers no candidate on that address.
    raise OSError(errno.EADDRINUSE, f"no free UDP port in {lo}-{hi} on {host}")


def _wrap_loop(loop: asyncio.AbstractEventLoop) -> None:
    if getattr(loop, _WRAPPED, False):
        return
    original = loop.create_datagram_endpoint

    async def create_datagram_endpoint(
        protocol_factory: Any, local_addr: Any = None, remote_addr: Any = None, **kw: Any
    ) -> Any:
        rng = _port_range.get()
        if (
            rng is not None
            and remote_addr is None
            and local_addr is not None
            and local_addr[1] == 0
        ):
            return await _bind_in_range(original, protocol_factory, local_addr[0], rng, kw)
        return await original(protocol_factory, local_addr, remote_addr, **kw)

    setattr(loop, "create_datagram_endpoint", create_datagram_endpoint)  # noqa: B010
    setattr(loop, _WRAPPED, True)  # noqa: B010


@contextmanager
def udp_port_range(rng: tuple[int, int] | None) -> Iterator[None]:
    """Within this block (and tasks it starts), ICE host candidates bind a port in ``rng``
    (inclusive; None = any port). Must be entered with a running event loop."""
    if rng is not None:
        _wrap_loop(asyncio.get_running_loop())
    token = _port_range.set(rng)
    try:
        yield
    finally:
        _port_range.reset(token)
