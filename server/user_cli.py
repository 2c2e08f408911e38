"""``kesu user``: add, passwd, disable, enable, institution, qualify, list. Works only on an existing database."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from server.cli_common import EXIT_USAGE, announce, global_options, require_database, settings_from
from server.settings import Settings
from server.store.models import User
from server.users import (
    ROLES,
    UserError,
    add_user,
    list_users,
    set_disabled,
    set_institution,
    set_password,
    set_qualified,
)


def _typed(password: str | None) -> str | None:
    """``password``, or the one typed (or piped) when it is ``-``. Nothing to read (stdin
    closed, e.g. under cron or ``< /dev/null``) was an EOFError traceback from ``add``, and
    ``passwd`` took ``-`` for the password itself."""
    if password != "-":
        return password
    try:
        return getpass.getpass("password: ")
    except EOFError:
        raise UserError("--password -: no password could be read (standard input closed)") from None


def _add(args: argparse.Namespace, settings: Settings) -> str:
    password = _typed(args.password)
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
        return f"created {args.role} {args.name} with password: {password}"
    return f"created {args.role} {args.name}"


def _passwd(args: argparse.Namespace, settings: Settings) -> str:
    password = asyncio.run(set_password(settings, args.name, _typed(args.password)))
    shown = f"password of {args.name}: {password}" if args.password is None else "password set"
    return f"{shown}; all logins of {args.name} ended"


def _disable(args: argparse.Namespace, settings: Settings) -> str:
    ended = asyncio.run(set_disabled(settings, args.name, True))
    return f"disabled {args.name}; {ended} login(s) ended"


def _enable(args: argparse.Namespace, settings: Settings) -> str:
    asyncio.run(set_disabled(settings, args.name, False))
    return f"enabled {args.name}"


def _institution(args: argparse.Namespace, settings: Settings) -> str:
    before = asyncio.run(set_institution(settings, args.name, args.institution))
    return f"institution of {args.name}: {before!r} -> {args.institution!r}"


def _qualify(args: argparse.Namespace, settings: Settings) -> str:
    qualified = args.qualified == "yes"
    before = asyncio.run(set_qualified(settings, args.name, qualified))
    word = {True: "qualified", False: "not qualified"}
    return f"{args.name}: {word[before]} -> {word[qualified]} for remote recording (R20)"


def _list(_args: argparse.Namespace, settings: Settings) -> str:
    rows = asyncio.run(list_users(settings))
    lines = [
        f"{row.username:20} {row.role:12} {'disabled' if row.disabled else 'active':9} "
        f"{row.display_name} {row.institution}{_unqualified(row)}".rstrip()
        for row in rows
    ]
    return "\n".join(lines) if lines else "(no accounts)"


def _unqualified(row: User) -> str:
    return " (not qualified: R20)" if row.role == "salesperson" and not row.qualified_remote else ""


def cmd_user(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    announce(settings, "kesu user")
    require_database(settings)
    try:
        print(args.action(args, settings))
    except UserError as exc:
        print(f"kesu user: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def add_parser(sub: Any) -> None:
    common = global_options()
    p = sub.add_parser(
        "user", help="manage accounts (admin, salesperson, reviewer)", parents=[common]
    )
    usub = p.add_subparsers(dest="user_cmd", required=True, metavar="ACTION")
    a = usub.add_parser(
        "add",
        parents=[common],
        help="create an account; prints a generated password unless --password is given",
    )
    a.add_argument("name", help="login name")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument(
        "--password", default=None, help="the password ('-' to type it); default: generate one"
    )
    a.add_argument(
        "--display-name", default=None, help="name shown to customers (salesperson's real name)"
    )
    a.add_argument("--institution", default=None, help="institution's standard short name (R5)")
    a.set_defaults(action=_add)
    a = usub.add_parser(
        "passwd", parents=[common], help="set or regenerate a password and end the user's logins"
    )
    a.add_argument("name")
    a.add_argument(
        "--password", default=None, help="the new password ('-' to type it); default: generate one"
    )
    a.set_defaults(action=_passwd)
    a = usub.add_parser(
        "disable", parents=[common], help="refuse the user's logins and end the current ones"
    )
    a.add_argument("name")
    a.set_defaults(action=_disable)
    a = usub.add_parser("enable", parents=[common], help="allow a disabled user to log in again")
    a.add_argument("name")
    a.set_defaults(action=_enable)
    a = usub.add_parser(
        "institution",
        parents=[common],
        help="change an account's institution ('' clears it: a reviewer then sees every one)",
    )
    a.add_argument("name")
    a.add_argument("institution", help="institution's standard short name, or ''")
    a.set_defaults(action=_institution)
    a = usub.add_parser(
        "qualify",
        parents=[common],
        help="set whether a salesperson may record remotely (R20); 'no' refuses new sessions",
    )
    a.add_argument("name")
    a.add_argument("qualified", choices=("yes", "no"), help="yes: qualified; no: not qualified")
    a.set_defaults(action=_qualify)
    a = usub.add_parser("list", parents=[common], help="list accounts")
    a.set_defaults(action=_list)
    p.set_defaults(func=cmd_user)
