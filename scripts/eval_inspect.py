"""Run the inspection over a labelled corpus (scripts/make_corpus.py) and print per-code
precision and recall, the clean-pass rate and the exact-match rate.

    .venv/bin/python scripts/eval_inspect.py /tmp/corpus
    .venv/bin/python scripts/eval_inspect.py /tmp/corpus --sessions clean,gap --out /tmp/eval
    .venv/bin/python scripts/eval_inspect.py /tmp/corpus2/dev /tmp/corpus2/test --out /tmp/eval2
    .venv/bin/python scripts/eval_inspect.py /tmp/corpus2   # a root holding dev/ and test/

Several corpus directories (or a root whose sub-directories are corpora, e.g. the v2 dev and
test parts) are scored separately, one table per split, then side by side. Only the dev
split may be used for tuning (docs/corpus.md).

A session counts a code as predicted when the report has at least one finding with that
code, and as expected when ``labels.json`` lists it in ``expected_codes``. With ``--out``,
each report is saved as ``<out>/<session>.json`` and reused on the next run unless
``--fresh``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # repo root

from inspection.inputs import load_session_dir  # noqa: E402
from inspection.pipeline import Inspector  # noqa: E402
from inspection.report import FINDING_CODES, Report  # noqa: E402
from inspection.rules import Thresholds  # noqa: E402
from models.registry import ModelRegistry  # noqa: E402

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "templates"


@dataclass
class Outcome:
    session: str
    kind: str
    expected: set[str]
    predicted: set[str]
    duration_s: float
    seconds: float
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.expected == self.predicted

    @property
    def failing(self) -> set[str]:
        """Codes with at least one finding of severity ``fail``."""
        return {f["code"] for f in self.findings if f.get("severity") == "fail"}


def template_for(labels: dict[str, Any]) -> str | None:
    """The template file for sessions whose template is not built in (the mini test one)."""
    name = labels.get("template_path")
    return str(TEMPLATES_DIR / name) if name else None


def run_session(inspector: Inspector, path: Path, out: Path | None, fresh: bool) -> Outcome:
    labels = json.loads((path / "labels.json").read_text(encoding="utf-8"))
    cached = out / f"{path.name}.json" if out else None
    t0 = time.perf_counter()
    if cached is not None and cached.is_file() and not fresh:
        report = Report.from_dict(json.loads(cached.read_text(encoding="utf-8")))
    else:
        inp = load_session_dir(path, template=template_for(labels))
        if out is not None:
            inp.evidence_dir = out / "evidence" / path.name
        report = inspector.run(inp)
        if cached is not None:
            cached.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1), "utf-8")
    # Inspection time from the report itself, so reused reports keep their measured time.
    seconds = float(report.timings.get("total", time.perf_counter() - t0))
    return Outcome(
        session=path.name,
        kind=str(labels.get("kind")),
        expected=set(labels.get("expected_codes", [])),
        predicted={f.code for f in report.findings},
        duration_s=report.duration_s,
        seconds=seconds,
        findings=[f.to_dict() for f in report.findings],
    )


def score(outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    """Per code: support, tp, fp, fn, precision, recall (None when undefined)."""
    table: dict[str, dict[str, Any]] = {}
    for code in FINDING_CODES:
        tp = sum(code in o.expected and code in o.predicted for o in outcomes)
        fp = sum(code not in o.expected and code in o.predicted for o in outcomes)
        fn = sum(code in o.expected and code not in o.predicted for o in outcomes)
        table[code] = {
            "support": tp + fn,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
        }
    return table


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.2f}"


def print_table(outcomes: list[Outcome]) -> dict[str, Any]:
    table = score(outcomes)
    print(
        f"{'code':<34} {'support':>7} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}"
    )
    for code, row in table.items():
        print(
            f"{code:<34} {row['support']:>7} {row['tp']:>4} {row['fp']:>4} {row['fn']:>4} "
            f"{_pct(row['precision']):>9} {_pct(row['recall']):>7}"
        )
    clean = [o for o in outcomes if not o.expected]
    passed = sum(not o.predicted for o in clean)
    exact = sum(o.exact for o in outcomes)
    audio = sum(o.duration_s for o in outcomes)
    wall = sum(o.seconds for o in outcomes)
    print()
    print(
        f"sessions {len(outcomes)}, clean passes {passed}/{len(clean)}, exact code sets {exact}/{len(outcomes)}"
    )
    # Severity view: a `review` finding goes to a reviewer but does not fail a session on its
    # own, so how many clean sessions had no `fail`, and how many expected codes came out as
    # `fail` (strong) rather than only `review`, say how much work the inspection takes off.
    no_fail = sum(not o.failing for o in clean)
    strong = sum(len(o.expected & o.failing) for o in outcomes)
    wanted = sum(len(o.expected) for o in outcomes)
    print(
        f"clean sessions without a fail finding {no_fail}/{len(clean)}, "
        f"expected codes found as fail {strong}/{wanted}"
    )
    if audio:
        print(f"recorded {audio:.0f} s, inspected in {wall:.0f} s (RTF {wall / audio:.3f})")
    wrong = [o for o in outcomes if not o.exact]
    if wrong:
        print("\nsessions whose codes differ from the labels:")
        for o in wrong:
            missing = ", ".join(sorted(o.expected - o.predicted)) or "-"
            extra = ", ".join(sorted(o.predicted - o.expected)) or "-"
            print(f"  {o.session:<44} missed: {missing}   extra: {extra}")
    return {
        "codes": table,
        "sessions": len(outcomes),
        "clean": len(clean),
        "clean_passed": passed,
        "exact": exact,
        "clean_without_fail": no_fail,
        "expected_found_as_fail": strong,
        "rtf": wall / audio if audio else None,
    }


def _has_sessions(d: Path) -> bool:
    return any((p / "labels.json").is_file() for p in d.iterdir() if p.is_dir())


def find_splits(dirs: list[Path]) -> dict[str, Path]:
    """split name -> corpus dir; a dir without sessions is a root of corpora (dev/, test/)."""
    out: dict[str, Path] = {}
    for d in dirs:
        found = (
            [d]
            if _has_sessions(d)
            else sorted(p for p in d.iterdir() if p.is_dir() and _has_sessions(p))
        )
        for c in found:
            meta = c / "corpus.json"
            name = json.loads(meta.read_text("utf-8")).get("split") if meta.is_file() else None
            name = str(name or c.name)
            out[name if name not in out else f"{name}:{c}"] = c
    return out


def side_by_side(summaries: dict[str, dict[str, Any]]) -> None:
    """Precision/recall per code and the session rates, one column pair per split."""
    names = list(summaries)
    print("\n" + f"{'code':<34}" + "".join(f" {n[:14]:>16}" for n in names))
    print(f"{'':<34}" + "".join(f" {'P':>7} {'R':>7} " for _ in names))
    for code in FINDING_CODES:
        cells = []
        for n in names:
            row = summaries[n]["codes"][code]
            cells.append(f" {_pct(row['precision']):>7} {_pct(row['recall']):>7} ")
        print(f"{code:<34}" + "".join(cells))
    for label, key, total in (
        ("clean passes", "clean_passed", "clean"),
        ("exact", "exact", "sessions"),
    ):
        cells = [f" {summaries[n][key]:>7}/{summaries[n][total]:<7} " for n in names]
        print(f"{label:<34}" + "".join(cells))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "corpus",
        type=Path,
        nargs="+",
        help="directories of sessions made by scripts/make_corpus.py (or roots of such)",
    )
    ap.add_argument("--sessions", help="comma-separated substrings; only matching session ids")
    ap.add_argument("--limit", type=int, help="at most this many sessions")
    ap.add_argument(
        "--out", type=Path, help="save reports (and evidence) here; reused unless --fresh"
    )
    ap.add_argument("--fresh", action="store_true", help="ignore saved reports")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--thresholds", type=Path, help="JSON object overriding thresholds")
    ap.add_argument("--json", type=Path, help="write the summary table as JSON here")
    args = ap.parse_args(argv)

    splits = find_splits(args.corpus)
    if not splits:
        print(f"no labelled sessions in {args.corpus}", file=sys.stderr)
        return 2
    th = Thresholds()
    if args.thresholds:
        th = Thresholds.from_dict(json.loads(args.thresholds.read_text(encoding="utf-8")))
    inspector = Inspector(ModelRegistry.from_env(), th, threads=args.threads)
    summaries: dict[str, dict[str, Any]] = {}
    for name, corpus in splits.items():
        out = (
            args.out / name.replace(":", "_").replace("/", "_")
            if args.out and len(splits) > 1
            else args.out
        )
        if len(splits) > 1:
            print(f"\n=== {name}: {corpus}")
        summary = evaluate(inspector, corpus, out, args)
        if summary is None:
            print(f"no labelled sessions in {corpus}", file=sys.stderr)
            return 2
        summaries[name] = summary
    if len(summaries) > 1:
        side_by_side(summaries)
    if args.json:
        data = summaries if len(summaries) > 1 else next(iter(summaries.values()))
        args.json.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return 0


def evaluate(
    inspector: Inspector, corpus: Path, out: Path | None, args: argparse.Namespace
) -> dict[str, Any] | None:
    """Inspect every labelled session of one corpus directory; print and return its table."""
    sessions = sorted(p for p in corpus.iterdir() if (p / "labels.json").is_file())
    if args.sessions:
        keys = args.sessions.split(",")
        sessions = [p for p in sessions if any(k in p.name for k in keys)]
    sessions = sessions[: args.limit] if args.limit else sessions
    if not sessions:
        return None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for i, path in enumerate(sessions, 1):
        o = run_session(inspector, path, out, args.fresh)
        outcomes.append(o)
        flag = "ok " if o.exact else "ERR"
        print(
            f"[{i}/{len(sessions)}] {flag} {o.session:<44} {o.seconds:6.1f}s  "
            f"expected {sorted(o.expected)} got {sorted(o.predicted)}",
            flush=True,
        )
    print()
    summary = print_table(outcomes)
    summary["counts"] = dict(Counter(o.kind for o in outcomes))
    return summary


if __name__ == "__main__":
    sys.exit(main())
