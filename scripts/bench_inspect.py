"""Benchmark the inspection on a long two-party session: wall time per stage, real-time
factor (RTF = inspection time / recorded time) and peak memory.

The session is built by concatenating (remuxing, no re-encoding) the per-participant
recordings of corpus sessions (scripts/make_corpus.py) until it is ``--minutes`` long:

    .venv/bin/python scripts/bench_inspect.py --corpus /tmp/corpus --minutes 10
    .venv/bin/python scripts/bench_inspect.py --corpus /tmp/corpus2/dev --minutes 20  # noisy v2
    .venv/bin/python scripts/bench_inspect.py --session /tmp/corpus2/dev/dev16-combined-clean-a

With a v2 corpus part (``make_corpus.py --split dev``: room noise, reverb, lossy Opus), the
long session repeats its single-segment sessions of the most common template instead.

Models are loaded once before the timed run (as in a worker process); their load time is
reported separately. Printed: wall time and wall RTF (inspection wall / recorded seconds)
overall and per stage (stage walls overlap: the stages run on ``--threads`` lanes at once),
CPU seconds per stage as the pipeline measured them on the threads that ran it (comparable
on a shared machine, unlike wall), the process's total CPU, and peak RSS.
Goal: wall RTF <= 0.1 on 2 cores, peak RSS <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # repo root

from inspection.inputs import load_session_dir  # noqa: E402
from inspection.pipeline import Inspector  # noqa: E402
from inspection.rules import Thresholds  # noqa: E402
from inspection.speech_types import DecodeOptions  # noqa: E402
from models.registry import ModelRegistry  # noqa: E402

#: The salesperson decoded per region (``--salesperson-per-region``).
SALESPERSON_PER_REGION = DecodeOptions(
    per_region_for=("customer", "salesperson"),
    energy_gate=("customer", "salesperson"),
    skip_quiet_for=("salesperson",),
)
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "templates"


class RssSampler:
    """The process's resident memory every ``period_s`` (Linux ``/proc/self/statm``), in a
    thread, so that the peak can be tied to the tasks running at that moment."""

    def __init__(self, period_s: float = 0.25) -> None:
        self.period_s = period_s
        self.samples: list[tuple[float, float]] = []  # (perf_counter, MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pages = int(Path("/proc/self/statm").read_text().split()[1])
            except (OSError, ValueError, IndexError):
                return
            self.samples.append((time.perf_counter(), pages * self._page_mb))
            self._stop.wait(self.period_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, t0: float) -> tuple[float, float]:
        """(seconds after ``t0``, MB) of the highest sample; (0, 0) without samples."""
        if not self.samples:
            return 0.0, 0.0
        t, mb = max(self.samples, key=lambda x: x[1])
        return t - t0, mb


def concat(files: list[Path], out: Path) -> float:
    """Remux ``files`` (same codecs) one after another into ``out``; returns its duration."""
    with av.open(str(files[0])) as first:
        templates = (first.streams.video[0], first.streams.audio[0])
        with av.open(str(out), "w", format="matroska") as dst:
            vs = dst.add_stream_from_template(templates[0])
            aus = dst.add_stream_from_template(templates[1])
            offset = 0.0
            for path in files:
                offset = _append(path, dst, vs, aus, offset)
    return offset


def _append(path: Path, dst: Any, vs: Any, aus: Any, offset: float) -> float:
    end = offset
    with av.open(str(path)) as src:
        for pkt in src.demux(src.streams.video[0], src.streams.audio[0]):
            if pkt.dts is None or pkt.time_base is None:
                continue  # the demuxer's final empty packet
            tb = pkt.time_base
            shift = round(offset / tb)
            pkt.dts += shift
            pkt.pts = (pkt.pts if pkt.pts is not None else pkt.dts - shift) + shift
            stop = float((pkt.pts + (pkt.duration or 0)) * tb)
            pkt.stream = vs if pkt.stream.type == "video" else aus
            dst.mux(pkt)
            end = max(end, stop)
    return end


def _v2_template(corpus: Path) -> str | None:
    """The most common template of a v2 corpus part (labels with "split"), else None."""
    names = []
    for p in sorted(corpus.glob("*/labels.json")):
        labels = json.loads(p.read_text("utf-8"))
        if labels.get("split"):
            names.append(str(labels["template_id"]))
    return max(set(names), key=names.count) if names else None


def pick_sessions(corpus: Path, minutes: float) -> list[Path]:
    """Clean-ish mini-template VP8 sessions (or, in a v2 corpus part, single-segment sessions
    of its template), repeated as needed to reach ``minutes``."""
    v2 = _v2_template(corpus)
    pool = []
    for d in sorted(corpus.iterdir()):
        labels_path = d / "labels.json"
        if not labels_path.is_file():
            continue
        labels = json.loads(labels_path.read_text("utf-8"))
        wanted = (
            labels.get("template_id") == v2
            if v2
            else labels.get("template_id") == "mini" and labels.get("video_codec") == "libvpx"
        )
        if wanted:
            if (
                len(list(d.glob("salesperson-*.mkv"))) == 1
                and len(list(d.glob("customer-*.mkv"))) == 1
            ):
                pool.append((d, float(labels["duration_s"])))
    if not pool:
        raise SystemExit(f"no mini-template VP8 sessions in {corpus}: run scripts/make_corpus.py")
    chosen, total, i = [], 0.0, 0
    while total < minutes * 60:
        d, dur = pool[i % len(pool)]
        chosen.append(d)
        total += dur
        i += 1
    return chosen


def build(corpus: Path, out: Path, minutes: float) -> Path:
    """A session directory with one long recording per participant."""
    sessions = pick_sessions(corpus, minutes)
    out.mkdir(parents=True, exist_ok=True)
    durations = {}
    for who in ("salesperson", "customer"):
        durations[who] = concat([d / f"{who}-000.mkv" for d in sessions], out / f"{who}-000.mkv")
    meta = json.loads((sessions[0] / "metadata.json").read_text("utf-8"))
    meta["session_id"] = "bench"
    meta["events"], meta["gaps"] = [], []
    meta["segments"] = [
        {"participant": who, "index": 0, "file": f"{who}-000.mkv", "start_s": 0.0, "end_s": dur}
        for who, dur in durations.items()
    ]
    (out / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), "utf-8")
    labels = json.loads((sessions[0] / "labels.json").read_text("utf-8"))
    shutil.copy(TEMPLATES_DIR / (labels.get("template_path") or "mini.yaml"), out / "template.yaml")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, help="corpus made by scripts/make_corpus.py")
    ap.add_argument(
        "--session",
        type=Path,
        help="inspect this session directory as it is instead (e.g. a 15-20 min combined "
        "sale of the v2 corpus: make_corpus.py --split dev --sessions combined)",
    )
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument(
        "--work", type=Path, default=Path("/tmp/kesu-bench"), help="where the long session is built"
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write the numbers as JSON here")
    ap.add_argument(
        "--serial",
        action="store_true",
        help="run the stages one after another on one lane (models on --threads threads each)"
        " instead of side by side on --threads single-threaded lanes",
    )
    ap.add_argument("--report", type=Path, help="also write the inspection report JSON here")
    ap.add_argument(
        "--speech-piece-s",
        type=float,
        default=0.0,
        help="cut the salesperson's whole-track decode into pieces of about this many seconds"
        " at pauses, decoded on both lanes (0: whole; inspection.audio_stage.PIECE_S)",
    )
    ap.add_argument(
        "--whole-pieces",
        type=int,
        default=0,
        help="at most this many pieces the salesperson's whole-track decode is cut into at long"
        " gaps between speech (0: as many as lanes, the default; 1: whole, as before;"
        " inspection.speech_cuts)",
    )
    ap.add_argument(
        "--salesperson-per-region",
        action="store_true",
        help="decode the salesperson's track region by region like the customer's, energy-gated,"
        " quiet regions dropped, spread over the lanes (an option, docs/inspection.md)",
    )
    args = ap.parse_args(argv)

    if args.session is None and args.corpus is None:
        ap.error("give --corpus or --session")
    template = None
    if args.session is not None:
        session = args.session
        labels_path = session / "labels.json"
        labels = json.loads(labels_path.read_text("utf-8")) if labels_path.is_file() else {}
        if labels.get("template_path"):
            template = TEMPLATES_DIR / str(labels["template_path"])
    else:
        t0 = time.perf_counter()
        session = build(args.corpus, args.work / "bench", args.minutes)
        print(f"built {session} in {time.perf_counter() - t0:.1f} s", flush=True)

    inspector = Inspector(
        ModelRegistry.from_env(),
        Thresholds(),
        threads=args.threads,
        overlap=not args.serial,
        speech_piece_s=args.speech_piece_s,
        whole_track_pieces=args.whole_pieces,
        speech_options=SALESPERSON_PER_REGION if args.salesperson_per_region else None,
    )
    t0 = time.perf_counter()
    _ = inspector.speech, inspector.faces, inspector.ocr
    load_s = time.perf_counter() - t0
    rss_models = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def progress(stage: str, fraction: float) -> None:
        print(f"\r{fraction:5.1%} {stage:<10}", end="", file=sys.stderr, flush=True)

    inp = load_session_dir(session, evidence_dir=args.work / "evidence", template=template)
    cpu0 = time.process_time()
    run_t0 = time.perf_counter()
    with RssSampler() as rss:
        report = inspector.run(inp, progress=progress)
    cpu_total = time.process_time() - cpu0
    peak_at, peak_sampled = rss.peak(run_t0)
    print(file=sys.stderr)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = report.timings["total"]
    # CPU seconds per stage, measured by the pipeline on the thread that ran each stage (plus
    # Whisper's replica threads for speech): comparable across machine loads, unlike wall.
    cpu = dict(report.meta.get("cpu_s", {}))
    stages = ["probe", "audio", "speech", "script", "video", "documents", "rules"]
    result = {
        "session": str(session),
        "recorded_s": round(report.duration_s, 1),
        "threads": args.threads,
        "lanes": inspector.lanes,
        "serial": args.serial,
        "model_load_s": round(load_s, 2),
        "stages_wall_s": {k: round(v, 2) for k, v in report.timings.items() if k != "total"},
        "cpu_s": {k: round(float(v), 2) for k, v in cpu.items()},
        "cpu_total_s": round(cpu_total, 1),
        "cpu_per_recorded_s": round(cpu_total / report.duration_s, 4),
        "total_s": round(total, 1),
        "rtf": round(total / report.duration_s, 4),
        "peak_rss_mb": round(peak),
        "rss_after_model_load_mb": round(rss_models),
        # The highest RSS sampled every 0.25 s and when (s from the run's start; the task
        # timeline says what ran then).
        "peak_rss_sampled_mb": round(peak_sampled),
        "peak_rss_at_s": round(peak_at, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "findings": len(report.findings),
        "finding_codes": sorted({f.code for f in report.findings}),
        "frames_sampled": report.meta.get("frames_sampled"),
        "speech_pieces": report.meta.get("speech_pieces"),
        # Regions found on the per-region tracks, regions with nothing above the room
        # (weak_regions), Whisper decodes, closed-set scorings (SpeechRecognizer.counts).
        "speech_counts": dict(inspector.speech.counts),
    }
    print(json.dumps(result, indent=1))
    dur = report.duration_s
    print(f"{'stage':<10} {'wall s':>8} {'wall RTF':>9} {'CPU s':>8} {'CPU s/rec s':>12}")
    for stage in stages:
        wall = report.timings.get(stage, 0.0)
        c = float(cpu.get(stage, 0.0))
        print(f"{stage:<10} {wall:8.1f} {wall / dur:9.4f} {c:8.1f} {c / dur:12.4f}")
    unattributed = cpu_total - sum(float(v) for v in cpu.values())
    print(f"{'(other)':<10} {'':>8} {'':>9} {unattributed:8.1f}   (threads no stage owns)")
    print(
        f"total {total:.1f} s wall for {dur:.0f} s recorded: wall RTF {total / dur:.3f} on"
        f" {inspector.lanes} lane(s); CPU {cpu_total:.1f} s ({cpu_total / dur:.3f} per recorded s);"
        f" peak RSS {peak:.0f} MB; load average {os.getloadavg()[0]:.1f}"
    )
    print("(stage walls overlap: stages on different lanes run at the same time)")
    print(f"highest RSS sampled: {peak_sampled:.0f} MB at {peak_at:.1f} s from the run's start")
    tasks = list(report.meta.get("tasks", []))
    if tasks:
        # The lanes' timeline: which task ran where and when (s from the run's start), and
        # how busy each lane was between the first task's start and the last one's end.
        span = max(float(t["end_s"]) for t in tasks) - min(float(t["start_s"]) for t in tasks)
        print(f"lane timeline (s from start; {span:.1f} s from first task to last):")
        for t in tasks:
            print(
                f"  lane {t['lane']}  {float(t['start_s']):7.1f} - {float(t['end_s']):7.1f}"
                f"  cpu on lane {float(t['cpu_s']):6.1f}  {t['task']}"
            )
        for lane in sorted({int(t["lane"]) for t in tasks}):
            busy = sum(float(t["end_s"]) - float(t["start_s"]) for t in tasks if t["lane"] == lane)
            print(f"  lane {lane} busy {busy:.1f} s ({busy / max(span, 1e-9):.0%})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), "utf-8")
    if args.report:
        args.report.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
