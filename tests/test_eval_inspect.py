"""scripts/eval_inspect.py: finding the dev and test parts, and scoring per split (no models)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.eval_inspect import Outcome, find_splits, print_table, side_by_side


def _session(root: Path, name: str) -> None:
    (root / name).mkdir(parents=True)
    (root / name / "labels.json").write_text(json.dumps({"expected_codes": []}), "utf-8")


def test_find_splits_in_a_root_and_in_listed_dirs(tmp_path: Path) -> None:
    _session(tmp_path / "dev", "dev00")
    _session(tmp_path / "test", "test00")
    (tmp_path / "test" / "corpus.json").write_text(json.dumps({"split": "test"}), "utf-8")
    (tmp_path / "notes").mkdir()  # no sessions: not a split
    assert find_splits([tmp_path]) == {"dev": tmp_path / "dev", "test": tmp_path / "test"}
    assert find_splits([tmp_path / "test"]) == {"test": tmp_path / "test"}
    assert find_splits([tmp_path / "notes"]) == {}


def _o(name: str, expected: set[str], predicted: set[str]) -> Outcome:
    return Outcome(name, "k", expected, predicted, duration_s=100.0, seconds=10.0)


def test_tables_per_split(capsys: pytest.CaptureFixture[str]) -> None:
    dev = print_table(
        [
            _o("a", set(), set()),
            _o("b", set(), {"media.quality"}),
            _o("c", {"consent.missing"}, {"consent.missing"}),
        ]
    )
    test = print_table([_o("d", {"consent.missing"}, set()), _o("e", set(), set())])
    assert (dev["clean_passed"], dev["clean"], dev["exact"]) == (1, 2, 2)
    assert dev["codes"]["media.quality"]["precision"] == 0.0
    assert dev["codes"]["consent.missing"]["recall"] == 1.0
    assert test["codes"]["consent.missing"]["recall"] == 0.0
    capsys.readouterr()
    side_by_side({"dev": dev, "test": test})
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("consent.missing"))
    assert line.split()[1:] == ["1.00", "1.00", "-", "0.00"]
    assert "clean passes" in out and "1/2" in out


def test_severity_view_counts_only_fail_findings() -> None:
    def found(code: str, severity: str) -> dict[str, str]:
        return {"code": code, "severity": severity}

    clean_review = _o("a", set(), {"answer.not_affirmative"})
    clean_review.findings = [found("answer.not_affirmative", "review")]
    clean_fail = _o("b", set(), {"script.node_missing"})
    clean_fail.findings = [found("script.node_missing", "fail")]
    weak = _o("c", {"speech.number_mismatch"}, {"speech.number_mismatch"})
    weak.findings = [found("speech.number_mismatch", "review")]
    strong = _o("d", {"consent.missing"}, {"consent.missing"})
    strong.findings = [found("consent.missing", "review"), found("consent.missing", "fail")]
    summary = print_table([clean_review, clean_fail, weak, strong])
    assert summary["clean_passed"] == 0
    assert summary["clean_without_fail"] == 1
    assert summary["expected_found_as_fail"] == 1
