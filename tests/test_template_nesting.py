"""A template nested thousands of levels deep is a template problem with a line, not a
RecursionError: ``kesu template check`` printed a traceback, and one such file in
``KESU_TEMPLATES_DIR`` made ``GET /api/templates`` a 500 for everyone instead of being
skipped like any other broken template."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from inspection.templates import TemplateError, parse_template
from tests.conftest import Client

REPO = Path(__file__).resolve().parent.parent

GOOD = """schema: kesu.template/1
id: mine
version: 1
title: 测试
nodes:
  - id: greet
    title: 问候
    speaker: salesperson
    text: 您好
"""


def deep(levels: int) -> str:
    # Flow and block nesting: both recurse in the YAML composer.
    return "schema: kesu.template/1\nid: mine\nnodes: " + "[" * levels + "]" * levels + "\n"


def deep_block(levels: int) -> str:
    return "nodes:\n" + "".join(f"{'  ' * (i + 1)}- \n" for i in range(levels))


@pytest.mark.parametrize("text", [deep(50_000), deep_block(3_000)], ids=["flow", "block"])
def test_deep_nesting_is_a_template_error(text: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse_template(text)
    (issue,) = info.value.issues
    assert issue.line is not None and "nested deeper than" in issue.message


def test_nesting_up_to_the_limit_is_parsed() -> None:
    # The limit refuses only what no template needs: a valid template is ~4 levels deep.
    parse_template(GOOD)
    with pytest.raises(TemplateError) as info:
        parse_template(deep(40))
    assert all("nested deeper" not in i.message for i in info.value.issues)


def test_template_check_says_so_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "deep.yaml"
    bad.write_text(deep(100_000), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESU_")}
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "template", "check", str(bad)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "nested deeper than" in done.stderr


async def test_a_deep_installed_template_is_skipped_by_the_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, client_factory: Any
) -> None:
    installed = tmp_path / "templates"
    installed.mkdir()
    (installed / "mine.yaml").write_text(GOOD, encoding="utf-8")
    (installed / "broken.yaml").write_text(deep(50_000), encoding="utf-8")
    monkeypatch.setenv("KESU_TEMPLATES_DIR", str(installed))
    sales: Client = await client_factory("sales1")
    status, body = await sales.get("/api/templates")
    assert status == 200, body
    ids = {t["id"] for t in body["templates"]}
    assert "mine" in ids and "broken" not in ids and "traditional_life" in ids
