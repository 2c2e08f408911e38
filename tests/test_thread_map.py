"""thread_map: the results in the items' order, on named pool threads only when there is
more than one item and more than one worker."""

from __future__ import annotations

import threading
import time

from inspection.thread_map import thread_map


def _slow_name(x: int) -> tuple[int, str]:
    # The first item finishes last, so an order taken from completion would be wrong.
    time.sleep(0.05 if x == 0 else 0.0)
    return x, threading.current_thread().name


def test_results_in_order_on_named_threads() -> None:
    got = thread_map(_slow_name, [0, 1, 2, 3], 2, "kesu-test")
    assert [x for x, _ in got] == [0, 1, 2, 3]
    assert all(name.startswith("kesu-test") for _, name in got)
    assert len({name for _, name in got}) <= 2


def test_inline_for_one_item_or_one_worker() -> None:
    here = threading.current_thread().name
    assert thread_map(_slow_name, [5], 4, "kesu-test") == [(5, here)]
    assert thread_map(_slow_name, [1, 2], 1, "kesu-test") == [(1, here), (2, here)]
    assert thread_map(_slow_name, [], 4, "kesu-test") == []
