"""`kesu audit export -o OUT` where OUT cannot be the zip: a clear refusal (exit 2), and no
copy of the session's recordings left behind. Before, `-o` naming a directory wrote the
whole zip beside it as `.NAME.tmp`, then failed to rename it: an IsADirectoryError
traceback (exit 1) and the evidence zip left on disk; a `-o` under a file was a
FileExistsError traceback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.audit_export import _write_zip
from server.cli import main
from server.store.models import AuditEntry
from tests.audit_cli import settle
from tests.conftest import RunningServer
from tests.review_fixtures import build_session


async def test_an_output_that_cannot_be_the_zip_is_refused_and_nothing_stays(
    server: RunningServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    built = await build_session(server.ctx)
    await settle(server)
    data_dir = str(server.ctx.settings.data_dir)
    place = tmp_path / "place"
    out_dir = place / "out"
    out_dir.mkdir(parents=True)
    a_file = place / "a-file"
    a_file.write_text("x")
    for out, reason in ((out_dir, "is a directory"), (a_file / "e.zip", "cannot write")):
        argv = ["audit", "export", built.id, "-o", str(out), "--data-dir", data_dir]
        code = await asyncio.to_thread(main, argv)
        err = capsys.readouterr().err
        assert code == 2, (out, code, err)
        assert f"-o {out}: {reason}" in err and "Traceback" not in err, err
    assert sorted(p.name for p in place.iterdir()) == ["a-file", "out"]
    assert list(out_dir.iterdir()) == []


def test_a_zip_that_cannot_be_put_in_place_leaves_no_temporary_file(tmp_path: Path) -> None:
    session_dir = tmp_path / "s"
    session_dir.mkdir()
    (session_dir / "metadata.json").write_text("{}")
    taken = tmp_path / "taken"
    (taken / "inside").mkdir(parents=True)  # the rename onto it fails
    with pytest.raises(OSError):
        _write_zip(taken, session_dir, {"review.json": b"{}"}, {"schema": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s", "taken"]


async def test_an_output_in_a_missing_directory_is_refused_and_none_is_made(
    server: RunningServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Before, `-o /missing/dir/x.zip` made every missing folder and wrote the zip there:
    a mistyped path put the customer's recordings somewhere nobody looks."""
    built = await build_session(server.ctx)
    await settle(server)
    data_dir = str(server.ctx.settings.data_dir)
    place = tmp_path / "place"
    place.mkdir()
    out = place / "missing" / "dir" / "x.zip"
    argv = ["audit", "export", built.id, "-o", str(out), "--data-dir", data_dir]
    code = await asyncio.to_thread(main, argv)
    captured = capsys.readouterr()
    assert code == 2, (code, captured)
    assert captured.err == f"kesu audit: -o {out}: no directory {out.parent}\n", captured
    assert list(place.iterdir()) == []
    async with server.ctx.db.read() as s:
        exports = await s.scalar(
            select(func.count(AuditEntry.seq)).where(AuditEntry.action == "session.export")
        )
    assert exports == 0
