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
