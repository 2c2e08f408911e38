"""``kesu inspect`` / ``kesu template`` through ``inspection.cli.main``: exit codes, JSON shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspection.cli import main
from tests.corpus import make_session
from tests.corpus_plan import MINI_TEMPLATE, policy_for


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# --- template ------------------------------------------------------------------------------


def test_template_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, "template", "check", str(MINI_TEMPLATE))
    assert rc == 0 and err == ""
    assert "OK — mini v1" in out and "estimated duration 0 min" in out
    assert "  signature" in out


def test_template_check_builtin_and_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rc, out, _ = run(capsys, "template", "check", "investment_linked")
    assert rc == 0 and "estimated duration 3 min" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        MINI_TEMPLATE.read_text(encoding="utf-8").replace(
            "speaker: salesperson", "speaker: bot", 1
        ),
        "utf-8",
    )
    rc, out, err = run(capsys, "template", "check", str(bad))
    assert rc == 2 and out == ""
    assert (
        f"{bad}: line 17: nodes[0].speaker: must be one of salesperson, customer, not 'bot'" in err
    )


def test_template_list(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, "template", "list")
    assert rc == 0
    assert [line.split()[0] for line in out.splitlines()] == [
        "investment_linked",
        "participating_universal",
        "traditional_life",
    ]


# --- inspect: bad input --------------------------------------------------------------------


def test_inspect_bad_input_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(policy_for("mini", "a").to_dict()), encoding="utf-8")
    junk = tmp_path / "junk.mkv"
    junk.write_text("not a video", encoding="utf-8")
    cases = [
        ((str(tmp_path / "none"),), "metadata.json not found"),
        (("--salesperson", str(junk)), "give SESSION_DIR, or --salesperson"),
        (
            (
                "--salesperson",
                str(tmp_path / "x.mkv"),
                "--customer",
                str(junk),
                "--template",
                "mini",
                "--policy",
                str(policy),
            ),
            "x.mkv not found",
        ),
        (
            (
                "--salesperson",
                str(junk),
                "--customer",
                str(junk),
                "--template",
                "nope",
                "--policy",
                str(policy),
            ),
            "template: nope",
        ),
        (
            (
                "--salesperson",
                str(junk),
                "--customer",
                str(junk),
                "--template",
                str(MINI_TEMPLATE),
                "--policy",
                str(policy),
            ),
            "cannot open media file",
        ),
    ]
    for args, reason in cases:
        rc, out, err = run(capsys, "inspect", *args)
        assert rc == 2, args
        assert out == "" and err.count("\n") == 1 and reason in err, err


# --- inspect: real sessions ----------------------------------------------------------------


@pytest.mark.slow
def test_inspect_clean_session_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    session = make_session(tmp_path, "clean", "mini", "b", seed=3)
    rc, out, err = run(
        capsys, "inspect", str(session), "--template", str(MINI_TEMPLATE), "--format", "json"
    )
    report = json.loads(out)
    assert rc == 0, report["findings"]
    assert err == ""  # no progress bar when stderr is not a terminal
    assert set(report) >= {"verdict", "duration_s", "findings", "nodes", "transcript", "timings"}
    assert report["verdict"] == "pass" and report["findings"] == []
    assert set(report["nodes"][0]) == {
        "id",
        "title",
        "covered",
        "score",
        "start_s",
        "end_s",
        "answer",
        "answer_closed_set",
    }
    assert set(report["transcript"][0]) == {
        "participant",
        "start_s",
        "end_s",
        "text",
        "confidence",
        "node",
        "uncertain",
    }
    assert report["timings"]["total"] > 0


@pytest.mark.slow
def test_inspect_pair_flagged_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    session = make_session(tmp_path, "wrong_premium", "mini", "a", seed=4)
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(json.loads((session / "metadata.json").read_text("utf-8"))["policy"]), "utf-8"
    )
    evidence = tmp_path / "ev"
    rc, out, _ = run(
        capsys,
        "inspect",
        "--salesperson",
        str(session / "salesperson-000.mkv"),
        "--customer",
        str(session / "customer-000.mkv"),
        "--template",
        str(MINI_TEMPLATE),
        "--policy",
        str(policy),
        "--markers",
        str(session / "metadata.json"),
        "--evidence-dir",
        str(evidence),
        "-o",
        str(tmp_path / "r.json"),
    )
    assert rc == 1, out
    assert out.startswith("FLAGGED") and "speech.number_mismatch" in out
    assert "15000" in out and "12000" in out
    saved = json.loads((tmp_path / "r.json").read_text("utf-8"))
    assert [f["code"] for f in saved["findings"]] == ["speech.number_mismatch"]
    assert saved["findings"][0]["evidence"]["transcript"][0]["participant"] == "salesperson"


def test_progress_bar_only_on_a_terminal() -> None:
    import io

    from inspection.cli import _Bar

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = _Bar(stream)
        bar("speech", 0.5)
        bar("rules", 1.0)
        bar.close()
    assert pipe.getvalue() == ""
    assert "50% speech" in tty.getvalue() and "100% rules" in tty.getvalue()
