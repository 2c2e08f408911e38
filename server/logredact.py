"""Keep bearer credentials out of logs: join tokens in URLs are cut down to their session id.

A join link (``/join/<session>.<nonce>.<expiry>.<mac>``) is a 24 h credential; the access log
writes the request line and the Referer of every poll, and error lines name the path.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# /join/<token> and /api/join/<token>, raw or percent-encoded slashes, up to the next delimiter.
# A backslash ends a token too: in a JSON log line the closing quote is escaped as \".
_JOIN_TOKEN = re.compile(r"((?:/|%2[fF])join(?:/|%2[fF]))([^./\s?#\"'%\\]*)(?:[.%][^/\s?#\"'\\]*)?")


def redact(text: str) -> str:
    return _JOIN_TOKEN.sub(lambda m: f"{m.group(1)}{m.group(2)}.<redacted>", text)


def _redact_record(record: logging.LogRecord) -> None:
    message = record.getMessage()
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None


def install() -> None:
    """Idempotent: every log record of this process is redacted as it is created.

    A record factory rather than a filter, because a filter on a logger does not see records
    of its child loggers, and handlers added later (test harnesses, other tools) would miss one.
    The factory runs only for records that pass the level check, so the cost is one regex.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "kesu_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    factory.kesu_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
