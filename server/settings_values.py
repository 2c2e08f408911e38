"""A setting's metadata (help text, secret) and its value as its declared type, from whatever
a TOML file, an environment variable or the command line gave (``server.settings.load_settings``)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any


def setting_meta(help_text: str, secret: bool = False) -> dict[str, Any]:
    """A setting field's metadata: its help text, and whether its value is masked."""
    return {"help": help_text, "secret": secret}


_KINDS = {bool: "bool", int: "int", float: "float", str: "str", Path: "Path"}

#: Bounds of the numbers whose sensible range is narrower than "not negative" (every other
#: number setting is a count, a size, a duration or a share, none of which can be below 0).
#: Before, ``--port 99999`` was an OverflowError traceback from ``kesu serve`` after it had
#: started its workers, ``--workers 100000000`` spawned processes until the kernel killed
#: it, and ``login_hash_concurrency = 0`` made every login wait for ever.
_RANGES: dict[str, tuple[float, float]] = {
    "port": (0, 65535),
    "worker_metrics_port": (0, 65535),
    "workers": (0, 64),
    "worker_threads": (0, 64),
    "live_processes": (0, 64),
    "live_threads": (0, 64),
    "login_hash_concurrency": (1, 64),
    "login_hash_niceness": (0, 19),
    "review_sample_rate": (0, 1),
    "second_review_sample_rate": (0, 1),
    # 0 wrote the node's heartbeat row in a loop without a pause: a core at 100 %.
    "node_heartbeat_s": (0.1, math.inf),
}


def check_range(name: str, value: Any) -> Any:
    """``value`` of the number setting ``name``, or ValueError when it is out of its range."""
    low, high = _RANGES.get(name, (0, math.inf))
    if not low <= value <= high:
        bounds = f"from {low:g} to {high:g}" if high != math.inf else f"at least {low:g}"
        raise ValueError(f"setting {name}: {value!r} is out of range (must be {bounds})")
    return value


def coerce_setting(kind: Any, raw: Any, name: str) -> Any:
    """``raw`` (a TOML value, an environment string or a command-line value) as the
    setting's type, or ValueError naming the setting: a list for ``port`` reached the
    listening socket (a traceback), ``secure_cookies = 1`` and ``max_sessions = 2.5`` were
    kept as given, ``nan`` hours made a login that never expired."""
    kind = _KINDS.get(kind, kind)
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        low = raw.strip().lower() if isinstance(raw, str) else None
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"setting {name}: {raw!r} is not a boolean")
    if kind == "int":
        if isinstance(raw, str) and re.fullmatch(r"\s*[-+]?[0-9]{1,18}\s*", raw):
            return check_range(name, int(raw))
        if isinstance(raw, int) and not isinstance(raw, bool):
            return check_range(name, raw)
        raise ValueError(f"setting {name}: {raw!r} is not a whole number")
    if kind == "float":
        value: float | None = None
        if isinstance(raw, str):
            try:
                value = float(raw)
            except ValueError:
                value = None
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            value = float(raw)
        if value is None or not math.isfinite(value):
            raise ValueError(f"setting {name}: {raw!r} is not a finite number")
        return check_range(name, value)
    if kind in ("str", "Path"):
        return _text(kind, raw, name)
    return raw


def _text(kind: str, raw: Any, name: str) -> Any:
    """``raw`` as the text or path setting ``name``."""
    if kind == "Path" and isinstance(raw, str) and not raw.strip():
        # An unset shell variable (``--data-dir "$DATA"``) was the working directory.
        raise ValueError(f"setting {name}: empty; give a directory")
    if isinstance(raw, Path) or (isinstance(raw, str) and "\x00" not in raw):
        return Path(raw) if kind == "Path" else str(raw)
    raise ValueError(f"setting {name}: {raw!r} is not text")
