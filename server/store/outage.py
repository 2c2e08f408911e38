"""The database out of reach: which errors mean it (a 503 to retry, not a bug's 500).

PostgreSQL stopped, restarting, or the network to it cut: connecting raises a plain
``OSError`` (asyncpg's, which SQLAlchemy passes on untranslated), a starting or stopping
server answers SQLSTATE 57P03/57P01, a connection cut under a query is invalidated. On
SQLite the file can become unreadable or read-only under the server (a volume remounted).
None of these is the request's fault nor a bug; each ends when the database is back.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from server.errors import KesuError

#: What a client that got ``database_unavailable`` is told to wait before retrying.
RETRY_AFTER_S = 5

#: SQLSTATE classes of a server out of reach: connection exception, operator intervention
#: (shutdown, starting up), insufficient resources (too many connections).
_UNREACHABLE_CLASSES = ("08", "57", "53")

#: SQLite's words for a database file the process cannot use (not for a bad statement).
_SQLITE_UNUSABLE = ("unable to open database", "readonly database", "disk i/o error")


class DatabaseUnavailable(KesuError):
    """The database cannot be reached now; the client should retry later."""

    status, code = 503, "database_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "the database cannot be reached; try again shortly",
            details={"retry_after_s": RETRY_AFTER_S},
        )


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is out of reach (as opposed to a faulty statement)."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if isinstance(state, str) and state[:2] in _UNREACHABLE_CLASSES:
        return True
    if isinstance(exc, OperationalError):
        return any(words in str(exc.orig).lower() for words in _SQLITE_UNUSABLE)
    # asyncpg's "connection is closed" and the like: the connection, not the statement.
    return isinstance(exc, InterfaceError)


def translate_connect_errors(engine: Engine) -> None:
    """Make a failed connection to a database server raise ``DatabaseUnavailable``.

    The driver's own ``OSError`` (refused, reset, timed out, unknown host) otherwise
    reaches the caller as it is, indistinguishable from a file-system fault.
    """

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as exc:
            raise DatabaseUnavailable() from exc
