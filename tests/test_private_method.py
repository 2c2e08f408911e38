"""Wrapping a library's private method (``server/private_method.py``): once per object, and a
loud failure, not a guard that quietly does nothing, when the library changed it."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest
from aiohttp import web
from aiortc import RTCRtpSender

from server.api import request_target
from server.private_method import LibraryChanged, Method, wrap_once, wrapped_by
from server.rtc import retransmit


class Library:
    """Stands for a library object whose private methods a guard wraps."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def _handle(self, data: int) -> None:
        self.calls.append(data)

    def _make(self, message: str, payload: bytes, _cls: type = str) -> str:
        return message


def doubling(original: Method) -> Method:
    async def handle(data: int) -> None:
        await original(data * 2)

    return handle


def negating(original: Method) -> Method:
    async def handle(data: int) -> None:
        await original(-data)

    return handle


async def test_a_method_is_wrapped_once_however_often_the_guard_is_applied() -> None:
    lib = Library()
    for _ in range(3):
        wrap_once(lib, "_handle", ("data",), doubling)
    await lib._handle(1)
    assert lib.calls == [2]
    assert wrapped_by(lib._handle, doubling)


async def test_two_guards_may_wrap_the_same_method() -> None:
    lib = Library()
    wrap_once(lib, "_handle", ("data",), doubling)
    wrap_once(lib, "_handle", ("data",), negating)
    wrap_once(lib, "_handle", ("data",), doubling)  # still known under negating's wrapper
    await lib._handle(3)
    assert lib.calls == [-6]
    assert wrapped_by(lib._handle, doubling) and wrapped_by(lib._handle, negating)


async def test_only_the_object_is_wrapped() -> None:
    wrapped, other = Library(), Library()
    wrap_once(wrapped, "_handle", ("data",), doubling)
    await other._handle(1)
    assert other.calls == [1] and not wrapped_by(other._handle, doubling)


def test_a_method_the_library_removed_fails_loudly() -> None:
    with pytest.raises(LibraryChanged, match=r"Library\._gone is gone"):
        wrap_once(Library(), "_gone", ("data",), doubling)


def test_a_method_that_takes_other_parameters_fails_loudly() -> None:
    lib = Library()
    with pytest.raises(LibraryChanged, match="takes"):
        wrap_once(lib, "_handle", ("packet",), doubling)
    with pytest.raises(LibraryChanged, match="takes"):
        wrap_once(lib, "_handle", (), doubling)
    assert not wrapped_by(lib._handle, doubling)


def test_more_passes_the_parameters_after_the_named_ones_through() -> None:
    def passing(original: Method) -> Method:
        def make(message: str, *args: object, **kwargs: object) -> str:
            return "wrapped " + str(original(message, *args, **kwargs))

        return make

    lib = Library()
    with pytest.raises(LibraryChanged):
        wrap_once(lib, "_make", ("message",), passing)  # more=False: all must be named
    wrap_once(lib, "_make", ("message",), passing, more=True)
    assert lib._make("m", b"") == "wrapped m"


def test_a_method_no_longer_a_coroutine_fails_loudly() -> None:
    lib = Library()
    with pytest.raises(LibraryChanged, match="coroutine"):
        wrap_once(lib, "_make", ("message", "payload", "_cls"), doubling)
    assert not wrapped_by(lib._make, doubling)


async def test_the_guards_fit_the_installed_libraries() -> None:
    # The wrapped methods of aiortc (datagrams, rtcp_budget: tests/test_rtc_hostile_datagrams)
    # and aiohttp are still what the guards take them for, and still called where they were.
    transport = SimpleNamespace(state="new", _register_rtp_sender=None)
    sender = RTCRtpSender("audio", transport)  # type: ignore[arg-type]
    retransmit.limit_retransmits(sender)
    assert wrapped_by(sender._retransmit, retransmit._limited)
    assert "await self._retransmit(seq)" in inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    app = web.Application()
    request_target.install(app)
    assert wrapped_by(app._make_request, request_target.guarded)
