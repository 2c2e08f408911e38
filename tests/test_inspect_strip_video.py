"""A participant's picture of any shape up to 4096 pixels a side (its sender chooses it; a
script with the join link can send 4096 x 2) is inspected like any other: the video stage
rounded its sharpness scale to 0 rows and failed the whole inspection with an OpenCV
assertion, and OCR of such frames failed or took gigabytes (tests/test_ocr_strips.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspection.cli import main
from tests.corpus_plan import MINI_TEMPLATE, policy_for
from tests.test_rtc_review_video import write_segment


@pytest.mark.parametrize("size", [(4096, 2), (2, 4096)])
def test_a_strip_of_a_picture_is_inspected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], size: tuple[int, int]
) -> None:
    write_segment(tmp_path / "s.mkv", "salesperson", 3.0, (160, 120))
    write_segment(tmp_path / "c.mkv", "customer", 3.0, size)
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(policy_for("mini", "a").to_dict()), encoding="utf-8")
    code = main(
        [
            "inspect",
            "--salesperson", str(tmp_path / "s.mkv"),
            "--customer", str(tmp_path / "c.mkv"),
            "--template", str(MINI_TEMPLATE),
            "--policy", str(policy),
            "--format", "json",
        ]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    assert json.loads(out)["verdict"] in ("pass", "flagged")
