"""JSON files handed to ``kesu inspect`` and ``kesu template check`` (a session's
``metadata.json``, ``--policy``, ``--markers``, ``--thresholds``) that are nested too deeply,
of the wrong shape or not JSON at all end in a one-line reason and exit 2, never a
traceback: before, a policy that was a list raised AttributeError, a ``metadata.json``
of 100,000 ``[`` RecursionError, a segment that was a number AttributeError."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from inspection.templates import SAMPLE_POLICY
from tests.cli_run import kesu

DEEP = "[" * 100_000 + "]" * 100_000
POLICY = json.dumps(SAMPLE_POLICY.to_dict(), ensure_ascii=False)


def refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    for word in words:
        assert word in done.stderr, done.stderr


def session_meta(**fields: Any) -> str:
    meta = {"schema": "kesu.session/1", "template_id": "traditional_life", "policy": {}}
    meta["policy"] = SAMPLE_POLICY.to_dict()
    meta.update(fields)
    return json.dumps(meta, ensure_ascii=False)


@pytest.mark.parametrize(
    "metadata",
    [
        DEEP,
        "[]",
        '"kesu.session/1"',
        session_meta(policy=[1, 2]),
        session_meta(segments=[5]),
        session_meta(segments={"file": "x.mkv"}),
        session_meta(events=["node"]),
        session_meta(gaps=[None]),
    ],
    ids=[
        "deep",
        "list",
        "string",
        "policy-list",
        "segment-number",
        "segments-object",
        "event-string",
        "gap-null",
    ],
)
def test_inspect_a_hostile_metadata_json(tmp_path: Path, metadata: str) -> None:
    sdir = tmp_path / "s"
    sdir.mkdir()
    (sdir / "metadata.json").write_text(metadata, encoding="utf-8")
    refused(kesu("inspect", str(sdir), cwd=tmp_path), "metadata.json")


@pytest.mark.parametrize(
    "policy", [DEEP, "[1, 2]", "null", "\xff"], ids=["deep", "list", "null", "not-utf8"]
)
def test_a_hostile_policy(tmp_path: Path, policy: str) -> None:
    for name in ("s.mkv", "c.mkv"):
        (tmp_path / name).write_bytes(b"\x1a\x45\xdf\xa3")
    (tmp_path / "p.json").write_text(policy, encoding="latin-1")
    pair = ("--salesperson", "s.mkv", "--customer", "c.mkv", "--template", "traditional_life")
    refused(kesu("inspect", *pair, "--policy", "p.json", cwd=tmp_path), "p.json")
    refused(
        kesu("template", "check", "traditional_life", "--policy", "p.json", cwd=tmp_path), "p.json"
    )


def policy_with(**fields: Any) -> str:
    return json.dumps({**SAMPLE_POLICY.to_dict(), **fields}, ensure_ascii=False)


# json.dumps writes float("inf") as Infinity and float("nan") as NaN, as a hand-made file may.
BAD_FIELDS = [
    (policy_with(premium=float("inf")), "premium"),
    (policy_with(premium=1).replace('"premium": 1', '"premium": 1e999'), "premium"),
    (policy_with(premium=float("nan")), "premium"),
    (policy_with(product_name=12345), "product_name"),
    (policy_with(customer_name=None), "customer_name"),
    (policy_with(payment_years="ten"), "payment_years"),
    (policy_with(premium=True), "premium"),
    (
        policy_with(
            products=[{"product_name": "主险"}, {"product_name": "附加险", "premium": 1e400}]
        ),
        "products[1].premium",
    ),
]
BAD_IDS = [
    "inf",
    "1e999",
    "nan",
    "name-number",
    "name-null",
    "years-text",
    "premium-bool",
    "rider-inf",
]


@pytest.mark.parametrize(("policy", "field"), BAD_FIELDS, ids=BAD_IDS)
def test_template_check_names_a_policy_field_of_the_wrong_type(
    tmp_path: Path, policy: str, field: str
) -> None:
    (tmp_path / "p.json").write_text(policy, encoding="utf-8")
    done = kesu("template", "check", "traditional_life", "--policy", "p.json", cwd=tmp_path)
    refused(done, "p.json", f" {field}: ")
    assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr


@pytest.mark.parametrize(("policy", "field"), BAD_FIELDS[:1] + BAD_FIELDS[3:4], ids=["inf", "name"])
def test_inspect_refuses_a_session_whose_policy_has_a_field_of_the_wrong_type(
    tmp_path: Path, policy: str, field: str
) -> None:
    sdir = tmp_path / "s"
    sdir.mkdir()
    meta = session_meta().replace(POLICY, policy)
    assert policy in meta
    (sdir / "metadata.json").write_text(meta, encoding="utf-8")
    refused(kesu("inspect", str(sdir), cwd=tmp_path), "metadata.json", f"{field}: ")


@pytest.mark.parametrize("option", ["--markers", "--thresholds"])
@pytest.mark.parametrize("content", [DEEP, '"text"', "{"])
def test_hostile_markers_and_thresholds(tmp_path: Path, option: str, content: str) -> None:
    for name in ("s.mkv", "c.mkv"):
        (tmp_path / name).write_bytes(b"\x1a\x45\xdf\xa3")
    (tmp_path / "p.json").write_text(POLICY, encoding="utf-8")
    (tmp_path / "x.json").write_text(content, encoding="utf-8")
    pair = ("--salesperson", "s.mkv", "--customer", "c.mkv", "--template", "traditional_life")
    done = kesu("inspect", *pair, "--policy", "p.json", option, "x.json", cwd=tmp_path)
    refused(done, "x.json")


@pytest.mark.parametrize("output", ["missing-dir/r.json", "."], ids=["no-directory", "a-directory"])
def test_an_unwritable_output_is_refused_before_the_run(tmp_path: Path, output: str) -> None:
    """Found before the inspection runs (minutes); the dummy recordings would be refused
    only after it started. Before, the run ended in a traceback when the report was to be
    written, and the report was lost."""
    for name in ("s.mkv", "c.mkv"):
        (tmp_path / name).write_bytes(b"\x1a\x45\xdf\xa3")
    (tmp_path / "p.json").write_text(POLICY, encoding="utf-8")
    pair = ("--salesperson", "s.mkv", "--customer", "c.mkv", "--template", "traditional_life")
    done = kesu("inspect", *pair, "--policy", "p.json", "--output", output, cwd=tmp_path)
    refused(done, "--output")
