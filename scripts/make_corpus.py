"""Generate the labelled synthetic corpus of recording sessions for the inspection.

Each session is a directory in the server's format (docs/session-format.md: metadata.json,
salesperson-000.mkv, customer-000.mkv, ...) plus labels.json with the expected finding codes.
Together the sessions cover clean passes and every code of inspection.report.FINDING_CODES
at least twice. Needs only committed fixtures (tests/data/tts, tests/data/faces), PyAV,
numpy, OpenCV and PIL: no TensorFlow, no network. Deterministic for a given --seed.

    .venv/bin/python scripts/make_corpus.py --out /tmp/corpus
    .venv/bin/python scripts/make_corpus.py --out /tmp/corpus --template mini --sessions clean,wrong
    .venv/bin/python scripts/make_corpus.py --list-lines > lines.txt   # texts for TTS

labels.json (schema kesu.labels/1) holds what a correct inspection reports and the ground
truth behind it: "expected_codes" (sorted, unique; [] for a clean session),
"expected_findings" [{"code", "node", "participant"}], "kind", "description",
"template_id" / "template_path" (mini.yaml in tests/data/templates), "policy", "duration_s",
"node_events" (whether metadata.json carries node markers), "video_codec", "faces",
"id_card" / "page" (what the documents show), "nodes" {id: [start_s, end_s]} and "timeline"
(every beat: kind, speaker, node, text, start_s, end_s). DIR/corpus.json indexes the run.

New lines of text (after a template change) need clips: pipe --list-lines into
``/work/ttsvenv/bin/python scripts/tts/synth.py --out tests/data/tts --lines FILE``.

v2 (``--split dev`` / ``--split test``, docs/corpus.md): sessions that can surprise the code,
built by ``tests/corpus_v2`` from wording, voices, rooms, networks and form layouts drawn
independently of the templates, in a dev part (tune on it; ``--seed`` varies it) and a
frozen test part (fixed seeds; never tune on it). Labels as above plus "split" and
"variation" (voices, rooms, networks, form layout, card pose, paraphrases used).

    .venv/bin/python scripts/make_corpus.py --split dev --out /tmp/corpus2/dev
    .venv/bin/python scripts/make_corpus.py --split test --out /tmp/corpus2/test
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # repo root: tests.*, inspection.*

from inspection.report import FINDING_CODES  # noqa: E402
from tests.corpus import all_lines, build_session, corpus_specs  # noqa: E402
from tests.corpus_media import has_clip  # noqa: E402
from tests.corpus_plan import TEMPLATE_IDS  # noqa: E402


class _Spec(Protocol):
    @property
    def session_id(self) -> str: ...


SpecT = TypeVar("SpecT", bound=_Spec)


def coverage(labels: list[dict[str, object]]) -> Counter[str]:
    """How many sessions expect each finding code ("clean" counts sessions with none)."""
    counts: Counter[str] = Counter()
    for lab in labels:
        codes = list(lab["expected_codes"])  # type: ignore[call-overload]
        counts.update(codes or ["clean"])
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, help="output directory (one sub-directory per session)")
    ap.add_argument(
        "--template",
        action="append",
        choices=TEMPLATE_IDS,
        help="only sessions of this template (repeatable; default: all)",
    )
    ap.add_argument(
        "--sessions",
        help="comma-separated substrings; only sessions whose id contains one (e.g. clean,gap)",
    )
    ap.add_argument("--limit", type=int, help="at most this many sessions")
    ap.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    ap.add_argument("--fps", type=float, default=5.0, help="video frame rate (default 5)")
    ap.add_argument("--list-lines", action="store_true", help="print every spoken line and exit")
    ap.add_argument(
        "--split",
        choices=("v1", "dev", "test"),
        default="v1",
        help="v1: the template-derived corpus (default); dev/test: the v2 corpus parts",
    )
    args = ap.parse_args(argv)

    lines = all_lines() if args.split == "v1" else v2_lines(args.split)
    if args.list_lines:
        for line in lines:
            print(line)
        return 0
    if args.out is None:
        ap.error("--out is required")
    missing = [t for t in lines if not has_clip(t)]
    if missing:
        print(f"{len(missing)} lines have no TTS clip, e.g. {missing[0]!r}", file=sys.stderr)
        print("synthesise them with scripts/tts/synth.py (see its docstring)", file=sys.stderr)
        return 2

    started = time.perf_counter()
    if args.split == "v1":
        specs = corpus_specs(args.seed, tuple(args.template or TEMPLATE_IDS))
        index = build_all(args.out, select(specs, args), build_session, _entry_v1, args.fps, 48)
        corpus: dict[str, Any] = {"seed": args.seed}
    else:
        from tests.corpus_v2.build import build_session as build_v2
        from tests.corpus_v2.build import specs as specs_v2

        chosen = select(specs_v2(args.split, args.seed), args)
        index = build_all(args.out, chosen, build_v2, _entry_v2, args.fps, 36)
        corpus = {"split": args.split, "seed": args.seed if args.split == "dev" else None}
    (args.out / "corpus.json").write_text(
        json.dumps({**corpus, "sessions": index}, ensure_ascii=False, indent=1) + "\n", "utf-8"
    )
    counts = coverage(index)
    audio_s = sum(float(e["duration_s"]) for e in index)
    print(
        f"\n{args.split}: {len(index)} sessions, {audio_s / 60:.1f} min of recording, "
        f"{sum(int(e['bytes']) for e in index) / 1e6:.0f} MB, "
        f"built in {time.perf_counter() - started:.0f} s"
    )
    for code in ("clean", *FINDING_CODES):
        print(f"  {counts.get(code, 0):3d}  {code}")
    return 0


def v2_lines(split: str) -> list[str]:
    """Every line a v2 split can speak (its sessions and its long combined sales)."""
    from tests.corpus_v2.combined import combined_lines
    from tests.corpus_v2.wording import WORDINGS

    return list(dict.fromkeys(WORDINGS[split].lines() + combined_lines(split)))


def select(specs: list[SpecT], args: argparse.Namespace) -> list[SpecT]:
    """The specs --sessions names (any substring of the id) and at most --limit of them."""
    if args.sessions:
        wanted = [w.strip() for w in args.sessions.split(",") if w.strip()]
        specs = [s for s in specs if any(w in s.session_id for w in wanted)]
    return specs[: args.limit]


def _entry_v1(spec: Any, labels: dict[str, Any]) -> dict[str, Any]:
    return {
        "session_id": spec.session_id,
        "kind": spec.kind,
        "template_id": spec.template_id,
        "expected_codes": labels["expected_codes"],
        "duration_s": labels["duration_s"],
    }


def _entry_v2(spec: Any, labels: dict[str, Any]) -> dict[str, Any]:
    return {
        "session_id": spec.session_id,
        "split": spec.split,
        "kind": spec.kind,
        "seed": spec.seed,
        "expected_codes": labels["expected_codes"],
        "duration_s": labels["duration_s"],
        "variation": labels["variation"],
    }


def build_all(
    out: Path,
    specs: list[SpecT],
    build: Callable[..., Path],
    entry: Callable[[SpecT, dict[str, Any]], dict[str, Any]],
    fps: float,
    width: int,
) -> list[dict[str, Any]]:
    """Build each session into ``out``, print a line per session; the corpus.json index."""
    out.mkdir(parents=True, exist_ok=True)
    index = []
    for spec in specs:
        t0 = time.perf_counter()
        path = build(out, spec, fps=fps)
        labels = json.loads((path / "labels.json").read_text("utf-8"))
        size = sum(p.stat().st_size for p in path.iterdir())
        build_s = time.perf_counter() - t0
        index.append({**entry(spec, labels), "bytes": size, "build_s": round(build_s, 2)})
        codes = ",".join(labels["expected_codes"]) or "clean"
        print(
            f"{spec.session_id:{width}s} {labels['duration_s']:6.1f}s {size / 1e6:5.1f} MB "
            f"{build_s:5.1f}s  {codes}",
            flush=True,
        )
    return index


if __name__ == "__main__":
    raise SystemExit(main())
