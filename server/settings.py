"""One declarative table of settings: name, default, type and help, loaded from env, TOML or CLI."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from server.settings_checks import check_settings
from server.settings_media import MediaSettings
from server.settings_operations import OperationsSettings
from server.settings_secrets import masked_db_url, secret_values
from server.settings_server import ServerSettings
from server.settings_values import coerce_setting

__all__ = [
    "Settings",
    "load_settings",
    "masked_db_url",
    "secret_values",
    "setting_fields",
]


# The groups are listed last to first: a dataclass takes its bases' fields in reverse MRO
# order, so the table (``kesu settings``, docs/settings.md) reads server, media, operations.
@dataclass(frozen=True)
class Settings(OperationsSettings, MediaSettings, ServerSettings):
    """Every setting of the server. Env var = ``KESU_`` + upper-case name."""

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'kesu.db'}"

    @property
    def https(self) -> bool:
        """Whether browsers reach this server over HTTPS: ``secure_cookies``, or a
        ``public_url`` starting with ``https://`` (the join links send them there; a login
        cookie without Secure could then leak over a plain-HTTP request to the same host)."""
        return self.secure_cookies or self.public_url.strip().lower().startswith("https://")

    @property
    def sessions_dir(self) -> Path:
        return self.data_dir / "sessions"

    @property
    def audit_key_path(self) -> Path:
        return Path(self.audit_key_file) if self.audit_key_file else self.data_dir / "audit.key"

    @property
    def audit_checkpoint_path(self) -> Path:
        if self.audit_checkpoint_file:
            return Path(self.audit_checkpoint_file)
        return self.data_dir / "audit-checkpoints.jsonl"

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = "'***'" if f.metadata.get("secret") and value else repr(value)
            parts.append(f"{f.name}={shown}")
        return f"Settings({', '.join(parts)})"


def setting_fields() -> list[tuple[str, Any, str]]:
    """(name, default, help) for every setting, for docs and --help."""
    return [(f.name, f.default, f.metadata["help"]) for f in fields(Settings)]


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    toml_path: Path | None = None,
) -> Settings:
    """Defaults, then a TOML file, then ``KESU_*`` env vars, then explicit overrides (CLI)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(Settings)}
    if toml_path is not None:
        with open(toml_path, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except RecursionError:  # tomllib parses nested arrays by recursion
                raise ValueError(f"{toml_path}: nested too deeply") from None
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                # Named: "Invalid statement (at line 1, column 1)" alone did not say which
                # file (a JSON or binary file given as --config).
                raise ValueError(f"{toml_path}: not a TOML file: {exc}") from None
        for key, raw in data.items():
            if key not in known:
                raise ValueError(f"{toml_path}: unknown setting {key!r}")
            values[key] = raw
    for name in known:
        raw_env = env.get(f"KESU_{name.upper()}")
        if raw_env is not None:
            values[name] = raw_env
    for key, raw in (overrides or {}).items():
        if key not in known:
            raise ValueError(f"unknown setting {key!r}")
        if raw is not None:
            values[key] = raw
    coerced = {k: coerce_setting(known[k].type, v, k) for k, v in values.items()}
    check_settings(coerced)
    return Settings(**coerced)
