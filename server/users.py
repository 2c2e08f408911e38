"""Account management for the CLI (``kesu user``)."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import audit
from server.audit_trail import AuditTrail, attach
from server.security import generate_password, hash_password, write_private
from server.settings import Settings
from server.store.db import Database
from server.store.models import AuthSession, User
from server.text_rules import line_problem, text_problem

ROLES = ("admin", "salesperson", "reviewer")
MAX_PROFILE_TEXT = 128  # users.display_name and users.institution hold 128 characters


class UserError(Exception):
    """A refused account change (duplicate name, unknown user, bad role)."""


async def _open(settings: Settings) -> Database:
    db = Database(settings.db_url)
    attach(db, AuditTrail.from_settings(settings))
    await db.migrate()
    return db


async def add_user(
    settings: Settings,
    name: str,
    role: str,
    password: str | None,
    display_name: str = "",
    institution: str = "",
) -> str:
    """Create an account; returns the password (generated when none is given)."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if not name or len(name) > 64 or not name.isprintable() or " " in name:
        raise UserError("name must be 1-64 printable characters without spaces")
    if unicodedata.normalize("NFKC", name) != name:
        raise UserError(f"name {name!r} is not in normal form; use {_fold(name)!r}")
    for what, value in (("display name", display_name), ("institution", institution)):
        _check_profile_text(what, value)
    password, password_hash = _new_password(name, password)
    db = await _open(settings)
    try:
        async with db.session() as s:
            if (await s.execute(select(User).where(User.username == name))).scalar_one_or_none():
                raise UserError(f"user {name!r} exists already")
            # Names that differ only in case or width ("Admin", "ａｄｍｉｎ") look the same
            # in the audit log and on the pages: one account must not pass for another.
            for other in (await s.execute(select(User.username))).scalars():
                if _fold(other) == _fold(name):
                    raise UserError(f"name {name!r} is too like the existing user {other!r}")
            s.add(
                User(
                    username=name,
                    role=role,
                    password_hash=password_hash,
                    display_name=display_name,
                    institution=institution,
                )
            )
            await audit.record(s, "cli", "user.add", None, {"username": name, "role": role})
    finally:
        await db.close()
    return password


def _check_profile_text(what: str, value: str) -> None:
    # The display name is the salesperson's name on the customer's join page and the
    # reviewer's pages: it must read as what it is (no U+202E, no escape sequence).
    problem = text_problem(value) or line_problem(value)
    if problem is None and len(value) > MAX_PROFILE_TEXT:
        problem = f"must have at most {MAX_PROFILE_TEXT} characters"
    if problem is not None:
        raise UserError(f"{what} {problem}")


async def set_institution(settings: Settings, name: str, institution: str) -> str:
    """Change an account's institution ("" clears it); returns the previous one. A
    reviewer's institution is the one whose sessions they review (all when empty); a
    salesperson's is stamped on the sessions they make from now on."""
    _check_profile_text("institution", institution)
    before: str = await _change(settings, name, "institution", institution, "user.institution")
    return before


def _only_salespeople(user: User) -> None:
    if user.role != "salesperson":
        raise UserError(f"{user.username!r} is a {user.role}: only salespeople are qualified (R20)")


async def set_qualified(settings: Settings, name: str, qualified: bool) -> bool:
    """Set whether a salesperson may record remotely (R20: the insurer's register of
    qualified salespeople); returns the previous value. An unqualified salesperson cannot
    start a session, join its call (nor get its TURN credentials or a new join link) or
    start a re-recording (403 ``not_qualified``), and
    their sessions' join links refuse the customer (``server/owner_standing.py``); what
    was recorded before stays as it is."""
    before = await _change(
        settings, name, "qualified_remote", qualified, "user.qualified", _only_salespeople
    )
    return bool(before)


async def _change(
    settings: Settings,
    name: str,
    column: str,
    value: object,
    action: str,
    check: Callable[[User], None] | None = None,
) -> Any:
    """Set one column of an account (after ``check``, which may refuse it), audited as
    ``action`` with the value before and after; returns the value before."""
    db = await _open(settings)
    try:
        async with db.session() as s:
            user = await _user(s, name)
            if check is not None:
                check(user)
            before = getattr(user, column)
            setattr(user, column, value)
            detail = {"username": name, "from": before, "to": value}
            await audit.record(s, "cli", action, None, detail)
    finally:
        await db.close()
    return before


def _fold(name: str) -> str:
    """A name as it is read: width and compatibility forms unified, case ignored."""
    return unicodedata.normalize("NFKC", name).casefold()


MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # what POST /api/login takes (a longer one could never be used)
# The most used passwords of 8+ characters in leaked lists (first to be guessed, also under
# the login throttle's daily allowance).
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "87654321",
        "11111111",
        "88888888",
        "66666666",
        "00000000",
        "12341234",
        "11223344",
        "qwertyui",
        "qwerty123",
        "qwertyuiop",
        "1qaz2wsx",
        "1q2w3e4r",
        "abc12345",
        "abcd1234",
        "a1234567",
        "iloveyou",
        "woaini1314",
        "5201314520",
        "admin123",
        "admin1234",
        "welcome1",
        "changeme",
        "letmein1",
        "passw0rd",
        "p@ssw0rd",
        "zxcvbnm1",
        "asdfghjk",
    }
)


def password_problem(name: str, password: str) -> str | None:
    """Why ``password`` may not be set for the account ``name``, or None."""
    if (problem := text_problem(password)) is not None:
        return f"password {problem}"
    if len(password) < MIN_PASSWORD:
        return f"password must have at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"password must have at most {MAX_PASSWORD} characters"
    lowered = password.lower()
    if len(set(lowered)) < 3:
        return "password must have at least 3 different characters"
    if lowered in COMMON_PASSWORDS:
        return "password is one of the most commonly used; choose another"
    if len(name) >= 3 and name.lower() in lowered:
        return "password must not contain the user name"
    return None


def _new_password(name: str, password: str | None) -> tuple[str, str]:
    """The password (generated when none is given) and its hash; refuses a weak one.
    An empty one is refused, not generated: ``--password "$UNSET"`` said "password set"
    while a random password nobody was shown replaced the old one and ended every login."""
    password = generate_password() if password is None else password
    if (problem := password_problem(name, password)) is not None:
        raise UserError(problem)
    return password, hash_password(password)


async def end_sessions(s: AsyncSession, user_id: int) -> int:
    """Log the user out everywhere (inside the caller's transaction); returns how many logins
    ended. Deleting the rows is enough: every request looks its cookie up in this table."""
    stmt = delete(AuthSession).where(AuthSession.user_id == user_id)
    return len((await s.execute(stmt.returning(AuthSession.token_hash))).all())


async def _user(s: AsyncSession, name: str) -> User:
    if text_problem(name) is not None:
        raise UserError(f"no user {name!r}")  # no stored name has bytes that are not UTF-8
    user = (await s.execute(select(User).where(User.username == name))).scalar_one_or_none()
    if user is None:
        raise UserError(f"no user {name!r}")
    return user


async def set_password(settings: Settings, name: str, password: str | None) -> str:
    """Set (or generate) a password and end every login of the user; returns the password."""
    # Hashed before the write transaction opens: SQLite holds its write lock until commit.
    password, password_hash = _new_password(name, password)
    db = await _open(settings)
    try:
        async with db.session() as s:
            user = await _user(s, name)
            user.password_hash = password_hash
            ended = await end_sessions(s, user.id)
            await audit.record(
                s, "cli", "user.passwd", None, {"username": name, "sessions_ended": ended}
            )
    finally:
        await db.close()
    return password


async def set_disabled(settings: Settings, name: str, disabled: bool) -> int:
    """Disable (ending every login) or enable an account; returns how many logins ended."""
    db = await _open(settings)
    try:
        async with db.session() as s:
            user = await _user(s, name)
            user.disabled = disabled
            ended = await end_sessions(s, user.id) if disabled else 0
            action = "user.disable" if disabled else "user.enable"
            detail: dict[str, object] = {"username": name}
            if disabled:
                detail["sessions_ended"] = ended
            await audit.record(s, "cli", action, None, detail)
    finally:
        await db.close()
    return ended


async def list_users(settings: Settings) -> list[User]:
    db = await _open(settings)
    try:
        async with db.session() as s:
            return list((await s.execute(select(User).order_by(User.username))).scalars())
    finally:
        await db.close()


async def bootstrap_admin(db: Database, data_dir: Path) -> str | None:
    """On a fresh install create ``admin`` with a random password, kept in a file only its owner reads."""
    async with db.session() as s:
        if (await s.execute(select(User.id).limit(1))).first() is not None:
            return None
        password = generate_password()
        digest = await asyncio.to_thread(hash_password, password)  # argon2: ~0.3 s of CPU
        s.add(
            User(
                username="admin",
                role="admin",
                password_hash=digest,
                display_name="管理员",
            )
        )
        await audit.record(s, "system", "user.add", None, {"username": "admin", "role": "admin"})
    await asyncio.to_thread(
        write_private, data_dir / "initial-admin-password.txt", (password + "\n").encode()
    )
    return password
