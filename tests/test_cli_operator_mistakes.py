"""An operator's slips at the command line are one line and exit 2, with nothing made or
changed: a port out of range or in use, a host that does not resolve, numbers no setting can
take, an empty ``--password`` (e.g. an unset shell variable), a models cache that is a file.
Before, the first three were tracebacks from ``kesu serve`` after it had made its data
directory and started its workers, ``--workers 100000000`` spawned processes until the
kernel killed it, and ``kesu user passwd NAME --password ""`` printed "password set" while
a random password nobody was shown replaced the old one and ended every login."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from server.settings import load_settings
from tests.cli_run import kesu
from tests.conftest import PASSWORD
from tests.corpus_plan import MINI_TEMPLATE, policy_for


def _serve(tmp_path: Path, *args: str) -> tuple[int, str, Path]:
    data = tmp_path / "data"
    done = kesu("serve", "--data-dir", str(data), "--workers", "0", *args, cwd=tmp_path)
    return done.returncode, done.stderr, data


@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_a_port_out_of_range_is_refused_before_anything_is_made(tmp_path: Path, port: str) -> None:
    code, err, data = _serve(tmp_path, "--port", port)
    assert "Traceback" not in err, err
    assert code == 2, err
    assert f"setting port: {port} is out of range (must be from 0 to 65535)" in err
    assert not data.exists()


def test_a_port_in_use_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err, data = _serve(tmp_path, "--host", "127.0.0.1", "--port", str(port))
    assert "Traceback" not in err, err
    assert code == 2, err
    assert f"kesu serve: cannot listen on 127.0.0.1:{port}: Address already in use" in err
    assert not data.exists()


# A name IDNA cannot encode (an empty label, one over 63 characters, bytes that are not
# UTF-8) was a UnicodeError traceback from getaddrinfo.
@pytest.mark.parametrize("host", ["no-such-host.invalid", "a..b", "a" * 64, "kesu\udcff"])
def test_a_host_that_does_not_resolve_is_refused(tmp_path: Path, host: str) -> None:
    code, err, data = _serve(tmp_path, "--host", host, "--port", "0")
    assert "Traceback" not in err, err
    assert code == 2, err
    assert "cannot listen on " in err and ":0: unknown host" in err
    assert not data.exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("workers", "100000000"),
        ("workers", "-5"),
        ("worker_threads", "1000"),
        ("live_processes", "1000"),
        ("login_hash_concurrency", "0"),
        ("login_hash_niceness", "-5"),
        ("review_sample_rate", "1.5"),
        ("max_sessions", "-1"),
        ("max_body_bytes", "-1"),
        ("body_timeout_s", "-0.5"),
        ("worker_metrics_port", "70000"),
        ("node_heartbeat_s", "0.0"),
    ],
)
def test_numbers_out_of_range_are_refused(name: str, value: str) -> None:
    # Settings only: on the old code 100000000 workers would really be spawned.
    with pytest.raises(ValueError, match=f"setting {name}: .* is out of range"):
        load_settings(env={f"KESU_{name.upper()}": value})
    with pytest.raises(ValueError, match=f"setting {name}: .* is out of range"):
        load_settings({name: float(value) if "." in value else int(value)}, env={})


def test_bounds_themselves_still_load() -> None:
    s = load_settings(
        env={
            "KESU_PORT": "65535",
            "KESU_WORKERS": "0",
            "KESU_LOGIN_HASH_NICENESS": "19",
            "KESU_REVIEW_SAMPLE_RATE": "1",
            "KESU_MAX_SESSIONS": "0",
        }
    )
    assert (s.port, s.workers, s.login_hash_niceness, s.review_sample_rate) == (65535, 0, 19, 1)


def test_an_empty_password_is_refused_not_replaced(tmp_path: Path) -> None:
    common = ("--data-dir", str(tmp_path / "data"))
    assert kesu("migrate", *common, cwd=tmp_path).returncode == 0
    done = kesu(
        "user", "add", "li", "--role", "salesperson", "--password", "", *common, cwd=tmp_path
    )
    assert (done.returncode, done.stdout) == (2, ""), done
    assert "password must have at least 8 characters" in done.stderr
    assert "li" not in kesu("user", "list", *common, cwd=tmp_path).stdout
    made = kesu(
        "user", "add", "li", "--role", "salesperson", "--password", PASSWORD, *common, cwd=tmp_path
    )  # fmt: skip
    assert made.returncode == 0, made
    done = kesu("user", "passwd", "li", "--password", "", *common, cwd=tmp_path)
    assert done.returncode == 2, done
    assert "password must have at least 8 characters" in done.stderr
    assert "password set" not in done.stdout


def test_a_file_as_the_models_cache_is_a_usage_error(tmp_path: Path) -> None:
    file = tmp_path / "cache.txt"
    file.write_text("not a directory")
    for action, cache in (("prepare", file), ("check", file / "below")):
        done = kesu("models", action, "--cache-dir", str(cache), cwd=tmp_path)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == 2, done
        assert done.stderr == (
            f"kesu models {action}: --cache-dir {cache}: {file} is not a directory\n"
        )


def test_inspect_arguments_that_cannot_make_a_run_are_refused_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused before the run, which takes minutes: a file as ``--evidence-dir`` (or above
    it) was a traceback at its end once a finding had a thumbnail to save, and its report
    was lost; a file as ``--models-dir`` was ignored; ``--threads 0`` or ``-3`` taken as 1."""
    from inspection.cli import main

    junk = tmp_path / "junk.mkv"
    junk.write_text("not a video", encoding="utf-8")
    file = tmp_path / "file.txt"
    file.write_text("x", encoding="utf-8")
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(policy_for("mini", "a").to_dict()), encoding="utf-8")
    pair = ("--salesperson", str(junk), "--customer", str(junk), "--template", str(MINI_TEMPLATE))
    pair += ("--policy", str(policy))
    cases = [
        (("--evidence-dir", str(file)), f"--evidence-dir {file}: {file} is not a directory"),
        (("--evidence-dir", str(file / "ev")), f"--evidence-dir {file / 'ev'}: {file} is not a"),
        (("--models-dir", str(file)), f"--models-dir {file}: not a directory"),
        (("--models-dir", str(tmp_path / "none")), "no such directory"),
        (("--threads", "0"), "--threads 0: must be from 1 to 64"),
        (("--threads", "-3"), "--threads -3: must be from 1 to 64"),
        (("--threads", "100000"), "--threads 100000: must be from 1 to 64"),
    ]
    for extra, reason in cases:
        code = main(["inspect", *pair, *extra])
        out, err = capsys.readouterr()
        assert code == 2, (extra, err)
        assert out == "" and reason in err and err.count("\n") == 1, (extra, err)


