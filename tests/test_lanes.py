"""The inspection's task lanes: dependencies, priorities, tasks adding tasks, errors, and
stage clocks."""

from __future__ import annotations

import threading

import pytest

from inspection.lanes import Lanes


def test_tasks_wait_for_the_tasks_they_name_and_run_by_priority() -> None:
    order: list[str] = []
    lanes = Lanes(1)
    lanes.add("script", "script", lambda: order.append("script"), ["a", "b"], 40)
    lanes.add("a", "speech", lambda: order.append("a"), (), 1)
    lanes.add("b", "speech", lambda: order.append("b"), (), 5)
    lanes.add("video", "video", lambda: order.append("video"), (), 3)
    lanes.run()
    # b before video before a (priority); script as soon as a and b are done.
    assert order == ["b", "video", "a", "script"]
    assert set(lanes.clock.cpu_s) == {"speech", "video", "script"}
    assert all(v >= 0 for v in lanes.clock.wall_s().values())


def test_a_task_may_add_tasks_that_others_already_wait_for() -> None:
    order: list[str] = []
    lanes = Lanes(2)

    def audio() -> None:
        order.append("audio")
        for k in range(3):
            lanes.add(f"piece{k}", "speech", lambda k=k: order.append(f"piece{k}"))
        lanes.add(
            "speech", "speech", lambda: order.append("joined"), ["piece0", "piece1", "piece2"]
        )

    lanes.add("script", "script", lambda: order.append("script"), ["speech"])
    lanes.add("audio", "audio", audio)
    lanes.run()
    assert order[0] == "audio" and order[-2:] == ["joined", "script"]
    assert sorted(order[1:4]) == ["piece0", "piece1", "piece2"]


def test_two_lanes_run_two_tasks_at_once() -> None:
    both = threading.Barrier(2, timeout=120)  # one lane alone would never get past it
    lanes = Lanes(2)
    lanes.add("a", "speech", both.wait)
    lanes.add("b", "video", both.wait)
    lanes.run()
    assert {name for name, *_ in lanes.clock.tasks} == {"a", "b"}
    assert {lane for _, _, lane, *_ in lanes.clock.tasks} == {0, 1}


def test_the_first_error_is_raised_and_nothing_new_starts() -> None:
    ran: list[str] = []
    lanes = Lanes(1)

    def fail() -> None:
        raise ValueError("bad media")

    lanes.add("audio", "audio", fail, (), 10)
    lanes.add("video", "video", lambda: ran.append("video"), (), 1)
    with pytest.raises(ValueError, match="bad media"):
        lanes.run()
    assert ran == []


def test_a_task_waiting_for_a_name_nobody_adds_is_reported() -> None:
    lanes = Lanes(2)
    lanes.add("script", "script", lambda: None, ["speech"])
    with pytest.raises(RuntimeError, match="script"):
        lanes.run()


def test_a_name_is_added_once() -> None:
    lanes = Lanes(1)
    lanes.add("a", "x", lambda: None)
    with pytest.raises(ValueError):
        lanes.add("a", "x", lambda: None)
