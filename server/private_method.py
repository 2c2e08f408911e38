"""Wrapping one object's private library method: the mechanics the guards that need one share.

Some of a library's failures can only be fixed where the library calls one of its own
private methods (aiortc's ``RTCIceTransport._recv``, ``RTCDtlsTransport._handle_rtcp_data``,
``RTCRtpSender._retransmit`` and its RTP router's ``route_rtp``; aiohttp's
``Application._make_request``): each guard
replaces that method on the one object it protects with a wrapper that calls the original.
Each module says why it needs its own; what they share is here:

- the method must be there and take the parameters the wrapper passes (by name and in
  order), and be a coroutine function exactly when the wrapper is one, else
  :class:`LibraryChanged` is raised: a library upgrade that renamed or reshaped it fails the
  guard's tests and the first connection, instead of the guard quietly doing nothing;
- a guard wraps an object once, however often it is applied (it is recognised along the
  chain of wrappers, so two guards may wrap the same method).

The wrapper is set with ``object.__setattr__``: an aiohttp ``Application`` warns (in asyncio
debug mode) about any attribute it does not list, and this one is its own.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

Method = Callable[..., Any]
_GUARD = "__kesu_guard__"  # on a wrapper: the factory that made it


class LibraryChanged(RuntimeError):
    """A private method a guard wraps is gone or no longer what the guard expects."""


def wrapped_by(method: object, make: Callable[[Method], Method]) -> bool:
    """Whether ``make`` made ``method`` or a method it wraps."""
    while method is not None:
        if getattr(method, _GUARD, None) is make:
            return True
        method = getattr(method, "__wrapped__", None)
    return False


def wrap_once(
    owner: object,
    name: str,
    params: Sequence[str],
    make: Callable[[Method], Method],
    *,
    more: bool = False,
) -> None:
    """Replace ``owner.name`` with ``make(original)`` unless ``make`` already wrapped it.

    ``params`` are the original's parameters (after ``self``) the wrapper passes, by name;
    with ``more``, the wrapper passes any that follow them through as they come.
    Raises :class:`LibraryChanged` when the method is missing or does not fit.
    """
    original = getattr(owner, name, None)
    where = f"{type(owner).__module__}.{type(owner).__qualname__}.{name}"
    if not callable(original):
        raise LibraryChanged(f"library internals changed: {where} is gone")
    if wrapped_by(original, make):
        return
    _check_params(original, tuple(params), more, where)
    wrapper = make(original)
    if inspect.iscoroutinefunction(wrapper) != inspect.iscoroutinefunction(original):
        raise LibraryChanged(f"library internals changed: {where} is (not) a coroutine now")
    setattr(wrapper, _GUARD, make)
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]
    object.__setattr__(owner, name, wrapper)


def _check_params(original: Method, params: tuple[str, ...], more: bool, where: str) -> None:
    # inspect.signature follows __wrapped__: another guard's wrapper shows the library's own.
    found = tuple(inspect.signature(original).parameters)
    if found == params or (more and found[: len(params)] == params):
        return
    raise LibraryChanged(f"library internals changed: {where} takes {found}, not {params}")
