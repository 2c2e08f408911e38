"""CPU time of a set of this process's threads, read from ``/proc`` (Linux).

The speech model decodes on threads of its own (ctranslate2 replicas) that no stage's
``thread_time`` sees: the pipeline notes their ids when the model is built and adds their
CPU time to the speech stage's.
"""

from __future__ import annotations

import os
from pathlib import Path

_TASKS = Path("/proc/self/task")


def thread_ids() -> set[int]:
    """This process's thread ids (Linux), empty elsewhere."""
    try:
        return {int(p.name) for p in _TASKS.iterdir()}
    except OSError:
        return set()


def threads_cpu(tids: set[int]) -> float:
    """CPU seconds (user + system) used so far by the threads ``tids`` that still exist."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for tid in tids:
        try:
            stat = (_TASKS / str(tid) / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick
