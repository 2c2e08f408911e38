"""``kesu models`` refuses a models directory that is not a directory (exit 2, one line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_run import kesu


@pytest.mark.parametrize("action", ["check", "prepare"])
def test_a_missing_models_dir_is_a_usage_error(tmp_path: Path, action: str) -> None:
    missing = tmp_path / "nonexistent"
    done = kesu(
        "models",
        action,
        "--cache-dir",
        str(tmp_path / "c"),
        "--models-dir",
        str(missing),
        cwd=tmp_path,
    )
    assert done.returncode == 2, done
    assert done.stderr == f"kesu models {action}: --models-dir {missing}: no such directory\n"
    assert done.stdout == ""
    assert not missing.exists()


def test_a_file_as_models_dir_is_a_usage_error(tmp_path: Path) -> None:
    file = tmp_path / "models.txt"
    file.write_text("not a directory")
    done = kesu("models", "check", "--models-dir", str(file), cwd=tmp_path)
    assert done.returncode == 2, done
    assert done.stderr == f"kesu models check: --models-dir {file}: not a directory\n"


def test_a_missing_models_dir_from_the_environment_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from models import cli

    missing = tmp_path / "gone"
    monkeypatch.setenv("KESU_MODELS_DIR", str(missing))
    assert cli.main(["check", "--cache-dir", str(tmp_path / "c")]) == 2
    assert (
        capsys.readouterr().err
        == f"kesu models check: KESU_MODELS_DIR {missing}: no such directory\n"
    )
