"""``kesu audit``: verify the keyed chain, its signed checkpoints, every anchored file and the
review tables; export a session's evidence zip; verify such a zip offline (``--export FILE``,
no database needed); print the public key that checks exports (``public-key``)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from server.audit_export import export_session
from server.audit_export_verify import verify_export_report
from server.audit_keys import AuditKeys, CheckpointLog, read_public_key
from server.audit_trail import AuditTrail, attach
from server.audit_verify import Report, verify_archive
from server.blobs import store_from_settings
from server.cli_common import (
    CliError,
    announce,
    global_options,
    require_database,
    settings_from,
)
from server.settings import Settings
from server.store.db import Database


def _settings(args: argparse.Namespace) -> Settings:
    """The settings of an existing installation (exit 2 if its database does not exist)."""
    settings = settings_from(args)
    announce(settings, "kesu audit")
    require_database(settings)
    return settings


async def verify_all(settings: Settings) -> Report:
    """Problems (and notes) in the chain, checkpoints, files and review tables."""
    # Verification never creates a key: a missing one is reported.
    keys = AuditKeys.load(settings.audit_key_path)
    db = Database(settings.db_url)
    try:
        async with db.session() as s:
            report = await verify_archive(
                s,
                settings.sessions_dir,
                keys,
                CheckpointLog(settings.audit_checkpoint_path),
                store_from_settings(settings),
            )
    finally:
        await db.close()
    if keys is None:
        report.notes.append(f"no audit key at {settings.audit_key_path}")
    return report


async def export_one(settings: Settings, session_id: str, out: Path) -> str:
    """Write ``out`` for ``session_id``; returns a one-line summary."""
    from server.reviews import load_review, review_record

    db = Database(settings.db_url)
    trail = attach(db, AuditTrail.from_settings(settings))
    try:
        async with db.session() as s:
            review = review_record(await load_review(s, session_id))
        info = await export_session(
            db.session, settings.sessions_dir / session_id, session_id, out, "cli", review
        )
    finally:
        await db.close()
        await asyncio.to_thread(trail.close)
    return f"{info.path}: {info.files} files, {info.bytes} bytes, manifest sha256 {info.manifest_sha256}"


def _report(problems: list[str], notes: list[str], ok: str) -> int:
    for line in problems:
        print(line)
    for line in notes:
        print(f"note: {line}")
    print(ok if not problems else f"{len(problems)} problem(s) found")
    return 0 if not problems else 1


def _public_key(path: Path) -> str:
    """The trusted key of ``--public-key``, or CliError (exit 2): a missing, unreadable or
    non-hex file was a traceback, and a key of the wrong length is no Ed25519 key."""
    try:
        key = read_public_key(path)
    except FileNotFoundError:
        raise CliError(f"--public-key {path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"--public-key {path}: is a directory, not a key file") from None
    except OSError as exc:
        raise CliError(f"--public-key {path}: cannot read: {exc.strerror or exc}") from None
    except ValueError:  # not UTF-8, not hex, no key: Python's own words named fromhex()
        raise CliError(
            f"--public-key {path}: not a public key (the 64 hex digits `kesu audit "
            "public-key` prints)"
        ) from None
    if len(bytes.fromhex(key)) != 32:
        raise CliError(f"--public-key {path}: an Ed25519 public key is 64 hex digits")
    return key


def _cmd_verify(args: argparse.Namespace) -> int:
    if args.public_key and not args.export:
        # Was ignored: the archive verified "intact" with no key of the operator's checked.
        raise CliError("--public-key checks an evidence zip: give it with --export FILE")
    if args.export:
        public_key = _public_key(Path(args.public_key)) if args.public_key else None
        keys = None
        if getattr(args, "data_dir", None) or getattr(args, "config", None):
            # On the server the audit key itself is at hand: check every entry's MAC too.
            keys = AuditKeys.load(settings_from(args).audit_key_path)
            public_key = public_key or (keys.public_key if keys else None)
        r = verify_export_report(Path(args.export), public_key, keys)
        return _report(r.problems, r.notes, f"{args.export}: export intact")
    report = asyncio.run(verify_all(_settings(args)))
    return _report(report.problems, report.notes, "audit chain, recordings and reviews intact")


def _cmd_export(args: argparse.Namespace) -> int:
    from server.errors import KesuError

    out = Path(args.output)
    if (problem := _output_problem(out)) is not None:
        raise CliError(problem)
    settings = _settings(args)
    try:
        print(asyncio.run(export_one(settings, args.session_id, out)))
    except KesuError as exc:
        # An id that names no session (or one not ended) is the operator's input: exit 2 on
        # stderr like every other refusal, not exit 1 (which `audit verify` keeps for a
        # broken archive) on stdout.
        raise CliError(f"cannot export {args.session_id!r}: {exc.message}") from None
    except OSError as exc:  # a parent that is a file, no permission, a full disk
        raise CliError(f"-o {out}: cannot write: {exc.strerror or exc}") from None
    return 0


def _output_problem(out: Path) -> str | None:
    """Why ``-o`` cannot be the zip, found before anything is written (the export appends
    a signed checkpoint and an audit entry first)."""
    if out.is_dir():
        # Before, the zip was written beside it and the rename failed: a traceback, and the
        # whole zip left behind as ``.NAME.tmp``.
        return f"-o {out}: is a directory"
    if not out.parent.exists():
        # Not made: before, a mistyped folder was created silently (as `kesu inspect -o`).
        return f"-o {out}: no directory {out.parent}"
    if not out.parent.is_dir():
        return f"-o {out}: cannot write: {out.parent} is not a directory"
    return None


def _cmd_public_key(args: argparse.Namespace) -> int:
    settings = settings_from(args)  # needs the key file only, not the database
    announce(settings, "kesu audit")
    keys = AuditKeys.load(settings.audit_key_path)
    if keys is None:
        print(f"error: no audit key at {settings.audit_key_path} (start `kesu serve` once)")
        return 1
    print(f"# kesu audit public key {keys.key_id} (Ed25519, hex): checks evidence exports")
    print(keys.public_key)
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
        help="check the keyed chain, its signed checkpoints, every anchored file and the "
        "review tables (exit 1 when broken); with --export FILE, check an evidence zip "
        "instead (no database needed)",
    )
    v.add_argument("--export", default=None, metavar="FILE", help="an evidence zip to verify")
    v.add_argument(
        "--public-key",
        dest="public_key",
        default=None,
        metavar="FILE",
        help="with --export: the operator's public key (from `kesu audit public-key`)",
    )
    e = asub.add_parser("export", parents=[common], help="write one session's evidence zip")
    e.add_argument("session_id")
    e.add_argument("-o", "--output", required=True, metavar="FILE")
    k = asub.add_parser(
        "public-key", parents=[common], help="print the public key that checks evidence exports"
    )
    v.set_defaults(func=_cmd_verify)
    e.set_defaults(func=_cmd_export)
    k.set_defaults(func=_cmd_public_key)
