"""Every ``kesu`` command the parser has is in the README's table of commands (README.md,
"Commands"), so a command added without its line there fails here."""

from __future__ import annotations

import argparse
from pathlib import Path

from server.cli import build_parser

README = Path(__file__).resolve().parent.parent / "README.md"


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
    """``kesu`` plus the words of each command that takes no further command."""
    # argparse has no public way to list a parser's subcommands: _SubParsersAction.choices
    # is read as argparse itself reads it (a change there fails this test, not hides it).
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [prefix]
    return [c for name, p in subs[0].choices.items() for c in _commands(p, f"{prefix} {name}")]


def test_every_command_is_in_the_readme_table() -> None:
    table = [
        line
        for line in README.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `kesu ")
    ]
    commands = _commands(build_parser(), "kesu")
    assert len(commands) >= 15, commands  # the parser walk found the commands
    missing = [c for c in commands if not any(f"`{c}`" in row or f"`{c} " in row for row in table)]
    assert not missing, missing
