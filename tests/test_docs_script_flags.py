"""Every ``--flag`` that README.md or docs/ give to a ``scripts/NAME.py`` command is one that
script's ``--help`` lists (tests/test_readme_commands.py does the same for ``kesu``): a
flag renamed or dropped in a script fails here instead of in a reader's shell."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_SCRIPT = re.compile(r"scripts/([a-z_/]+)\.py")
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
_SHELL_END = re.compile(r"\s(?:\||&&|;|>)\s")


def _command_text(lines: list[str], i: int, end: int) -> str:
    """What follows a script's name on line ``i`` (from column ``end``): to the closing
    backtick of inline code, else on through ``\\`` continuations, up to a comment or the
    next shell command."""
    line = lines[i]
    rest = line[end:]
    if "`" in line[:end] and "`" in rest:
        return rest.split("`", 1)[0]
    while rest.rstrip().endswith("\\") and i + 1 < len(lines):
        i += 1
        rest = rest.rstrip()[:-1] + " " + lines[i]
    return _SHELL_END.split(rest.split(" #", 1)[0])[0]


def documented_flags(pages: list[Path]) -> dict[str, set[tuple[str, str]]]:
    """``{script: {(flag, "page:line")}}`` for every script command the pages write."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for page in pages:
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            for m in _SCRIPT.finditer(line):
                for flag in _FLAG.findall(_command_text(lines, i, m.end())):
                    found[m.group(1)].add((flag, f"{page.name}:{i + 1}"))
    return found


def _help_flags(script: str) -> tuple[int, set[str]]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / f"{script}.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    return out.returncode, set(_FLAG.findall(out.stdout))


def test_every_script_flag_in_the_docs_exists() -> None:
    found = documented_flags(DOCS)
    assert sum(len(v) for v in found.values()) >= 100, found  # the pattern still finds them
    missing = sorted(s for s in found if not (ROOT / "scripts" / f"{s}.py").is_file())
    assert not missing, missing
    with ThreadPoolExecutor(2) as pool:
        helps = dict(zip(found, pool.map(_help_flags, found), strict=True))
    failed = sorted(s for s, (code, _flags) in helps.items() if code != 0)
    assert not failed, failed
    unknown = sorted(
        (script, flag, where)
        for script, uses in found.items()
        for flag, where in uses
        if flag not in helps[script][1]
    )
    assert not unknown, unknown


def test_a_wrong_flag_is_found(tmp_path: Path) -> None:
    """The scan reads inline code, fenced lines with continuations, and stops at comments."""
    page = tmp_path / "page.md"
    page.write_text(
        "Run `scripts/eval_inspect.py CORPUS --out DIR` or\n\n"
        "    nice -n 10 .venv/bin/python scripts/make_corpus.py --split dev \\\n"
        "        --no-such-flag  # --not-this-one\n",
        encoding="utf-8",
    )
    found = documented_flags([page])
    assert {f for f, _ in found["eval_inspect"]} == {"--out"}
    assert {f for f, _ in found["make_corpus"]} == {"--split", "--no-such-flag"}
