"""Re-render dev sessions of the v2 corpus with other rooms: a dev-side probe for babble.

The dev split's rooms are pink and fan noise; the frozen test split's are babble and hum, and
the inspection's cost on a sparse customer track in babble (temperature fallback, many
regions) can only be measured on the test split otherwise. This builds dev sessions (dev
seeds, voices, wording, babble made of dev lines) with each participant's room replaced, so
speed and spurious text in babble can be tuned on dev. Never point it at the test split.

    nice -n 10 .venv/bin/python scripts/make_noisy_probe.py --out /tmp/probe \\
        --sessions dev16-,dev04- --room customer=babble:12 --room salesperson=hum:15 \\
        --network customer=24000:0.01

Session ids get a ``-probe`` suffix; labels.json keeps the dev labels (the speech is the same,
only the room and the link differ) and records the rooms in ``variation.rooms`` and the
Opus links in ``variation.networks``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # repo root: tests.*, inspection.*

import tests.corpus_v2.build as build  # noqa: E402
from tests.corpus_plan import Plan  # noqa: E402
from tests.corpus_v2.acoustics import Network, Room  # noqa: E402
from tests.corpus_v2.plan import Variation  # noqa: E402

PlanFor = Callable[[build.SpecV2], tuple[Plan, Variation, list[dict[str, Any]]]]


def parse_room(text: str) -> tuple[str, Room]:
    """``customer=babble:12[:0.4]`` -> (participant, Room)."""
    who, _, spec = text.partition("=")
    parts = spec.split(":")
    if who not in ("salesperson", "customer") or len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"bad --room {text!r}: WHO=NOISE:SNR[:RT60]")
    rt60 = float(parts[2]) if len(parts) == 3 else 0.4
    return who, Room(f"probe-{parts[0]}{parts[1]}", parts[0], float(parts[1]), rt60)


def parse_network(text: str) -> tuple[str, Network]:
    """``customer=24000[:0.01]`` -> (participant, Network): Opus bit rate, packet loss 0..0.5."""
    who, _, spec = text.partition("=")
    parts = spec.split(":")
    try:
        bitrate = int(parts[0])
        loss = float(parts[1]) if len(parts) == 2 else 0.0
    except ValueError:
        bitrate, loss = 0, -1.0
    if who not in ("salesperson", "customer") or len(parts) > 2:
        raise argparse.ArgumentTypeError(f"bad --network {text!r}: WHO=BITRATE[:LOSS]")
    # libopus accepts 6-510 kbit/s; more than half the packets lost is no call.
    if not 6000 <= bitrate <= 510000 or not 0.0 <= loss <= 0.5:
        raise argparse.ArgumentTypeError(
            f"bad --network {text!r}: bit rate 6000-510000 bit/s, loss 0-0.5"
        )
    return who, Network(f"probe-opus{bitrate // 1000}k-loss{loss:g}", bitrate, loss)


def in_rooms(plan_for: PlanFor, rooms: dict[str, Room], networks: dict[str, Network]) -> PlanFor:
    """``plan_for`` with the given participants' rooms and Opus links replaced."""

    def probe_plan_for(spec: build.SpecV2) -> tuple[Plan, Variation, list[dict[str, Any]]]:
        plan, var, expected = plan_for(spec)
        var.rooms.update(rooms)
        var.networks.update(networks)
        return plan, var, expected

    return probe_plan_for


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sessions", required=True, help="comma-separated dev id prefixes")
    ap.add_argument("--room", action="append", type=parse_room, default=[])
    ap.add_argument(
        "--network",
        action="append",
        type=parse_network,
        default=[],
        help="WHO=BITRATE[:LOSS], e.g. customer=24000:0.01 (default: the dev session's own)",
    )
    ap.add_argument("--seed", type=int, default=0, help="dev corpus seed (default 0)")
    ap.add_argument("--fps", type=float, default=5.0)
    args = ap.parse_args(argv)
    probe_plan = in_rooms(build.plan_for, dict(args.room), dict(args.network))

    def plan_for(spec: build.SpecV2) -> tuple[Plan, Variation, list[dict[str, Any]]]:
        return probe_plan(spec)

    build.plan_for = plan_for  # build_session plans through the module's plan_for
    wanted = [s for s in args.sessions.split(",") if s]
    dev = build.specs("dev", args.seed)
    # Only dev sessions are ever built: a prefix that names none (test00-, a typo) is an error,
    # not an empty probe.
    unknown = [w for w in wanted if not any(s.session_id.startswith(w) for s in dev)]
    if unknown or not wanted:
        ap.error(f"no dev session matches {', '.join(unknown) or '(none given)'}")
    for spec in dev:
        if any(spec.session_id.startswith(w) for w in wanted):
            probe = replace(spec, session_id=spec.session_id + "-probe")
            path = build.build_session(args.out, probe, args.fps)
            print(path, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
