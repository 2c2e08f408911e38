"""The login throttle on its own: stepped windows, the address unit, and its memory bound."""

from __future__ import annotations

from server.api.throttle import OVERFLOW, LoginThrottle, address_key


def test_address_unit() -> None:
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key(None) == "unknown"


async def test_backoff_steps_through_the_longer_window() -> None:
    t = LoginThrottle("2/minute;3/hour", "100/minute", max_keys=1000, concurrency=1)
    assert await t.refusal("alice", "a1") is None
    await t.failed("alice", "a1")
    await t.failed("alice", "a1")
    refusal = await t.refusal("alice", "a1")
    assert refusal is not None and refusal.scope == "account"
    assert 0 < refusal.retry_after_s <= 60
    # A success clears the account's counters, not the address's.
    await t.succeeded("alice")
    assert await t.refusal("alice", "a1") is None
    assert await t.refusal("bob", "a1") is None


async def test_memory_is_bounded_and_fails_closed() -> None:
    # The cap is checked against MemoryStorage's own counter table (its public ``storage``
    # attribute): if that changes in a new ``limits`` release, this test breaks.
    t = LoginThrottle("3/minute", "1000/minute", max_keys=20, concurrency=1)
    for i in range(200):
        await t.failed(f"user{i}", "a1")
    assert t.tracked_keys() <= 22  # the cap, plus the address and overflow counters
    assert await t._key("account", "user0") == "user0"  # tracked before the cap: own counter
    assert await t._key("account", "user199") == OVERFLOW
    refusal = await t.refusal("never-seen", "a2")
    assert refusal is not None and refusal.scope == "account"  # the shared counter is spent
