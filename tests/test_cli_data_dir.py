"""``kesu serve`` and ``kesu migrate`` given a data directory they cannot use (a file, or a
path under a file: a typo) stop with a sentence and exit 2; before, each ended in a
FileExistsError / NotADirectoryError traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_run import kesu


@pytest.mark.parametrize("command", [("migrate",), ("serve", "--port", "0", "--workers", "0")])
@pytest.mark.parametrize("where", ["a-file", "a-file/data"])
def test_a_data_dir_that_cannot_be_a_directory(
    tmp_path: Path, command: tuple[str, ...], where: str
) -> None:
    (tmp_path / "a-file").write_text("not a directory\n", encoding="utf-8")
    done = kesu(*command, "--data-dir", str(tmp_path / where), cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    assert "cannot use the data directory" in done.stderr
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "not a directory\n"


@pytest.mark.parametrize("command", [("migrate",), ("serve", "--port", "0", "--workers", "0")])
@pytest.mark.parametrize("where", ["a-dir", "no-dir", "not-a-db", "refused", "no-driver"])
def test_a_database_that_cannot_be_opened(
    tmp_path: Path, command: tuple[str, ...], where: str
) -> None:
    """A --database-url naming a directory, a file in no directory, a file that is no database, or a PostgreSQL
    server that refuses the connection, or a database without its driver: one line and exit 2, the file untouched. Before,
    each was a traceback (exit 1), from ``kesu serve`` once it was starting up."""
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "not-a-db").write_text("not a database\n" * 10, encoding="utf-8")
    url = {
        "a-dir": f"sqlite+aiosqlite:///{tmp_path / 'a-dir'}",
        "no-dir": f"sqlite+aiosqlite:///{tmp_path / 'no-dir' / 'kesu.db'}",
        "not-a-db": f"sqlite+aiosqlite:///{tmp_path / 'not-a-db'}",
        # Port 1 on loopback: nothing listens there, the connection is refused at once.
        "refused": "postgresql+asyncpg://kesu:secret@127.0.0.1:1/kesu",
        # A database whose driver is not installed: was a ModuleNotFoundError traceback.
        "no-driver": "mysql://kesu:secret@127.0.0.1:1/kesu",
    }[where]
    done = kesu(*command, "--data-dir", str(tmp_path / "data"), "--database-url", url, cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    assert f"kesu {command[0]}: cannot open the database" in done.stderr, done.stderr
    assert "secret" not in done.stderr
    # Nothing left behind: before, the data directory made for it stayed (empty).
    assert not (tmp_path / "data").exists()
    assert (tmp_path / "not-a-db").read_text(encoding="utf-8") == "not a database\n" * 10
