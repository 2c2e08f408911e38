"""Settings of the wrong type or shape, from a ``--config`` TOML file or a ``KESU_*``
variable, are refused with a sentence naming the setting (``kesu ...`` exit 2), never taken
as they are or ended in a traceback. Before, ``port = [1]`` reached the listening socket
(``OSError: Int or String expected``) and ``max_sessions = [1]`` a TypeError traceback from
``kesu serve`` (after making its data directory), ``secure_cookies = 1`` or
``max_sessions = 2.5`` were kept as given, ``KESU_SESSION_COOKIE_HOURS=nan`` was a login
that never expired, and a TOML file nested 100,000 levels deep was a RecursionError."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import load_settings
from tests.cli_run import kesu


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("port = [1]", "port"),
        ("port = 80.5", "port"),
        ("port = true", "port"),
        ("secure_cookies = 1", "secure_cookies"),
        ("secure_cookies = {a = 1}", "secure_cookies"),
        ("max_sessions = 2.5", "max_sessions"),
        ("session_cookie_hours = nan", "session_cookie_hours"),
        ("body_timeout_s = inf", "body_timeout_s"),
        ("body_timeout_s = false", "body_timeout_s"),
        ("data_dir = 5", "data_dir"),
        ("host = 5", "host"),
        ("log_level = ['INFO']", "log_level"),
    ],
)
def test_a_toml_value_of_the_wrong_type(tmp_path: Path, line: str, name: str) -> None:
    toml = tmp_path / "k.toml"
    toml.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"setting {name}:"):
        load_settings(toml_path=toml, env={})


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("KESU_PORT", "abc"),
        ("KESU_MAX_SESSIONS", "1e3"),
        ("KESU_SESSION_COOKIE_HOURS", "nan"),
        ("KESU_BODY_TIMEOUT_S", "-inf"),
        ("KESU_SECURE_COOKIES", "maybe"),
    ],
)
def test_an_environment_value_of_the_wrong_type(var: str, value: str) -> None:
    name = var.removeprefix("KESU_").lower()
    with pytest.raises(ValueError, match=f"setting {name}:"):
        load_settings(env={var: value})


def test_numbers_and_booleans_as_written_still_load(tmp_path: Path) -> None:
    toml = tmp_path / "k.toml"
    toml.write_text(
        "port = 9000\nsession_cookie_hours = 8\nbody_timeout_s = 12.5\nsecure_cookies = true\n"
        'data_dir = "/srv/kesu"\n',
        encoding="utf-8",
    )
    s = load_settings(toml_path=toml, env={"KESU_REJOIN_WINDOW_S": "60", "KESU_WORKERS": "0"})
    assert (s.port, s.session_cookie_hours, s.body_timeout_s) == (9000, 8.0, 12.5)
    assert s.secure_cookies is True and s.data_dir == Path("/srv/kesu")
    assert s.rejoin_window_s == 60.0 and s.workers == 0
    assert isinstance(s.session_cookie_hours, float)


@pytest.mark.parametrize(
    "text",
    ["max_sessions = [1]\n", "a = " + "[" * 100_000 + "]" * 100_000 + "\n"],
    ids=["wrong-type", "deep"],
)
def test_kesu_serve_refuses_the_file_without_a_traceback(tmp_path: Path, text: str) -> None:
    toml = tmp_path / "k.toml"
    toml.write_text(text, encoding="utf-8")
    data = tmp_path / "data"
    done = kesu(
        "serve", "--config", str(toml), "--data-dir", str(data), "--port", "0", "--workers", "0",
        cwd=tmp_path,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    assert not data.exists()
