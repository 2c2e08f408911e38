"""A token bucket: at most ``rate`` units a second, with a burst of as many."""

from __future__ import annotations

import time


class TokenBucket:
    """``take(n)`` spends ``n`` units if the bucket holds them (refilled at ``rate`` a
    second up to ``rate``), else spends nothing and returns False."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._allowance = rate
        self._last = time.monotonic()

    def take(self, units: float = 1.0) -> bool:
        now = time.monotonic()
        self._allowance = min(self.rate, self._allowance + (now - self._last) * self.rate)
        self._last = now
        if self._allowance < units:
            return False
        self._allowance -= units
        return True
