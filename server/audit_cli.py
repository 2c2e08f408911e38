"""``kesu audit``: verify the hash chain and every anchored recording, export a session's
evidence zip, and verify such a zip offline (``--export FILE``, no database needed)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from server.audit import verify_chain, verify_files
from server.audit_export import export_session, verify_export
from server.cli_common import announce, global_options, require_database, settings_from
from server.settings import Settings
from server.store.db import Database


def _settings(args: argparse.Namespace) -> Settings:
    """The settings of an existing installation (exit 2 if its database does not exist)."""
    settings = settings_from(args)
    announce(settings, "kesu audit")
    require_database(settings)
    return settings


async def verify_archive(settings: Settings) -> list[str]:
    """Problems in the chain and in every anchored file, as printable lines."""
    db = Database(settings.db_url)
    try:
        async with db.session() as s:
            chain = await verify_chain(s)
            files = await verify_files(s, settings.sessions_dir)
    finally:
        await db.close()
    return [f"chain: {p}" for p in chain] + [f"file: {p}" for p in files]


async def export_one(settings: Settings, session_id: str, out: Path) -> str:
    """Write ``out`` for ``session_id``; returns a one-line summary."""
    from server.reviews import load_review, review_record

    db = Database(settings.db_url)
    try:
        async with db.session() as s:
            review = review_record(await load_review(s, session_id))
        info = await export_session(
            db.session, settings.sessions_dir / session_id, session_id, out, "cli", review
        )
    finally:
        await db.close()
    return f"{info.path}: {info.files} files, {info.bytes} bytes, manifest sha256 {info.manifest_sha256}"


def _report(problems: list[str], ok: str) -> int:
    for line in problems:
        print(line)
    print(ok if not problems else f"{len(problems)} problem(s) found")
    return 0 if not problems else 1


def _cmd_verify(args: argparse.Namespace) -> int:
    if args.export:
        return _report(verify_export(Path(args.export)), f"{args.export}: export intact")
    problems = asyncio.run(verify_archive(_settings(args)))
    return _report(problems, "audit chain and recordings intact")


def _cmd_export(args: argparse.Namespace) -> int:
    from server.errors import KesuError

    try:
        print(asyncio.run(export_one(_settings(args), args.session_id, Path(args.output))))
    except KesuError as exc:
        print(f"error: {exc.message}")
        return 1
    return 0


def add_parser(sub: Any) -> None:
    common = global_options()
    p = sub.add_parser(
        "audit", help="verify the audit log and recordings, export evidence", parents=[common]
    )
    asub = p.add_subparsers(dest="audit_cmd", required=True, metavar="ACTION")
    v = asub.add_parser(
        "verify",
        parents=[common],
        help="check the whole hash chain and every anchored recording (exit 1 when broken); "
        "with --export FILE, check an evidence zip instead (no database needed)",
    )
    v.add_argument("--export", default=None, metavar="FILE", help="an evidence zip to verify")
    e = asub.add_parser("export", parents=[common], help="write one session's evidence zip")
    e.add_argument("session_id")
    e.add_argument("-o", "--output", required=True, metavar="FILE")
    v.set_defaults(func=_cmd_verify)
    e.set_defaults(func=_cmd_export)
