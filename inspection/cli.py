"""``kesu inspect`` and ``kesu template``: the command line of the inspection.

Exit codes of ``inspect``: 0 pass, 1 flagged, 2 bad input (one-line reason on stderr).
Run standalone with ``python -m inspection.cli``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from inspection.report import Report

if TYPE_CHECKING:
    from inspection.templates import DurationEstimate

EXIT_PASS, EXIT_FLAGGED, EXIT_INPUT = 0, 1, 2


def add_parsers(subparsers: Any) -> None:
    """Add ``inspect`` and ``template`` to an argparse sub-parser set."""
    p = subparsers.add_parser(
        "inspect",
        help="inspect a recorded session (exit 0 pass, 1 flagged, 2 bad input)",
        description="Inspect a session directory written by the server, or a pair of "
        "recordings with a template and policy data.",
    )
    p.add_argument("session_dir", nargs="?", type=Path, help="session directory with metadata.json")
    p.add_argument(
        "--salesperson",
        type=Path,
        action="append",
        default=[],
        help="salesperson recording (repeat for segments in order)",
    )
    p.add_argument(
        "--customer",
        type=Path,
        action="append",
        default=[],
        help="customer recording (repeat for segments in order)",
    )
    p.add_argument(
        "--template", help="built-in template id or a template YAML file (overrides the session's)"
    )
    p.add_argument(
        "--policy", type=Path, help="policy data JSON (fields of inspection.policy.Policy)"
    )
    p.add_argument(
        "--markers", type=Path, help="node markers JSON: [{node, t_s}] or a metadata.json"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--evidence-dir",
        type=Path,
        help="where to save evidence thumbnails (default: SESSION_DIR/evidence; none for a pair)",
    )
    p.add_argument("--threads", type=int, default=2, help="CPU threads per model (default 2)")
    p.add_argument(
        "--thresholds", type=Path, help="JSON object overriding thresholds (see docs/inspection.md)"
    )
    p.add_argument(
        "--models-dir",
        type=Path,
        default=None,
        help="local model override directory (KESU_MODELS_DIR)",
    )
    p.add_argument("--output", "-o", type=Path, help="also write the JSON report to this file")
    p.set_defaults(func=cmd_inspect)

    t = subparsers.add_parser("template", help="check or list script templates")
    tsub = t.add_subparsers(dest="template_cmd", required=True)
    c = tsub.add_parser("check", help="validate a template file and estimate its spoken duration")
    c.add_argument("file", help="template YAML file or built-in id")
    c.add_argument(
        "--policy",
        type=Path,
        help="policy JSON to render with (default: a sample policy); a combined sale lists "
        "its products, each optionally with its own template_id (built-in id, or a file "
        "beside the policy)",
    )
    c.set_defaults(func=cmd_template_check)
    ls = tsub.add_parser("list", help="list the built-in templates")
    ls.set_defaults(func=cmd_template_list)


# ---------------------------------------------------------------------------------------------
# inspect


class _Bar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.last = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.2 and fraction < 1.0):
            return
        self.last = now
        width = 30
        filled = int(width * fraction)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%} {stage:<10}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def _fail(reason: str) -> int:
    print(f"kesu inspect: {reason}", file=sys.stderr)
    return EXIT_INPUT


def _build_input(args: argparse.Namespace) -> Any:
    from inspection.inputs import InputError, load_session_dir, make_input

    if args.session_dir is not None:
        if args.salesperson or args.customer or args.policy:
            raise InputError(
                "give either SESSION_DIR or --salesperson/--customer/--policy, not both"
            )
        return load_session_dir(
            args.session_dir, evidence_dir=args.evidence_dir, template=args.template
        )
    if not (args.salesperson or args.customer) or not args.template or not args.policy:
        raise InputError(
            "give SESSION_DIR, or --salesperson A --customer B --template T --policy P.json"
        )
    return make_input(
        args.salesperson, args.customer, args.template, args.policy, args.markers, args.evidence_dir
    )


def _thresholds(path: Path | None) -> Any:
    from inspection.inputs import InputError, json_object
    from inspection.rules import Thresholds

    if path is None:
        return Thresholds()
    data = json_object(path)
    try:
        return Thresholds.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise InputError(f"--thresholds {path}: {exc}") from None


def cmd_inspect(args: argparse.Namespace) -> int:
    """Run the inspection and print the report."""
    from inspection.inputs import InputError
    from inspection.pipeline import Inspector
    from models.errors import ModelError
    from models.registry import ModelRegistry, default_cache_dir

    if (problem := _argument_problem(args)) is not None:
        return _fail(problem)
    try:
        inp = _build_input(args)
        thresholds = _thresholds(args.thresholds)
    except InputError as exc:
        return _fail(str(exc))
    override = args.models_dir or (
        Path(os.environ["KESU_MODELS_DIR"]) if os.environ.get("KESU_MODELS_DIR") else None
    )
    inspector = Inspector(
        ModelRegistry(default_cache_dir(), override), thresholds, threads=args.threads
    )
    bar = _Bar(sys.stderr)
    try:
        report = inspector.run(inp, progress=bar)
    except InputError as exc:
        bar.close()
        return _fail(str(exc))
    except ModelError as exc:
        bar.close()
        print(f"kesu inspect: model problem: {exc}", file=sys.stderr)
        return EXIT_INPUT
    bar.close()
    data = report.to_dict()
    # Printed before the file is written: a run of minutes is never lost to a bad --output.
    if args.format == "json":
        print(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        print(format_text(report))
    if args.output:
        try:
            write_report(args.output, data)
        except OSError as exc:
            return _fail(f"--output {args.output}: {exc.strerror or exc} (report printed above)")
    return EXIT_PASS if report.verdict == "pass" else EXIT_FLAGGED


def write_report(path: Path, data: dict[str, Any]) -> None:
    """Write the JSON report to ``path`` (``--output``) whole or not at all: before, a full
    disk or a kill mid-write left a truncated report in place of the one a run had written."""
    from models.durable_write import atomic_write

    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))


#: Most CPU threads per model: as many as the ``worker_threads`` setting allows.
MAX_THREADS = 64


def _argument_problem(args: argparse.Namespace) -> str | None:
    """Why the arguments cannot make a run, found before it runs (minutes)."""
    if not 1 <= args.threads <= MAX_THREADS:
        # 0 and negatives were taken as 1; 100,000 asked onnxruntime for that many threads.
        return f"--threads {args.threads}: must be from 1 to {MAX_THREADS}"
    if args.models_dir is not None and not args.models_dir.is_dir():
        # As ``kesu models``: otherwise every model is the packaged one, hiding the typo.
        what = "not a directory" if args.models_dir.exists() else "no such directory"
        return f"--models-dir {args.models_dir}: {what}"
    return _evidence_problem(args.evidence_dir) or _output_problem(args.output)


def _evidence_problem(path: Path | None) -> str | None:
    """Why ``--evidence-dir`` cannot hold thumbnails: a file there or above it was a
    FileExistsError / NotADirectoryError traceback at the end of a run that found
    something to show, and its report was lost."""
    if path is None:
        return None
    for here in (path, *path.parents):
        if here.exists():
            if not here.is_dir():
                return f"--evidence-dir {path}: {here} is not a directory"
            return None
    return None


def _output_problem(path: Path | None) -> str | None:
    """Why ``--output`` cannot be written, found before the inspection runs (minutes):
    before, a missing directory ended the run in a traceback and lost its report."""
    if path is None:
        return None
    if path.is_dir():
        return f"--output {path}: is a directory"
    if not path.parent.is_dir():
        return f"--output {path}: no directory {path.parent}"
    return None


def _t(x: float | None) -> str:
    if x is None:
        return "   -  "
    m, s = divmod(x, 60)
    return f"{int(m):02d}:{s:04.1f}"


def format_text(report: Report) -> str:
    """A readable summary: verdict, findings with times, node coverage, timings."""
    verdict = "PASS 通过" if report.verdict == "pass" else "FLAGGED 需复核"
    tpl = report.meta.get("template", {})
    lines = [
        f"{verdict}  ({len(report.findings)} findings, {report.duration_s:.1f} s recorded, "
        f"template {tpl.get('id')} v{tpl.get('version')})",
    ]
    if report.findings:
        lines.append("")
        lines.append("Findings:")
        for f in report.findings:
            where = " ".join(x for x in (f.participant or "", f"[{f.node}]" if f.node else "") if x)
            lines.append(f"  {f.severity:<6} {_t(f.start_s)}  {f.code:<32} {where}")
            lines.append(f"         {f.message}")
            if f.evidence.get("frame"):
                lines.append(f"         frame: {f.evidence['frame']}")
    lines.append("")
    lines.append("Script:")
    for n in report.nodes:
        mark = "✓" if n.covered else "✗"
        answer = f"  answer: {n.answer}" if n.answer else ""
        score = f"{n.score:.2f}" if n.score is not None else "  - "
        lines.append(f"  {mark} {_t(n.start_s)}  {score}  {n.id:<28} {n.title}{answer}")
    total = report.timings.get("total")
    if total:
        stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items() if k != "total")
        rtf = total / report.duration_s if report.duration_s else 0.0
        lines.append("")
        lines.append(f"Time: {total:.1f} s (RTF {rtf:.3f}): {stages}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# template


def cmd_template_check(args: argparse.Namespace) -> int:
    """Validate a template; print line-numbered problems or the duration estimate, per
    product for a combined sale."""
    from inspection.inputs import InputError, json_object, product_template_ref
    from inspection.playback import PlaybackError, playback_durations
    from inspection.policy import Policy
    from inspection.templates import TemplateError, estimate_duration, load_template, template_ref

    try:
        tpl = load_template(template_ref(args.file))
        policy = None
        own = {}
        if args.policy:
            policy = Policy.from_dict(json_object(args.policy))
            for p in policy.products:
                if p.template_id:
                    ref = product_template_ref(p.template_id, Path(args.policy).parent)
                    own[p.key] = load_template(ref)
        played = playback_durations(tpl)
        est = estimate_duration(tpl, policy, product_templates=own, played_s=played)
    except (TemplateError, PlaybackError, InputError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INPUT
    except (OSError, ValueError, TypeError) as exc:
        where = f" {args.policy}" if args.policy else ""
        print(f"kesu template check:{where} {exc}", file=sys.stderr)
        return EXIT_INPUT
    print(f"{tpl.source}: OK — {tpl.id} v{tpl.version} 「{tpl.title}」, {len(tpl.nodes)} nodes")
    print(
        f"estimated duration {_min_s(est.total_s)} ({est.characters} spoken characters at {tpl.speaking_rate:g}/s + pauses)"
    )
    if played:
        spoken = sum(n.speech_s for n in est.nodes if n.id in played)
        print(f"with playback: {len(played)} nodes played from audio, {spoken:.1f} s of audio")
    if len(est.products) > 1:
        print(f"  shared nodes (said once)     {est.shared_s:6.1f} s")
        for prod in est.products:
            print(
                f"  product {prod.key:<20} {prod.total_s:6.1f} s  {prod.nodes} nodes  {prod.product_name}"
            )
    for n in est.nodes:
        mark = "  (played)" if n.id in played else ""
        print(f"  {n.id:<28} {n.total_s:6.1f} s{mark}")
    warning = length_warning(est)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


LONG_SCRIPT_S = 300.0  # insurers want scripts under 5 minutes


def _min_s(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s} s"


def length_warning(est: DurationEstimate, limit_s: float = LONG_SCRIPT_S) -> str | None:
    """A warning when the estimate passes ``limit_s``, saying which product makes it long."""
    if est.total_s <= limit_s:
        return None
    text = f"longer than 5 minutes ({_min_s(est.total_s)}); insurers want scripts under 5 minutes"
    if len(est.products) < 2:
        return text
    ranked = sorted(est.products, key=lambda p: p.total_s, reverse=True)
    parts = [f"{p.product_name} ({p.key}) {_min_s(p.total_s)}" for p in ranked]
    text += f"; per product: {', '.join(parts)}; shared nodes {_min_s(est.shared_s)}"
    culprits = [p for p in ranked if est.total_s - p.total_s <= limit_s]
    if culprits:
        names = " or ".join(f"{p.product_name} ({p.key})" for p in culprits)
        text += f"; {names} makes it long: without it the script fits in 5 minutes"
    elif est.shared_s > limit_s:
        text += "; the shared nodes alone take longer than 5 minutes"
    else:
        text += f"; the longest product is {ranked[0].product_name} ({ranked[0].key})"
    return text


def cmd_template_list(args: argparse.Namespace) -> int:
    """Print the built-in templates with their product types and duration estimates."""
    from inspection.templates import builtin_templates, estimate_duration

    for tid, tpl in builtin_templates().items():
        est = estimate_duration(tpl)
        print(
            f"{tid:<26} v{tpl.version}  {','.join(tpl.product_types):<36} {est.total_s / 60:4.1f} min  {tpl.title}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point: ``python -m inspection.cli inspect ...``."""
    parser = argparse.ArgumentParser(prog="kesu", description="Kesu inspection")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
