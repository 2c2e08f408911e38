"""Time accuracy of the transcript on labelled sessions: are utterances where they were said?

The promise (issue 11, class 1): word and segment times right to within a second over a
20-minute session, however sparse the speech. This compares the transcript saved in each
report (``scripts/eval_inspect.py --out DIR`` keeps ``DIR/<session>.json``) with the
timeline of ``labels.json`` (every line spoken, with its start and end):

    .venv/bin/python scripts/eval_times.py /work/corpus/dev --reports /tmp/eval \\
        --sessions dev16-,dev17- [--json F]

Per participant, the labelled lines and the recognised segments are aligned in order
(characters as toneless pinyin, so homophones the recogniser wrote still match; numbers as
Arabic on both sides). A line is *matched* when at least ``--min-share`` of its characters
(and two of them) are found; otherwise it is *missing*. A line's error is how far the times
of the segment(s) it landed in are from where it was said:

* where the line opens its segment, |segment start - line start|; where it closes it,
  |segment end - line end| (a segment covering only this line gets both);
* always, how far the line sticks out of its segments' span (0 when inside): a line merged
  into a segment stamped a minute earlier (issue 11: nine answers in one segment at 531-562 s
  while said until 701 s) is off by that minute even in the middle of the segment.

A recognised segment with text of which (almost) nothing matches any line is *spurious*
(what the recogniser invents in room noise); it is listed with its times, text, confidence
and whether the pipeline marked it uncertain. Exit status 0; this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # repo root

from inspection.textnorm import pinyin  # noqa: E402
from inspection.transcript import normalize_script  # noqa: E402

PARTICIPANTS = ("salesperson", "customer")
#: A line opens (closes) its segment when at most this many of the segment's characters come
#: before (after) it: a filler or a stray character the recogniser added.
EDGE_CHARS = 2


@dataclass(frozen=True)
class Line:
    """One labelled utterance (a beat of the timeline with text)."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Segment:
    """One recognised segment of the transcript."""

    start_s: float
    end_s: float
    text: str
    confidence: float | None = None
    uncertain: str | None = None


@dataclass
class LineResult:
    line: Line
    matched: bool
    share: float  # of the line's characters found
    error_s: float | None = None
    found_start_s: float | None = None
    found_end_s: float | None = None
    segments: list[int] = field(default_factory=list)


@dataclass
class TrackResult:
    participant: str
    lines: list[LineResult]
    spurious: list[Segment]  # text matching no line, where no line was said (invented)
    garbled: list[Segment] = field(default_factory=list)  # the same, over a line said then
    skipped: int = 0  # one-character lines (嗯): not scored

    @property
    def errors(self) -> list[float]:
        return [r.error_s for r in self.lines if r.error_s is not None]

    @property
    def missing(self) -> list[LineResult]:
        return [r for r in self.lines if not r.matched]


def _keys(text: str) -> list[str]:
    """Normalised characters as comparison keys (toneless pinyin for CJK)."""
    norm = normalize_script(text)
    keys = pinyin(norm)
    return keys if len(keys) == len(norm) else list(norm)


