"""The sales form's ID-number check (web/static/js/idcheck.js) agrees with the server's
GB 11643 validation (inspection/idnumber.py) on valid numbers and on typical typos."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from inspection.idnumber import make_id, validate_id
from tests.browser import BASE_FLAGS, CHROMIUM

pytestmark = pytest.mark.e2e

IDCHECK_JS = Path(__file__).resolve().parents[2] / "web" / "static" / "js" / "idcheck.js"


def sample_numbers(n: int = 300) -> list[str]:
    """Valid numbers plus single-character typos, swapped digits, bad dates and lengths."""
    rng = random.Random(11643)
    out = []
    for _ in range(n):
        birth = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 365 * 90))
        good = make_id(
            birth, rng.choice(["110101", "310104", "440305", "510107"]), rng.randrange(1000)
        )
        pos = rng.randrange(6, 18)
        typo = (
            good[:pos] + str((int(good[pos]) + 1) % 10 if good[pos] != "X" else 0) + good[pos + 1 :]
        )
        swap = good[:8] + good[9] + good[8] + good[10:]
        out += [good, good.lower(), typo, swap, good[:17], good[:10] + "1332" + good[14:]]
    return out


async def test_client_check_matches_server() -> None:
    source = IDCHECK_JS.read_text(encoding="utf-8").replace("export function", "function")
    numbers = sample_numbers()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=BASE_FLAGS)
        try:
            page = await browser.new_page()
            await page.add_script_tag(
                content=source + "\nwindow.idNumberProblem = idNumberProblem;"
            )
            problems = await page.evaluate(
                "(ns) => ns.map((n) => window.idNumberProblem(n))", numbers
            )
        finally:
            await browser.close()
    # The client checks shape, date and check digit; the server also checks the region code,
    # which all these samples pass, so both must agree on every one.
    disagreements = [
        (n, p, validate_id(n).reason)
        for n, p in zip(numbers, problems, strict=True)
        if (p is None) != validate_id(n).valid
    ]
    assert not disagreements, disagreements[:10]
    assert problems.count(None) >= len(numbers) // 3  # the valid ones (and lower-case x)
