"""deploy/compose.yaml and its Caddyfile agree with the settings and with each other (no
Docker on the test machine: parsed, not run), and the image installs the PostgreSQL extra."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.settings import setting_fields

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SETTINGS = {f"KESU_{name.upper()}" for name, _default, _help in setting_fields()}


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def _kesu_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if s.get("image") == "kesu:latest"}


def test_services_of_the_documented_deployment() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "postgres", "seaweedfs", "coturn", "migrate",
        "media1", "media2", "worker1", "worker2", "caddy",
    }  # fmt: skip
    kesu = _kesu_services(_compose())
    assert {n: s["command"][:2] for n, s in kesu.items()} == {
        "migrate": ["kesu", "migrate"],
        "media1": ["kesu", "serve"],
        "media2": ["kesu", "serve"],
        "worker1": ["kesu", "worker"],
        "worker2": ["kesu", "worker"],
    }


def test_every_kesu_variable_is_a_documented_setting() -> None:
    docs = (ROOT / "docs" / "settings.md").read_text()
    for name, service in _kesu_services(_compose()).items():
        env = service["environment"]
        unknown = {k for k in env if k.startswith("KESU_")} - SETTINGS
        assert not unknown, (name, unknown)
        assert all(f"`{k}`" in docs for k in env if k.startswith("KESU_"))
        assert env["KESU_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["KESU_STORAGE_URL"].startswith("s3://")


def test_media_nodes_and_workers_do_not_collide() -> None:
    kesu = _kesu_services(_compose())
    media = [kesu["media1"]["environment"], kesu["media2"]["environment"]]
    assert len({e["KESU_PORT"] for e in media}) == len({e["KESU_NODE_ID"] for e in media}) == 2
    assert len({e["KESU_NODE_URL"] for e in media}) == 2
    assert all(e["KESU_WORKERS"] == "0" for e in media)
    ranges = [tuple(map(int, e["KESU_RTC_UDP_PORTS"].split("-"))) for e in media]
    (a_lo, a_hi), (b_lo, b_hi) = sorted(ranges)
    assert a_hi < b_lo
    metrics = {kesu[w]["environment"]["KESU_WORKER_METRICS_PORT"] for w in ("worker1", "worker2")}
    assert len(metrics) == 2
    # One TURN secret, the one coturn checks.
    coturn = " ".join(_compose()["services"]["coturn"]["command"])
    secret = media[0]["KESU_ICE_TURN_SECRET"]
    assert f"--static-auth-secret={secret}" in coturn


def _caddy_sites() -> dict[str, str]:
    """Caddy site address -> the upstream it proxies to."""
    text = (DEPLOY / "Caddyfile").read_text()
    sites = re.findall(r"^(\{\$KESU_DOMAIN\}(?::\d+)?) \{(.*?)^\}", text, re.M | re.S)
    return {
        addr.replace("{$KESU_DOMAIN}", "${KESU_DOMAIN:?}"): re.findall(
            r"reverse_proxy (\S+)", body
        )[0]
        for addr, body in sites
    }


def test_the_proxy_reaches_each_node_at_its_node_url() -> None:
    sites = _caddy_sites()
    kesu = _kesu_services(_compose())
    for name in ("media1", "media2"):
        env = kesu[name]["environment"]
        site = env["KESU_NODE_URL"].removeprefix("https://")
        assert sites[site] == f"127.0.0.1:{env['KESU_PORT']}", (name, sites)
        assert env["KESU_HOST"] == "127.0.0.1"  # only the proxy is public


def test_image_installs_the_postgres_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(d.startswith("procrastinate") for d in extras["postgres"])
    assert 'pip install --no-cache-dir -e ".[postgres]"' in (ROOT / "Dockerfile").read_text()


def _has_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.skipif(not _has_compose(), reason="no `docker compose` on this machine")
def test_docker_compose_accepts_it() -> None:
    env = DEPLOY / "env.example"
    subprocess.run(
        ["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "--env-file", str(env), "config"],
        check=True,
        capture_output=True,
    )


# Addresses a TURN relay handed to anyone with a join link must never reach: the TURN host
# itself, the cloud metadata service, private networks, and IPv6 spellings of them.
NEVER_RELAYED = (
    "127.0.0.1", "0.0.0.0", "169.254.169.254", "10.1.2.3", "172.16.0.1", "192.168.1.1",
    "100.64.0.1", "::1", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::",
    "fd00::1", "fe80::1",
)  # fmt: skip


def _denied(ranges: list[str], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    for r in ranges:
        low, _, high = r.partition("-")
        lo, hi = ipaddress.ip_address(low), ipaddress.ip_address(high or low)
        if lo.version == ip.version and lo <= ip <= hi:  # type: ignore[operator]
            return True
    return False


def test_turn_relay_reaches_no_internal_address() -> None:
    """coturn in compose.yaml and in docs/deploy.md: the same denied ranges, covering every
    address above, and no TCP relay (failed on the old config: 127.0.0.1, 169.254.169.254,
    100.64/10 and every IPv6 form were relayed, and TCP relays allowed)."""
    (coturn,) = [s for n, s in _compose()["services"].items() if n == "coturn"]
    args = coturn["command"]
    compose = [a.removeprefix("--denied-peer-ip=") for a in args if "denied-peer-ip" in a]
    docs = re.findall(r"^denied-peer-ip=(\S+)$", (ROOT / "docs" / "deploy.md").read_text(), re.M)
    assert compose == docs
    assert [a for a in NEVER_RELAYED if not _denied(compose, a)] == []
    assert "--no-tcp-relay" in args
    assert "no-tcp-relay" in (ROOT / "docs" / "deploy.md").read_text().splitlines()
