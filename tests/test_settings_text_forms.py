"""Settings that are text with a form of their own (log level and format, rate limits, URLs,
the UDP port range, IP addresses) are checked when the settings load: a malformed one is one
line naming the setting and exit 2, before the data directory or the database is made.
Before, ``kesu serve`` made both and then died in a ValueError traceback, and ``kesu
migrate`` went on as if nothing were wrong (``public_url = "example.com"``: join links that
led nowhere)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.settings import load_settings
from tests.cli_run import kesu

BAD = {
    "log_level": "LOUD",
    "log_format": "xml",
    "login_account_limits": "lots",
    "login_address_limits": "1/fortnight",
    "review_judge_limits": "",
    "retention_hold_limits": "x",
    "public_url": "example.com",
    "node_url": "ftp://node.example.com",
    "storage_endpoint": "minio:9000",
    "storage_url": "ftp://archive",
    "rtc_udp_ports": "9-2",
    "rtc_host_addresses": "192.0.2.10,eth0",
    "ice_stun_urls": "http://stun.example.com",
    "ice_turn_urls": "turn:",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_malformed_text_setting_is_refused_before_anything_is_made(
    tmp_path: Path, name: str
) -> None:
    config = tmp_path / "kesu.toml"
    config.write_text(f"{name} = {json.dumps(BAD[name])}\n", encoding="utf-8")
    data = tmp_path / "data"
    done = kesu("migrate", "--config", str(config), "--data-dir", str(data), cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done
    assert f"kesu migrate: setting {name}: " in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not data.exists()


def test_a_storage_url_naming_no_bucket_or_a_missing_directory(tmp_path: Path) -> None:
    for url in ("s3://", f"file://{tmp_path / 'missing'}"):
        with pytest.raises(ValueError, match="setting storage_url: "):
            load_settings(env={"KESU_STORAGE_URL": url})


def test_well_formed_text_settings_still_load(tmp_path: Path) -> None:
    env = {
        "KESU_LOG_LEVEL": "warn",
        "KESU_LOG_FORMAT": "json",
        "KESU_LOGIN_ACCOUNT_LIMITS": "5/minute;20/hour",
        "KESU_PUBLIC_URL": "https://kesu.example.com/",
        "KESU_NODE_URL": "http://10.0.0.2:8080",
        "KESU_STORAGE_ENDPOINT": "http://127.0.0.1:9000",
        "KESU_STORAGE_URL": tmp_path.as_uri(),
        "KESU_RTC_UDP_PORTS": "50000-50199",
        "KESU_RTC_HOST_ADDRESSES": "192.0.2.10, 2001:db8::1",
        "KESU_ICE_STUN_URLS": "stun:turn.example.com:3478",
        "KESU_ICE_TURN_URLS": "turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349",
    }
    settings = load_settings(env=env)
    assert settings.rtc_udp_ports == "50000-50199"
    assert load_settings(env={"KESU_STORAGE_URL": "s3://bucket/prefix"}).storage_url
