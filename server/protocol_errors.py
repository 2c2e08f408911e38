"""Malformed HTTP requests are the client's fault: one info line each, not an error with a
traceback.

aiohttp answers a request it cannot parse (an invalid header byte, ``Content-Length`` with
``Transfer-Encoding``, a ``Content-Encoding`` it cannot decode such as ``br`` without
Brotli) with a plain ``400`` before any handler or middleware runs, and logs it on
``aiohttp.server`` at ERROR with the whole traceback. Anyone who can reach the port could
fill the error log (and page the operator) with a loop of such requests. The filter turns
those records (an ``HttpProcessingError`` of status 4xx) into one INFO line; anything else
that logger says is left alone.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

LOGGER = "aiohttp.server"


class ClientProtocolErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            record.levelno, record.levelname = logging.INFO, "INFO"
            where = record.getMessage()
            record.msg, record.args = "malformed request (%s): %s", (where, exc.message[:200])
            record.exc_info, record.exc_text = None, None
        return True


def install() -> None:
    """Idempotent: add the filter to aiohttp's server logger (records start there)."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(f, ClientProtocolErrors) for f in logger.filters):
        logger.addFilter(ClientProtocolErrors())
