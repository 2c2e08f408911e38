"""Logging set-up for ``kesu serve`` and ``kesu worker``: text or JSON lines, no secrets.

``log_format = json`` writes one JSON object per line (python-json-logger) with ``timestamp``,
``level``, ``logger``, ``message`` and any ``extra`` fields, for log shippers. Either way,
every line passes through a mask after formatting (so the traceback and extra fields are
covered too): the values of secret settings, the database password, and any
``scheme://user:password@`` in a URL become ``***``, and join tokens are cut (already done to
each record's message when it is created, server/logredact.py, but not to extra fields).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import IO

from pythonjsonlogger.json import JsonFormatter

from server import logredact
from server.settings import Settings, secret_values

_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@\"']*:)[^@\s/\"']+@")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Masker:
    """Replaces known secret values and URL passwords in a formatted line."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, line: str) -> str:
        for value in self.secrets:
            if value in line:
                line = line.replace(value, "***")
        # Again after formatting: extra fields (aiohttp's access log adds the request line
        # and headers, JSON shows them) are not part of the record's message.
        return logredact.redact(_URL_PASSWORD.sub(r"\1***@", line))


class MaskingTextFormatter(logging.Formatter):
    def __init__(self, masker: Masker) -> None:
        super().__init__(TEXT_FORMAT)
        self.masker = masker

    def format(self, record: logging.LogRecord) -> str:
        return self.masker(super().format(record))


class MaskingJsonFormatter(JsonFormatter):
    def __init__(self, masker: Masker) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp=True,
            json_ensure_ascii=False,
        )
        self.masker = masker

    def format(self, record: logging.LogRecord) -> str:
        return self.masker(super().format(record))


def make_formatter(settings: Settings) -> logging.Formatter:
    masker = Masker(secret_values(settings))
    if settings.log_format == "json":
        return MaskingJsonFormatter(masker)
    if settings.log_format == "text":
        return MaskingTextFormatter(masker)
    raise ValueError(f"log_format must be text or json, not {settings.log_format!r}")


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Replace the root logger's handlers with one masked handler on ``stream`` (stderr)."""
    logredact.install()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(make_formatter(settings))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    return handler
