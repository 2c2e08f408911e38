"""scripts/make_noisy_probe.py: dev sessions in chosen rooms and over a chosen Opus link."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.corpus_v2.acoustics import Network, Room
from tests.corpus_v2.build import plan_for, specs

ROOT = Path(__file__).resolve().parents[1]


def _probe() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_noisy_probe", ROOT / "scripts/make_noisy_probe.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_network_option_parses_bitrate_and_loss() -> None:
    probe = _probe()
    assert probe.parse_network("customer=24000") == (
        "customer",
        Network("probe-opus24k-loss0", 24000, 0.0),
    )
    who, net = probe.parse_network("salesperson=16000:0.02")
    assert (who, net.bitrate, net.loss) == ("salesperson", 16000, 0.02)
    for bad in (
        "caller=24000",
        "customer=24k",
        "customer=24000:0.9",
        "customer=1000",
        "customer=24000:0:1",
    ):
        with pytest.raises(argparse.ArgumentTypeError):
            probe.parse_network(bad)


def test_probe_plan_replaces_only_the_named_rooms_and_links() -> None:
    probe = _probe()
    spec = specs("dev")[0]
    _, original, _ = plan_for(spec)
    room = Room("probe-pink35", "pink", 35.0, 0.2)
    net = Network("probe-opus24k-loss0", 24000, 0.0)
    _, var, _ = probe.in_rooms(plan_for, {"customer": room}, {"salesperson": net})(spec)
    assert var.rooms == {"salesperson": original.rooms["salesperson"], "customer": room}
    assert var.networks == {"salesperson": net, "customer": original.networks["customer"]}


def test_it_refuses_anything_but_dev_sessions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    probe = _probe()
    for sessions in ("test00-", "dev00-,test03-", ","):
        with pytest.raises(SystemExit) as stop:
            probe.main(["--out", str(tmp_path), "--sessions", sessions])
        assert stop.value.code == 2
        assert "no dev session matches" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
