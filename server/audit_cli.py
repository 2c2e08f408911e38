"""``kesu audit``: verify the hash-chained audit log."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from server.audit import verify_chain
from server.settings import load_settings
from server.store.db import Database


async def _verify(data_dir: str | None) -> int:
    overrides = {"data_dir": data_dir} if data_dir else {}
    settings = load_settings(overrides)
    db = Database(settings.db_url)
    try:
        async with db.session() as s:
            problems = await verify_chain(s)
    finally:
        await db.close()
    for line in problems:
        print(line)
    print("audit chain intact" if not problems else f"{len(problems)} problem(s) found")
    return 0 if not problems else 1


def _cmd(args: argparse.Namespace) -> int:
    return asyncio.run(_verify(args.data_dir))


def add_parser(sub: Any) -> None:
    p = sub.add_parser("audit", help="verify the audit log and recordings")
    asub = p.add_subparsers(dest="audit_cmd", required=True, metavar="ACTION")
    v = asub.add_parser("verify", help="check the whole hash chain; exit 1 when anything is broken")
    v.add_argument("--data-dir", dest="data_dir", default=None)
    p.set_defaults(func=_cmd)
