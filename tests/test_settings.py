"""Settings: precedence, coercion, masking of secrets, and every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.settings import Settings, load_settings, setting_fields

DOCS = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name, default, help_text in setting_fields():
        # The table row: setting, variable and the default the code has (not an old one).
        shown = "(empty)" if default == "" else str(default)
        assert f"| `{name}` | `KESU_{name.upper()}` | `{shown}` |" in text, name
        assert help_text, name
    # ... and no row for a setting the code no longer has.
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| `KESU_", text, re.M)
    assert len(rows) > 50, rows  # the pattern still finds the table
    assert sorted(set(rows) - {name for name, _d, _h in setting_fields()}) == []


def test_precedence_env_then_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "k.toml"
    toml.write_text("port = 9000\nmax_sessions = 3\nrtc_loopback_only = true\n")
    s = load_settings(
        {"max_sessions": 7}, env={"KESU_PORT": "9100", "KESU_WORKERS": "0"}, toml_path=toml
    )
    assert (s.port, s.max_sessions, s.workers, s.rtc_loopback_only) == (9100, 7, 0, True)
    assert isinstance(s.data_dir, Path)


def test_bad_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="boolean"):
        load_settings(env={"KESU_SECURE_COOKIES": "maybe"})
    with pytest.raises(ValueError, match="unknown setting"):
        load_settings({"nonsense": 1}, env={})
    toml = tmp_path / "k.toml"
    toml.write_text("typo_setting = 1\n")
    with pytest.raises(ValueError, match="unknown setting"):
        load_settings(env={}, toml_path=toml)


def test_secret_is_masked_in_repr() -> None:
    s = Settings(secret_key="hunter2-very-secret")
    assert "hunter2" not in repr(s)
    assert "secret_key='***'" in repr(s)


def test_every_documented_variable_exists() -> None:
    """A ``KESU_*`` variable the README or docs/ name is a setting's, or one the code reads
    (KESU_TEMPLATES_DIR, a benchmark's or a test's): a renamed or dropped one fails here."""
    settings = {f"KESU_{name.upper()}" for name, _default, _help in setting_fields()}
    root = DOCS.parent.parent
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    named = {v for page in pages for v in re.findall(r"\bKESU_[A-Z0-9_]+", page.read_text())}
    assert len(named) > 20, named  # the pattern still finds the docs' variables
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for top in ("server", "inspection", "models", "scripts", "tests")
        for path in (root / top).rglob("*.py")
        if path != Path(__file__).resolve()  # its docstring names some
    )
    unknown = {v for v in named - settings if not re.search(rf"\b{v}\b", code)}
    assert not unknown, unknown
