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
            return int(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
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
        return value
    if kind in ("str", "Path"):
        if isinstance(raw, Path) or (isinstance(raw, str) and "\x00" not in raw):
            return Path(raw) if kind == "Path" else str(raw)
        raise ValueError(f"setting {name}: {raw!r} is not text")
    return raw
