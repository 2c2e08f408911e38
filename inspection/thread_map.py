"""``fn`` over a few items on a short-lived thread pool: the model calls of one stage that
each wait on a replica of their own (ctranslate2 releases the GIL), so ``workers`` threads
finish them in about 1/``workers`` of the wall time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def thread_map(fn: Callable[[T], R], items: Sequence[T], workers: int, name: str) -> list[R]:
    """``[fn(x) for x in items]`` in order; on up to ``workers`` threads named ``name`` when
    there is more than one item and more than one worker (a pool for one call only costs)."""
    if len(items) > 1 and workers > 1:
        with ThreadPoolExecutor(min(workers, len(items)), name) as pool:
            return list(pool.map(fn, items))
    return [fn(x) for x in items]
