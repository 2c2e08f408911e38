"""Re-render dev sessions of the v2 corpus with other rooms: a dev-side probe for babble.

The dev split's rooms are pink and fan noise; the frozen test split's are babble and hum, and
the inspection's cost on a sparse customer track in babble (temperature fallback, many
regions) can only be measured on the test split otherwise. This builds dev sessions (dev
seeds, voices, wording, babble made of dev lines) with each participant's room replaced, so
speed and spurious text in babble can be tuned on dev. Never point it at the test split.

    nice -n 10 .venv/bin/python scripts/make_noisy_probe.py --out /tmp/probe \\
        --sessions dev16-,dev04- --room customer=babble:12 --room salesperson=hum:15

Session ids get a ``-probe`` suffix; labels.json keeps the dev labels (the speech is the same,
only the room differs) and records the rooms in ``variation.rooms``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # repo root: tests.*, inspection.*

import tests.corpus_v2.build as build  # noqa: E402
from tests.corpus_v2.acoustics import Room  # noqa: E402


def parse_room(text: str) -> tuple[str, Room]:
    """``customer=babble:12[:0.4]`` -> (participant, Room)."""
    who, _, spec = text.partition("=")
    parts = spec.split(":")
    if who not in ("salesperson", "customer") or len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"bad --room {text!r}: WHO=NOISE:SNR[:RT60]")
    rt60 = float(parts[2]) if len(parts) == 3 else 0.4
    return who, Room(f"probe-{parts[0]}{parts[1]}", parts[0], float(parts[1]), rt60)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--sessions", required=True, help="comma-separated dev id prefixes")
    ap.add_argument("--room", action="append", type=parse_room, default=[])
    ap.add_argument("--seed", type=int, default=0, help="dev corpus seed (default 0)")
    ap.add_argument("--fps", type=float, default=5.0)
    args = ap.parse_args(argv)
    rooms = dict(args.room)
    original = build.plan_for

    def plan_for(spec: build.SpecV2) -> tuple[Any, Any, Any]:
        plan, var, expected = original(spec)
        var.rooms.update(rooms)
        return plan, var, expected

    build.plan_for = plan_for
    wanted = [s for s in args.sessions.split(",") if s]
    for spec in build.specs("dev", args.seed):
        if any(spec.session_id.startswith(w) for w in wanted):
            probe = replace(spec, session_id=spec.session_id + "-probe")
            path = build.build_session(args.out, probe, args.fps)
            print(path, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
