"""``kesu audit verify --export`` checks evidence zips that may have been altered: whatever
their shape, the answer is a list of problems (exit 1), never a traceback, and a member
that inflates far beyond any export is not read into memory.

Before, a manifest that was a list raised AttributeError, a file entry without a name or a
manifest without ``session_id`` KeyError, an entry that was a list TypeError, 100,000 ``[``
RecursionError, and a 300 KB zip whose manifest inflated to 300 MB took 690 MB of memory
(any size: the whole member was read)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from server.audit_export import SCHEMA
from server.audit_export_verify import verify_export_report
from tests.cli_run import kesu


def _zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _manifest(**fields: object) -> str:
    return json.dumps({"schema": SCHEMA, "files": [], **fields})


AUDIT = {"audit/chain.jsonl": "", "review.json": "{}"}
CASES: dict[str, dict[str, str | bytes]] = {
    "manifest-list": {"manifest.json": "[1]"},
    "manifest-deep": {"manifest.json": "[" * 100_000 + "]" * 100_000},
    "file-without-name": {"manifest.json": _manifest(files=[{}])},
    "files-not-a-list": {"manifest.json": _manifest(files="x")},
    "no-session-id": {"manifest.json": _manifest(), "audit/entries.jsonl": "", **AUDIT},
    "entry-a-list": {
        "manifest.json": _manifest(session_id="s-0000000000000001"),
        "audit/entries.jsonl": "[1]\n",
        **AUDIT,
    },
    "entry-without-fields": {
        "manifest.json": _manifest(session_id="s-0000000000000001"),
        "audit/entries.jsonl": '{"seq": 1}\n',
        **AUDIT,
    },
    "entries-deep": {
        "manifest.json": _manifest(session_id="s-0000000000000001"),
        "audit/entries.jsonl": "[" * 100_000 + "]" * 100_000 + "\n",
        **AUDIT,
    },
    "review-not-utf8": {
        "manifest.json": _manifest(session_id="s-0000000000000001"),
        "audit/entries.jsonl": "",
        "audit/chain.jsonl": "",
        "review.json": b"\xff\xfe",
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_export_is_a_problem(tmp_path: Path, case: str) -> None:
    report = verify_export_report(_zip(tmp_path / "e.zip", CASES[case]))
    assert report.problems, case


def test_a_member_inflating_past_the_limit_is_not_read(tmp_path: Path) -> None:
    size = 65 << 20  # past MAX_JSON_MEMBER (64 MiB)
    path = _zip(tmp_path / "bomb.zip", {"manifest.json": "{" + " " * size + "}"})
    assert path.stat().st_size < size // 100
    (problem,) = verify_export_report(path).problems
    assert "larger than" in problem


def test_the_cli_says_so_without_a_traceback(tmp_path: Path) -> None:
    path = _zip(tmp_path / "e.zip", CASES["file-without-name"])
    done = kesu("audit", "verify", "--export", str(path), cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    assert "malformed" in done.stdout + done.stderr


@pytest.mark.parametrize(
    "content",
    [None, b"\xff\xfe", b"# only a comment\n", b"not-hex\n", b"abcd\n"],
    ids=["missing", "not-utf8", "empty", "not-hex", "too-short"],
)
def test_an_unusable_public_key_file_is_refused(tmp_path: Path, content: bytes | None) -> None:
    """Before, each was a traceback (FileNotFoundError, UnicodeDecodeError, ValueError)."""
    path = _zip(tmp_path / "e.zip", CASES["file-without-name"])
    key = tmp_path / "kesu-audit.pub"
    if content is not None:
        key.write_bytes(content)
    done = kesu("audit", "verify", "--export", str(path), "--public-key", str(key), cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    assert "--public-key" in done.stderr