def align_track(
    lines: list[Line],
    segments: list[Segment],
    min_share: float = 0.4,
    spurious_share: float = 0.2,
    overlap_s: float = 0.5,
) -> TrackResult:
    """Match ``lines`` (labelled, in order) with ``segments`` (recognised, in order).

    One-character lines (a filler such as 嗯, which the recogniser mostly drops) are left out.
    A segment whose text matches no line is *garbled* when a line was said within
    ``overlap_s`` of it (recognised at the right time as other words), else *spurious*."""
    every = lines
    lines = [ln for ln in lines if len(normalize_script(ln.text)) >= 2]
    lk: list[str] = []
    l_owner: list[int] = []
    for i, ln in enumerate(lines):
        keys = _keys(ln.text)
        lk += keys
        l_owner += [i] * len(keys)
    sk: list[str] = []
    s_owner: list[int] = []
    s_pos: list[int] = []  # index of the character inside its segment
    s_len: list[int] = []
    for j, seg in enumerate(segments):
        keys = _keys(seg.text)
        sk += keys
        s_owner += [j] * len(keys)
        s_pos += list(range(len(keys)))
        s_len.append(len(keys))
    # Characters of each line found in the transcript, as (segment, position) pairs. Blocks of
    # one character are chance (的, 是) and are not counted.
    found: dict[int, list[tuple[int, int]]] = {}
    seg_hits = [0] * len(segments)
    sm = SequenceMatcher(None, lk, sk, autojunk=False)
    for a, b, size in sm.get_matching_blocks():
        if size < 2:
            continue
        for k in range(size):
            li, sj = l_owner[a + k], s_owner[b + k]
            found.setdefault(li, []).append((sj, s_pos[b + k]))
            seg_hits[sj] += 1
    results = []
    for i, ln in enumerate(lines):
        n = max(1, len(_keys(ln.text)))
        hits = found.get(i, [])
        share = len(hits) / n
        if share < min_share or len(hits) < min(2, n):
            results.append(LineResult(ln, False, round(share, 2)))
            continue
        segs = sorted({sj for sj, _ in hits})
        first, last = segs[0], segs[-1]
        a_s, e_s = segments[first].start_s, segments[last].end_s
        # Outside the span of its segments (0 when inside).
        err = max(0.0, a_s - ln.start_s, ln.start_s - e_s, ln.end_s - e_s, a_s - ln.end_s)
        head = min(p for sj, p in hits if sj == first)
        tail = s_len[last] - 1 - max(p for sj, p in hits if sj == last)
        if head <= EDGE_CHARS:
            err = max(err, abs(a_s - ln.start_s))
        if tail <= EDGE_CHARS:
            err = max(err, abs(e_s - ln.end_s))
        results.append(LineResult(ln, True, round(share, 2), round(err, 3), a_s, e_s, segs))
    unmatched = [
        seg
        for j, seg in enumerate(segments)
        if s_len[j] and seg_hits[j] / s_len[j] < spurious_share
    ]

    def said_then(seg: Segment) -> bool:
        return any(
            ln.start_s - overlap_s < seg.end_s and seg.start_s < ln.end_s + overlap_s
            for ln in every
        )

    garbled = [seg for seg in unmatched if said_then(seg)]
    spurious = [seg for seg in unmatched if not said_then(seg)]
    return TrackResult("", results, spurious, garbled, len(every) - len(lines))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(-(-q * len(ordered) // 100)) - 1))
    return ordered[k]


def session_tracks(labels: dict[str, Any], report: dict[str, Any]) -> list[TrackResult]:
    out = []
    for who in PARTICIPANTS:
        lines = [
            Line(float(b["start_s"]), float(b["end_s"]), str(b["text"]))
            for b in labels.get("timeline", [])
            if b.get("speaker") == who and b.get("text")
        ]
        segments = [
            Segment(
                float(t["start_s"]),
                float(t["end_s"]),
                str(t.get("text") or ""),
                t.get("confidence"),
                t.get("uncertain"),
            )
            for t in report.get("transcript", [])
            if t.get("participant") == who
        ]
        segments.sort(key=lambda s: s.start_s)
        track = align_track(lines, segments)
        track.participant = who
        out.append(track)
    return out


def summary(track: TrackResult, tolerance_s: float) -> dict[str, Any]:
    errors = track.errors
    return {
        "lines": len(track.lines),
        "matched": len(errors),
        "missing": len(track.missing),
        "within_tolerance": sum(e <= tolerance_s for e in errors),
        "p50_s": percentile(errors, 50) if errors else None,
        "p95_s": percentile(errors, 95) if errors else None,
        "max_s": max(errors) if errors else None,
        "spurious": len(track.spurious),
        "spurious_chars": sum(len(normalize_script(s.text)) for s in track.spurious),
        "garbled": len(track.garbled),
        "skipped": track.skipped,
    }


def _fmt(x: float | None) -> str:
    return "    -" if x is None else f"{x:5.2f}"


def print_session(name: str, tracks: list[TrackResult], tolerance_s: float, worst: int) -> None:
    print(f"\n{name}")
    for tr in tracks:
        s = summary(tr, tolerance_s)
        print(
            f"  {tr.participant:<11} lines {s['lines']:3d} (+{s['skipped']} one-char)  matched {s['matched']:3d}  "
            f"missing {s['missing']:2d}  <= {tolerance_s:g} s {s['within_tolerance']:3d}  "
            f"p50 {_fmt(s['p50_s'])}  p95 {_fmt(s['p95_s'])}  max {_fmt(s['max_s'])}  "
            f"spurious {s['spurious']} ({s['spurious_chars']} chars)  garbled {s['garbled']}"
        )
        bad = sorted(
            (r for r in tr.lines if r.error_s is not None and r.error_s > tolerance_s),
            key=lambda r: -(r.error_s or 0.0),
        )
        for r in bad[:worst]:
            print(
                f"    off {r.error_s:6.2f} s  said {r.line.start_s:7.2f}-{r.line.end_s:7.2f}  "
                f"found {r.found_start_s:7.2f}-{r.found_end_s:7.2f}  {r.line.text[:30]}"
            )
        for r in tr.missing:
            print(
                f"    missing     said {r.line.start_s:7.2f}-{r.line.end_s:7.2f}  "
                f"({r.share:.0%} found)  {r.line.text[:30]}"
            )
        for what, segs in (("spurious", tr.spurious), ("garbled", tr.garbled)):
            for seg in segs:
                conf = "-" if seg.confidence is None else f"{seg.confidence:.2f}"
                print(
                    f"    {what:<11} {seg.start_s:7.2f}-{seg.end_s:7.2f}  conf {conf}  "
                    f"uncertain {seg.uncertain or '-'}  {seg.text[:40]!r}"
                )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", type=Path, help="directory of labelled sessions (make_corpus.py)")
    ap.add_argument("--reports", type=Path, required=True, help="eval_inspect.py --out directory")
    ap.add_argument("--sessions", help="comma-separated substrings; only matching session ids")
    ap.add_argument("--tolerance", type=float, default=1.0, help="promised error, s (default 1)")
    ap.add_argument("--worst", type=int, default=8, help="lines over tolerance to list")
    ap.add_argument("--json", type=Path, help="write per-session results as JSON here")
    args = ap.parse_args(argv)

    sessions = sorted(p for p in args.corpus.iterdir() if (p / "labels.json").is_file())
    if args.sessions:
        keys = args.sessions.split(",")
        sessions = [p for p in sessions if any(k in p.name for k in keys)]
    out: dict[str, Any] = {}
    pooled: dict[str, list[TrackResult]] = {who: [] for who in PARTICIPANTS}
    for path in sessions:
        report_file = args.reports / f"{path.name}.json"
        if not report_file.is_file():
            print(f"{path.name}: no report in {args.reports}", file=sys.stderr)
            continue
        labels = json.loads((path / "labels.json").read_text("utf-8"))
        report = json.loads(report_file.read_text("utf-8"))
        tracks = session_tracks(labels, report)
        print_session(path.name, tracks, args.tolerance, args.worst)
        out[path.name] = {
            tr.participant: {
                **summary(tr, args.tolerance),
                "worst": [asdict(r) for r in sorted(tr.lines, key=lambda r: -(r.error_s or 0))][
                    : args.worst
                ],
                "spurious_segments": [asdict(s) for s in tr.spurious],
                "garbled_segments": [asdict(s) for s in tr.garbled],
            }
            for tr in tracks
        }
        for tr in tracks:
            pooled[tr.participant].append(tr)
    if not out:
        print("no session with both labels and a report", file=sys.stderr)
        return 2
    print("\nall sessions")
    for who, trs in pooled.items():
        merged = TrackResult(
            who,
            [r for t in trs for r in t.lines],
            [s for t in trs for s in t.spurious],
            [s for t in trs for s in t.garbled],
            sum(t.skipped for t in trs),
        )
        s = summary(merged, args.tolerance)
        out.setdefault("_all", {})[who] = s
        print(
            f"  {who:<11} lines {s['lines']:3d} (+{s['skipped']} one-char)  matched {s['matched']:3d}  missing "
            f"{s['missing']:2d}  <= {args.tolerance:g} s {s['within_tolerance']:3d}  "
            f"p50 {_fmt(s['p50_s'])}  p95 {_fmt(s['p95_s'])}  max {_fmt(s['max_s'])}  "
            f"spurious {s['spurious']} ({s['spurious_chars']} chars)  garbled {s['garbled']}"
        )
    if args.json:
        args.json.write_text(json.dumps(out, ensure_ascii=False, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
