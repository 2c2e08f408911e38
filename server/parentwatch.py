"""Child processes that die with their parent, even when the parent is SIGKILLed.

A ``ProcessPoolExecutor`` worker holds both ends of its own call queue (a pickled
``multiprocessing.Queue`` carries its reader and writer), so it never sees EOF when the
server dies and would live on under PID 1 with its models loaded. Two guards, called once
at the start of the child:

- Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` makes the kernel kill the child when its
  parent goes. The kernel ties this to the *thread* that forked the child, so the pool must
  be grown from a thread that lives as long as the server (the event loop's thread: the
  executor spawns workers from the thread that calls ``submit``).
- Everywhere: a daemon thread that exits the process as soon as ``os.getppid()`` is no
  longer the parent (the orphan was re-parented).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time

log = logging.getLogger("kesu.parentwatch")

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_S = 0.5


def set_pdeathsig(sig: int = signal.SIGKILL) -> bool:
    """Ask the Linux kernel to send ``sig`` when the parent dies; False elsewhere or on error."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
            return False
    except (OSError, AttributeError) as exc:
        log.warning("prctl unavailable: %s", exc)
        return False
    return True


def _watch(parent_pid: int, poll_s: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(poll_s)
    os._exit(1)  # no cleanup: the parent that owned our work is gone


def die_with_parent(parent_pid: int, poll_s: float = POLL_S) -> None:
    """Make this process end when ``parent_pid`` (its parent) ends."""
    set_pdeathsig()
    if os.getppid() != parent_pid:  # the parent died before we were armed
        os._exit(1)
    threading.Thread(
        target=_watch, args=(parent_pid, poll_s), name="kesu-parentwatch", daemon=True
    ).start()
