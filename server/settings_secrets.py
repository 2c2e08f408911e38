"""Settings' secrets kept out of messages and logs: a database URL with its password masked,
and every secret value a process knows (for the log redaction masks)."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # server.settings imports this module to re-export it
    from server.settings import Settings


def masked_db_url(url: str) -> str:
    """``url`` with any password shown as ``***``: safe for messages and logs."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        # Not a URL SQLAlchemy can parse: still never show what looks like user:password@.
        return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)


def secret_values(settings: Settings) -> list[str]:
    """Every secret this process knows (secret settings, the database password): for masks."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    out = [
        str(getattr(settings, f.name))
        for f in fields(settings)
        if f.metadata.get("secret") and getattr(settings, f.name)
    ]
    try:
        password = make_url(settings.db_url).password
    except ArgumentError:
        password = None
    if password:
        out.append(str(password))
    return out
