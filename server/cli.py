"""The ``kesu`` command: serve, worker, user, inspect, template, models, audit, settings, migrate."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from server.settings import Settings, load_settings, setting_fields

Command = Callable[[argparse.Namespace], int]


def _settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "data_dir", "database_url", "workers"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return load_settings(overrides, toml_path=getattr(args, "config", None))


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", type=str, default=None, help="TOML file of settings (see `kesu settings`)"
    )
    p.add_argument(
        "--data-dir", dest="data_dir", default=None, help="data directory (default ./var)"
    )
    p.add_argument("--database-url", dest="database_url", default=None, help="SQLAlchemy async URL")


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from server.app import create_app

    settings = _settings_from(args)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    print(
        f"kesu: serving on http://{settings.host}:{settings.port}/ (data in {settings.data_dir})",
        flush=True,
    )
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from server.standalone_worker import run_worker

    settings = _settings_from(args)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(run_worker(settings))


def cmd_user(args: argparse.Namespace) -> int:
    from server.users import UserError, add_user, list_users, set_password

    settings = _settings_from(args)
    try:
        if args.user_cmd == "add":
            password = args.password
            if password == "-":
                password = getpass.getpass("password: ")
            password = asyncio.run(
                add_user(
                    settings,
                    args.name,
                    args.role,
                    password,
                    args.display_name or "",
                    args.institution or "",
                )
            )
            if args.password is None:
                print(f"created {args.role} {args.name} with password: {password}")
            else:
                print(f"created {args.role} {args.name}")
        elif args.user_cmd == "passwd":
            password = asyncio.run(set_password(settings, args.name, args.password))
            print(
                f"password of {args.name}: {password}"
                if args.password is None
                else f"password of {args.name} set"
            )
        else:
            for row in asyncio.run(list_users(settings)):
                print(f"{row.username:20} {row.role:12} {row.display_name} {row.institution}")
    except UserError as exc:
        print(f"kesu user: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_settings(_args: argparse.Namespace) -> int:
    for name, default, help_text in setting_fields():
        print(f"KESU_{name.upper():28} default {default!s:24} {help_text}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from server.store.db import upgrade

    settings = _settings_from(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    print("database is at the newest schema")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kesu", description="Kesu (可溯): remote dual recording with AI quality inspection."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the web server, media server and embedded worker pool")
    _add_common(p)
    p.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="listen port (default 8080)")
    p.add_argument(
        "--workers", type=int, default=None, help="inspection worker processes (default 1)"
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "worker", help="run only the job worker (scale-out: several machines, one database)"
    )
    _add_common(p)
    p.add_argument("--workers", type=int, default=None, help="worker processes (default 1)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("user", help="manage accounts (admin, salesperson, reviewer)")
    _add_common(p)
    usub = p.add_subparsers(dest="user_cmd", required=True, metavar="ACTION")
    a = usub.add_parser(
        "add", help="create an account; prints a generated password unless --password is given"
    )
    a.add_argument("name", help="login name")
    a.add_argument("--role", required=True, choices=("admin", "salesperson", "reviewer"))
    a.add_argument(
        "--password", default=None, help="the password ('-' to type it); default: generate one"
    )
    a.add_argument(
        "--display-name", default=None, help="name shown to customers (salesperson's real name)"
    )
    a.add_argument("--institution", default=None, help="institution's standard short name (R5)")
    a = usub.add_parser("passwd", help="set or regenerate a password")
    a.add_argument("name")
    a.add_argument("--password", default=None, help="the new password; default: generate one")
    usub.add_parser("list", help="list accounts")
    p.set_defaults(func=cmd_user)

    p = sub.add_parser(
        "settings", help="list every setting with its environment variable and default"
    )
    p.set_defaults(func=cmd_settings)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    _add_common(p)
    p.set_defaults(func=cmd_migrate)

    _add_optional(sub)
    return parser


def _add_optional(sub: Any) -> None:
    """Sub-commands owned by other packages register themselves here."""
    from inspection.cli import add_parsers as add_inspection
    from models.cli import add_parser as add_models
    from server.audit_cli import add_parser as add_audit

    add_inspection(sub)
    add_models(sub)
    add_audit(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
