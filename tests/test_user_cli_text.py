"""``kesu user`` with hostile text: arguments that are not UTF-8 (a terminal or a script in
another encoding) and display names or institutions with controls or invisible formatting
characters are refused with a one-line reason and exit 2, and nothing is written.

Before, a name, display name, institution or password holding bytes that are not UTF-8
ended in a UnicodeEncodeError traceback, and a display name with a right-to-left override
or an escape sequence was stored: it is the salesperson's name shown to customers on the
join page and to reviewers, and ``kesu user list`` printed its escape sequence raw."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.cli_run import kesu

NOT_UTF8 = "\udcff\udcfe"  # what Python makes of the bytes ff fe in an argument


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("users")
    done = kesu("migrate", "--data-dir", str(root / "data"), cwd=root)
    assert done.returncode == 0, done.stderr
    done = kesu(
        "user", "add", "carol", "--role", "salesperson", "--password", "Birch-pw-42",
        "--data-dir", str(root / "data"), cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return root / "data"


def rows(data: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(data / "kesu.db") as db:
        return list(
            db.execute("SELECT username, display_name, institution, password_hash FROM users")
        )


def refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    for word in words:
        assert word in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--display-name", NOT_UTF8),
        ("--institution", NOT_UTF8),
        ("--display-name", "李\u202e四"),  # right-to-left override
        ("--display-name", "李四\u200b"),  # zero-width space
        ("--display-name", "李四\x1b[31m"),  # terminal escape
        ("--institution", "示例\n人寿"),
        ("--display-name", "长" * 129),  # the column holds 128 (PostgreSQL refuses more)
        ("--password", NOT_UTF8 + "abcdefghij"),
    ],
    ids=[
        "name-not-utf8",
        "institution-not-utf8",
        "rlo",
        "zwsp",
        "escape",
        "newline",
        "too-long",
        "password-not-utf8",
    ],  # fmt: skip
)
def test_user_add_refuses(data: Path, option: str, value: str) -> None:
    before = rows(data)
    done = kesu(
        "user", "add", "dave", "--role", "salesperson", option, value,
        "--data-dir", str(data), cwd=data.parent,
    )  # fmt: skip
    refused(done, option.removeprefix("--").replace("-", " "))
    assert rows(data) == before


@pytest.mark.parametrize("action", ["passwd", "disable", "enable"])
def test_a_name_that_is_not_utf8_is_no_user(data: Path, action: str) -> None:
    before = rows(data)
    refused(kesu("user", action, NOT_UTF8, "--data-dir", str(data), cwd=data.parent), "no user")
    assert rows(data) == before


def test_passwd_refuses_a_password_that_is_not_utf8(data: Path) -> None:
    before = rows(data)
    done = kesu(
        "user", "passwd", "carol", "--password", NOT_UTF8 + "abcdefghij",
        "--data-dir", str(data), cwd=data.parent,
    )  # fmt: skip
    refused(done, "password")
    assert rows(data) == before


def test_plain_names_still_pass(data: Path) -> None:
    done = kesu(
        "user", "add", "erin", "--role", "reviewer", "--display-name", "Erin O'Neil 欧阳娜",
        "--institution", "示例人寿 北京分公司", "--data-dir", str(data), cwd=data.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert ("erin", "Erin O'Neil 欧阳娜", "示例人寿 北京分公司") in [r[:3] for r in rows(data)]
