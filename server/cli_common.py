"""What the database commands of ``kesu`` share: the global options (accepted before or after
an action), loading the settings, saying which data directory and database a command uses, and
refusing to create a database anywhere but in ``kesu serve`` / ``kesu migrate``."""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from server.settings import Settings, load_settings, masked_db_url

EXIT_USAGE = 2
#: A command stopped by Ctrl-C (128 + SIGINT) or by SIGTERM (128 + SIGTERM), as a shell reports.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
_OVERRIDES = ("host", "port", "data_dir", "database_url", "workers")


class CliError(Exception):
    """Ends a command: the message goes to stderr and the exit code is ``EXIT_USAGE``."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is running. A KeyboardInterrupt, so that it unwinds
    through every clean-up a Ctrl-C goes through (a data directory made for the run, a
    temporary file): before, SIGTERM's default action ended the process on the spot and left
    them behind, with no word on stderr."""


def _terminate(_signum: int, _frame: object) -> None:
    raise Terminated


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """While the block runs, SIGTERM stops this process as Ctrl-C does (see ``Terminated``).
    ``serve`` and ``worker`` put their own handlers in place once they run (a graceful stop,
    exit 0). The handler before is put back after (``main`` called in a test process); off
    the main thread, where no handler can be set, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def global_options() -> argparse.ArgumentParser:
    """A parent parser for a command and for each of its actions, so that ``kesu user
    --data-dir D list`` and ``kesu user list --data-dir D`` both work. ``SUPPRESS`` keeps an
    action's unset option from overwriting the value given before the action."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="TOML file of settings (see `kesu settings`)",
    )
    p.add_argument(
        "--data-dir",
        dest="data_dir",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="data directory (default ./var)",
    )
    p.add_argument(
        "--database-url",
        dest="database_url",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="SQLAlchemy async URL (default: SQLite in the data directory)",
    )
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from env and ``--config``, with the command-line options on top."""
    overrides: dict[str, Any] = {}
    for name in _OVERRIDES:
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    config = getattr(args, "config", None)
    if config is not None and not config.strip():
        # Was taken as no --config at all: an unset shell variable (``--config "$CFG"``) ran
        # the command on the defaults without a word.
        raise CliError("--config is empty: give a TOML file, or leave --config out")
    try:
        return load_settings(overrides, toml_path=Path(config) if config else None)
    except OSError as exc:
        raise CliError(f"cannot read --config {config}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CliError(str(exc)) from None


def sqlite_path(settings: Settings) -> Path | None:
    """The database file when the database is SQLite on disk, else None."""
    try:
        url = make_url(settings.db_url)
    except ArgumentError:
        return None
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _shown(path: Path) -> Path:
    """``path`` resolved, or only made absolute where it cannot be (a link not readable)."""
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def describe(settings: Settings) -> str:
    """``data directory X, database Y`` with absolute paths and no password."""
    path = sqlite_path(settings)
    db = f"{_shown(path)} (SQLite)" if path is not None else masked_db_url(settings.db_url)
    return f"data directory {_shown(settings.data_dir)}, database {db}"


@contextmanager
def new_data_dir(settings: Settings) -> Iterator[None]:
    """Create the data directory (serve, migrate) for the block that sets it up, or CliError
    saying why it cannot be: a typo naming a file, or a path under one, was a
    FileExistsError traceback. When the block fails (a database that cannot be opened, Ctrl-C)
    the directories this made are removed again: before, a mistyped --database-url left an
    empty data directory (and SQLite's empty kesu.db) behind."""
    made = _missing(settings.data_dir)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(
            f"cannot use the data directory {_shown(settings.data_dir)}: {exc.strerror or exc}"
        ) from None
    try:
        yield
    except BaseException:
        if made is not None:
            # Only what this command made, so nothing of anyone else's is in it.
            shutil.rmtree(made, ignore_errors=True)
        raise


def _missing(path: Path) -> Path | None:
    """The outermost of ``path`` and its parents that does not exist yet, or None."""
    top = None
    for candidate in (path.absolute(), *path.absolute().parents):
        if os.path.lexists(candidate):
            break
        top = candidate
    return top


def require_listenable(host: str, port: int) -> None:
    """CliError unless ``kesu serve`` (or ``kesu worker``'s metrics server) can listen on
    ``host:port``: tried before anything is made or started. Before, a port in use or a
    host that does not resolve was an OSError traceback from ``web.run_app`` after the data
    directory, the database and the worker processes had been made."""
    where = f"{host}:{port}"
    try:
        found = socket.getaddrinfo(
            host or None,
            port,
            type=socket.SOCK_STREAM,
            flags=socket.AI_PASSIVE,
        )
        bound = 0
        unavailable = OSError(errno.EADDRNOTAVAIL, "no address to listen on")
        for family, kind, proto, _name, address in found:
            with socket.socket(family, kind, proto) as sock:
                # As the server will: a port whose old connections wait in TIME_WAIT is free.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(address)
                    bound += 1
                except OSError as exc:
                    # asyncio skips an address family the machine has not enabled (::1
                    # of "localhost" without IPv6), so this does too, if another binds.
                    if exc.errno != errno.EADDRNOTAVAIL:
                        raise
                    unavailable = exc
        if not bound:
            raise unavailable
    except socket.gaierror as exc:
        raise CliError(f"cannot listen on {where}: unknown host ({exc.strerror})") from None
    except UnicodeError:
        # getaddrinfo encodes the name with IDNA first: an empty label, one over 63
        # characters or bytes that are not UTF-8 were a traceback.
        raise CliError(f"cannot listen on {where}: unknown host (not a host name)") from None
    except OSError as exc:
        raise CliError(f"cannot listen on {where}: {exc.strerror or exc}") from None


def listen_on_free_port(host: str) -> list[socket.socket]:
    """For ``kesu serve --port 0``: sockets bound now, on each address of ``host``, to one
    port the system picks, so the server names the port it serves on (in its "serving on"
    line, its node id and URL, which other media nodes send browsers to) instead of ``:0``.
    ``host`` was checked by ``require_listenable``."""
    port, sockets = 0, []
    try:
        found = socket.getaddrinfo(
            host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        for family, kind, proto, _name, address in found:
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # As asyncio does: the IPv4 address of the same port has its own socket.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((address[0], port, *address[2:]))
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:  # a family the machine has not enabled
                    raise
                sockets.pop().close()
                continue
            port = sock.getsockname()[1]
        if not sockets:
            raise OSError(errno.EADDRNOTAVAIL, "no address to listen on")
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise CliError(f"cannot listen on {host}:0: {exc.strerror or exc}") from None
    return sockets


def announce(settings: Settings, command: str) -> None:
    """Tell the operator (on stderr, so stdout stays parseable) where the command works."""
    print(f"{command}: {describe(settings)}", file=sys.stderr, flush=True)


def _has_schema(conn: Connection) -> bool:
    return bool(inspect(conn).has_table("alembic_version"))


async def _schema_present(url: str) -> bool:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_has_schema)
    finally:
        await engine.dispose()


def _fix_hint(settings: Settings) -> str:
    if sqlite_path(settings) is None:
        return "run `kesu serve` or `kesu migrate` with this --database-url to create the schema"
    return (
        f"run `kesu serve` or `kesu migrate` with --data-dir {settings.data_dir.resolve()} "
        "to create it, or pass --data-dir of an existing installation"
    )


def require_database(settings: Settings) -> None:
    """Refuse to go on unless the database exists and has Kesu's schema. Opening a missing
    SQLite file would create an empty database, so its file is checked before connecting."""
    path = sqlite_path(settings)
    if path is not None and not path.is_file():
        where = (
            "" if settings.data_dir.is_dir() else f" (no directory {settings.data_dir.resolve()})"
        )
        raise CliError(f"no database at {path.resolve()}{where}; {_fix_hint(settings)}")
    present = _open(settings)
    if not present:
        shown = masked_db_url(settings.db_url) if path is None else str(path.resolve())
        raise CliError(f"the database {shown} has no Kesu schema; {_fix_hint(settings)}")


def require_openable(settings: Settings) -> None:
    """For the commands that create the schema (``serve``, ``migrate``): the database opens
    (SQLite makes a missing file). Before, a URL naming a directory or a file that is no
    database, or a PostgreSQL server that refused the connection, was a traceback from
    ``kesu migrate`` and from ``kesu serve`` on starting."""
    path = sqlite_path(settings)
    if path is not None:
        # Looked at before connecting: aiosqlite's thread of a connection SQLite could not
        # open calls back into the closed event loop, a traceback of its own.
        if path.exists() and not path.is_file():
            raise CliError(f"cannot open the database {path.resolve()}: not a file")
        if not path.parent.is_dir():
            raise CliError(f"cannot open the database {path.resolve()}: no such directory")
    _open(settings)


def _open(settings: Settings) -> bool:
    """Whether the database has Kesu's schema, or CliError naming why it cannot be opened."""
    path = sqlite_path(settings)
    shown = masked_db_url(settings.db_url) if path is None else str(path.resolve())
    try:
        return asyncio.run(_schema_present(settings.db_url))
    except (SQLAlchemyError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CliError(f"cannot open the database {shown}: {first}") from None
    except ImportError as exc:
        # A URL of a database (mysql://, postgresql:// without +asyncpg) whose driver is not
        # installed was a ModuleNotFoundError traceback after the data directory was made.
        raise CliError(
            f"cannot open the database {shown}: no driver ({exc.name or exc}); use "
            "sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER:PASSWORD@HOST/DB"
        ) from None
