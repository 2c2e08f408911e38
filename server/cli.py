"""The ``kesu`` command: serve, worker, user, inspect, template, models, audit, settings, migrate.

Only ``serve`` and ``migrate`` create a database; the other database commands refuse (exit 2) a
data directory or database that does not exist (see ``server.cli_common``)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Callable, Sequence
from typing import Any

from server.cli_common import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    CliError,
    Terminated,
    announce,
    global_options,
    listen_on_free_port,
    new_data_dir,
    require_database,
    require_listenable,
    require_openable,
    settings_from,
    stop_on_sigterm,
)
from server.settings import setting_fields

Command = Callable[[argparse.Namespace], int]


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from server.app import create_app
    from server.logs import configure_logging

    settings = settings_from(args)
    announce(settings, "kesu serve")
    require_listenable(settings.host, settings.port)
    sockets = None
    if settings.port == 0:
        # Bound here rather than by run_app: the node's id and URL (where other media nodes
        # send browsers) must name the port it serves on, not 0.
        sockets = listen_on_free_port(settings.host)
        settings = dataclasses.replace(settings, port=sockets[0].getsockname()[1])
    with new_data_dir(settings):
        require_openable(settings)
    configure_logging(settings)
    print(
        f"kesu: serving on http://{settings.host}:{settings.port}/ (data in {settings.data_dir})",
        flush=True,
    )
    if sockets is not None:
        web.run_app(create_app(settings), sock=sockets, print=None)
    else:
        web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from server.logs import configure_logging
    from server.standalone_worker import run_worker

    settings = settings_from(args)
    announce(settings, "kesu worker")
    if settings.worker_metrics_port:
        require_listenable(settings.host, settings.worker_metrics_port)
    require_database(settings)
    configure_logging(settings)
    return asyncio.run(run_worker(settings))


def cmd_settings(_args: argparse.Namespace) -> int:
    for name, default, help_text in setting_fields():
        print(f"KESU_{name.upper():28} default {default!s:24} {help_text}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from server.store.db import is_postgres, upgrade

    settings = settings_from(args)
    announce(settings, "kesu migrate")
    with new_data_dir(settings):
        require_openable(settings)
        upgrade(settings.db_url)
        if is_postgres(settings.db_url):
            from server.jobs_pg import ensure_schema  # the postgres extra (procrastinate)

            asyncio.run(ensure_schema(settings))
    print("database is at the newest schema")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from server.user_cli import add_parser as add_user_parser

    parser = argparse.ArgumentParser(
        prog="kesu", description="Kesu (可溯): remote dual recording with AI quality inspection."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = global_options()
    p = sub.add_parser(
        "serve",
        help="run the web server, media server and embedded worker pool",
        parents=[common],
    )
    p.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help="listen port (default 8080; 0 = a free one the system picks)",
    )
    p.add_argument(
        "--workers", type=int, default=None, help="inspection worker processes (default 1)"
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "worker",
        help="run only the job worker (scale-out: several machines, one database)",
        parents=[common],
    )
    p.add_argument("--workers", type=int, default=None, help="worker processes (default 1)")
    p.set_defaults(func=cmd_worker)

    add_user_parser(sub)

    p = sub.add_parser(
        "settings", help="list every setting with its environment variable and default"
    )
    p.set_defaults(func=cmd_settings)

    p = sub.add_parser("migrate", help="create or upgrade the database schema", parents=[common])
    p.set_defaults(func=cmd_migrate)

    _add_optional(sub)
    return parser


def _add_optional(sub: Any) -> None:
    """Sub-commands owned by other packages register themselves here."""
    from inspection.cli import add_parsers as add_inspection
    from models.cli import add_parser as add_models
    from server.audit_cli import add_parser as add_audit
    from server.reinspect_cli import add_parser as add_reinspect

    add_inspection(sub)
    add_models(sub)
    add_audit(sub)
    add_reinspect(sub)


def main(argv: Sequence[str] | None = None) -> int:
    command = "kesu"
    try:
        with stop_on_sigterm():
            # Inside the try: building the parser imports every command's modules, seconds
            # on a loaded machine, and a Ctrl-C then was a KeyboardInterrupt traceback.
            args = build_parser().parse_args(argv)
            command = f"kesu {args.command}"
            return int(args.func(args))
    except CliError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print(f"{command}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