def test_a_password_typed_with_dash_in_add_and_passwd(tmp_path: Path) -> None:
    """``--password -`` reads the password: with standard input closed ``add`` was an
    EOFError traceback; ``passwd`` took ``-`` itself for the password."""
    common = ("--data-dir", str(tmp_path / "data"))
    assert kesu("migrate", *common, cwd=tmp_path).returncode == 0
    add = ("user", "add", "li", "--role", "salesperson", "--password", "-", *common)
    done = kesu(*add, cwd=tmp_path, stdin="")
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done
    assert "--password -: no password could be read (standard input closed)" in done.stderr
    assert "li" not in kesu("user", "list", *common, cwd=tmp_path).stdout
    done = kesu(*add, cwd=tmp_path, stdin="tall-ferry-47\n")
    assert done.returncode == 0, done
    passwd = ("user", "passwd", "li", "--password", "-", *common)
    done = kesu(*passwd, cwd=tmp_path, stdin="quiet-harbour-58\n")
    assert done.returncode == 0, done
    assert "password set" in done.stdout
    done = kesu(*passwd, cwd=tmp_path, stdin="")
    assert done.returncode == 2 and "no password could be read" in done.stderr, done


@pytest.mark.parametrize("content", [b'{"port": 8080}\n', b"\xff\xfe\x00port = 1\n"])
def test_a_config_that_is_not_toml_is_named(tmp_path: Path, content: bytes) -> None:
    config = tmp_path / "kesu.toml"
    config.write_bytes(content)
    done = kesu("user", "list", "--config", str(config), "--data-dir", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2, done
    assert f"kesu user: {config}: not a TOML file: " in done.stderr, done.stderr


def test_a_worker_metrics_port_in_use_is_refused(tmp_path: Path) -> None:
    common = ("--data-dir", str(tmp_path / "data"))
    assert kesu("migrate", *common, cwd=tmp_path).returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = kesu(
            "worker", *common, "--config", str(_config(tmp_path, port)), cwd=tmp_path
        )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done
    assert f"kesu worker: cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr


def _config(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "worker.toml"
    config.write_text(f"worker_metrics_port = {port}\n", encoding="utf-8")
    return config


def test_a_directory_given_as_the_template_file_is_named_so(tmp_path: Path) -> None:
    """Before: "no such file" about a path that exists (a folder)."""
    (tmp_path / "templates").mkdir()
    done = kesu("template", "check", str(tmp_path / "templates"), cwd=tmp_path)
    assert done.returncode == 2, done
    assert "is a directory, not a template file" in done.stderr, done.stderr
    assert "no such file" not in done.stderr


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("--config", "--config is empty: give a TOML file, or leave --config out"),
        ("--data-dir", "setting data_dir: empty; give a directory"),
    ],
)
def test_an_empty_config_or_data_dir_is_refused(tmp_path: Path, option: str, said: str) -> None:
    """An unset shell variable (``--data-dir "$DATA"``): before, an empty --config was no
    config (the defaults, silently) and an empty --data-dir the working directory, where
    ``kesu migrate`` made its database."""
    done = kesu("migrate", option, "", cwd=tmp_path)
    assert done.returncode == 2, done
    assert done.stderr.strip() == f"kesu migrate: {said}", done.stderr
    assert list(tmp_path.iterdir()) == []
