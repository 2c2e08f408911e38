"""Every ``kesu`` command the parser has is in the README's table of commands (README.md,
"Commands"), so a command added without its line there fails here; and every ``kesu ...``
the README and docs/ write names commands and flags the parser has."""

from __future__ import annotations

import argparse
import re
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


DOCS = [README, *sorted((README.parent / "docs").rglob("*.md"))]
# `kesu ...` in backticks, or a line of a shell example that runs kesu (./.venv/bin/kesu).
_SNIPPET = re.compile(r"`(?:\S*/)?(kesu [^`]+)`|^\s*(?:\S*/)?(kesu [^\n`]+)$", re.M)
_SHELL_END = {"|", "&&", "||", ";", ">", "2>&1", "#"}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subs[0].choices) if subs else {}


def _unknown_words(command: str) -> list[str]:
    """The words of ``command`` (``kesu ...`` as the docs write it) that its parser does not
    know: a command that is not there, or a ``--flag`` that neither the command nor a parser
    above it takes."""
    chain = [build_parser()]
    words = command.split()[1:]
    unknown, i = [], 0
    while i < len(words):
        word = words[i].strip("[]")
        if word in _SHELL_END:
            break
        if word.startswith("--"):
            flag = word.split("=")[0]
            actions = [a for p in chain for a in p._actions if flag in a.option_strings]
            if not actions:
                unknown.append(flag)
            elif actions[0].nargs != 0 and "=" not in word:
                i += 1  # the flag's value
        elif word.startswith("-"):
            pass  # a short flag (-o FILE): checked by the command's own tests
        elif _subcommands(chain[-1]):
            if word in _subcommands(chain[-1]):
                chain.append(_subcommands(chain[-1])[word])
            else:
                unknown.append(word)
        i += 1
    return unknown


def test_every_command_and_flag_in_the_docs_exists() -> None:
    found = [
        (page.name, a or b)
        for page in DOCS
        for a, b in _SNIPPET.findall(page.read_text(encoding="utf-8"))
    ]
    assert len(found) >= 40, found  # the pattern still finds the docs' commands
    wrong = [(page, cmd, _unknown_words(cmd)) for page, cmd in found if _unknown_words(cmd)]
    assert not wrong, wrong


def _flags(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, str]]:
    """(command, --flag) for every long flag ``--help`` shows, down the subcommands."""
    own = [
        (prefix, option)
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]
    subs = _subcommands(parser)
    return own + [f for name, p in subs.items() for f in _flags(p, f"{prefix} {name}")]


def test_every_flag_is_in_the_docs() -> None:
    text = "\n".join(page.read_text(encoding="utf-8") for page in DOCS)
    flags = _flags(build_parser(), "kesu")
    assert len(flags) >= 20, flags  # the walk found the flags
    missing = [(cmd, flag) for cmd, flag in flags if not re.search(rf"{flag}(?![\w-])", text)]
    assert not missing, missing
