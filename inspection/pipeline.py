"""The inspection pipeline: probe -> (audio -> speech pieces -> script | video) -> documents
-> rules.

``Inspector`` builds each model once, on first use, and reuses it for every session it runs
(one Inspector per worker process). The stages between the probe and the rules run as tasks
on ``threads`` lanes (``inspection.lanes``): both participants' audio, the speech of each
(optionally a long whole-track decode cut into pieces at pauses, ``inspection.audio_pieces``)
and each participant's video scan run side by side, single-threaded each, so two cores stay busy
until the script and the documents, which wait for them. The inputs (``InspectionInput``,
``load_session_dir``, ``make_input``) live in ``inspection.inputs``, the run's state in
``inspection.run_state``, the documents stage in ``inspection.document_stage`` and the
findings and report in ``inspection.assemble``; the public names are re-exported here.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from functools import partial
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from inspection import assemble, heap
from inspection.answer_cohort import needs_cohort, normalise_answers
from inspection.answer_energy import voice_in_windows
from inspection.audio_pieces import pause_cuts
from inspection.document_stage import read_documents
from inspection.inputs import (
    PARTICIPANTS,
    InputError,
    InspectionInput,
    NodeMarker,
    load_session_dir,
    make_input,
    presence_spans,
)
from inspection.lanes import Lanes
from inspection.media import MediaError, load_audio, probe, sample_frames
from inspection.playback import script_speech, with_played_nodes
from inspection.quality import audio_quality
from inspection.report import Finding, Participant, Report
from inspection.rules import AudioLevels, Gap, Thresholds
from inspection.run_state import Progress, ProgressFn, RunState
from inspection.script_stage import ScriptResult, align_script
from inspection.speech_types import DecodeOptions, Region, region_groups
from inspection.templates import TemplateError, render
from inspection.vision import scan_video
from inspection.windows import document_windows

if TYPE_CHECKING:
    from inspection.faces import FaceAnalyzer
    from inspection.ocr import OcrEngine
    from inspection.speech import SpeechRecognizer
    from inspection.speech_cuts import WholeTrack
    from models.registry import ModelRegistry

log = logging.getLogger(__name__)

__all__ = [
    "InputError",
    "InspectionInput",
    "Inspector",
    "NodeMarker",
    "ProgressFn",
    "document_windows",
    "load_session_dir",
    "make_input",
]

SAMPLE_RATE = 16000
T = TypeVar("T")
# With ``speech_piece_s`` > 0 a whole-track speech decode (the salesperson's) is cut into
# pieces of about that length at a pause within PIECE_SEARCH_S of the nominal cut: the
# pieces are shared out between the lanes, and faster-whisper's spectrogram of a piece stays
# small (see audio_pieces). Off by default: on dev16 (1,066 s) pieces of PIECE_S decoded a
# stretch 140 s after the last cut differently (30 s windows fall elsewhere), which lost a
# rider node and added three sound-alike forbidden-phrase reviews on a clean session; the
# whole track on one lane already balances the customer's speech and both video scans.
PIECE_S = 300.0
PIECE_SEARCH_S = 30.0
# A track decoded region by region (the customer's; optionally the salesperson's) is queued as groups of
# consecutive regions of about this much audio each: the groups are independent, so the lanes
# share them out and both cores work until the last group, whatever else each lane runs.
REGION_GROUP_S = 60.0


class Inspector:
    """Runs inspections; models are built lazily, once per Inspector, and reused."""

    def __init__(
        self,
        models: ModelRegistry,
        thresholds: Thresholds | None = None,
        threads: int = 2,
        overlap: bool = True,
        speech_piece_s: float = 0.0,
        region_group_s: float = REGION_GROUP_S,
        whole_track_pieces: int = 0,
        speech_options: DecodeOptions | None = None,
    ) -> None:
        """``threads``: cores to use. With ``overlap`` (the default) the stages run on that
        many lanes at once and each model call is single-threaded; without it, one lane runs
        the stages one after another and each model call uses ``threads`` threads.
        ``speech_piece_s``: length of the pieces a whole-track decode is cut into (0, the
        default: none; see PIECE_S), for a track decoded whole. ``region_group_s``: audio per
        task of a track decoded region by region (REGION_GROUP_S). ``whole_track_pieces``:
        at most this many pieces a track decoded whole (the salesperson's) is cut into at long
        gaps between its speech, decoded on the lanes at once (0, the default: as many as
        there are lanes; 1: whole; ``inspection.speech_cuts``; ignored with
        ``speech_piece_s``). ``speech_options``: the
        recogniser's decoding settings (default ``DecodeOptions()``; the beam size always
        comes from ``thresholds.asr_beam_size``)."""
        self.models = models
        self.speech_piece_s = speech_piece_s
        self.region_group_s = region_group_s
        self.whole_track_pieces = whole_track_pieces
        self.speech_options = speech_options or DecodeOptions()
        self.overlap = overlap
        self.thresholds = thresholds or Thresholds()
        self.threads = max(1, threads)
        self.lanes = self.threads if overlap else 1
        self.model_threads = max(1, self.threads // self.lanes)
        self._lock = threading.Lock()
        self._speech: SpeechRecognizer | None = None
        self._speech_tids: set[int] = set()
        self._faces: FaceAnalyzer | None = None
        self._ocr: OcrEngine | None = None
        self.load_timings: dict[str, float] = {}

    @property
    def speech(self) -> SpeechRecognizer:
        with self._lock:
            if self._speech is None:
                from inspection.speech import SpeechRecognizer

                t0 = time.perf_counter()
                th = self.thresholds
                before = _thread_ids()
                self._speech = SpeechRecognizer(
                    self.models.path("whisper-base"),
                    cpu_threads=self.model_threads,
                    initial_prompt=th.asr_initial_prompt or None,
                    options=replace(self.speech_options, beam_size=th.asr_beam_size),
                    workers=self.lanes,
                )
                # ctranslate2 decodes on its own replica threads: their CPU is speech's.
                self._speech_tids = _thread_ids() - before
                self.load_timings["load_speech"] = time.perf_counter() - t0
            return self._speech

    @property
    def faces(self) -> FaceAnalyzer:
        with self._lock:
            if self._faces is None:
                from inspection.faces import FaceAnalyzer

                t0 = time.perf_counter()
                self._faces = FaceAnalyzer(
                    self.models.path("yunet"), self.models.path("sface"), threads=self.model_threads
                )
                self.load_timings["load_faces"] = time.perf_counter() - t0
            return self._faces

    @property
    def ocr(self) -> OcrEngine:
        with self._lock:
            if self._ocr is None:
                from inspection.ocr import OcrEngine

                t0 = time.perf_counter()
                # OCR runs in the documents stage, after the lanes' other work: all cores.
                self._ocr = OcrEngine(threads=self.threads)
                self.load_timings["load_ocr"] = time.perf_counter() - t0
            return self._ocr

    def run(self, inp: InspectionInput, progress: ProgressFn | None = None) -> Report:
        """Inspect one session; raises InputError for input that cannot be inspected."""
        t0 = time.perf_counter()
        try:
            nodes = render(inp.template, inp.policy, inp.product_templates)
        except TemplateError as exc:
            raise InputError(str(exc).splitlines()[0]) from None
        if not inp.salesperson and not inp.customer:
            raise InputError("no media: neither participant has a recording")
        run = RunState(inp, nodes, Progress(progress))
        loads_before = dict(self.load_timings)
        self._timed(run, "probe", partial(self._probe, run))
        _ = self.speech  # built before the lanes start, so its threads are known
        speech_cpu0 = _threads_cpu(self._speech_tids)
        lanes = Lanes(self.lanes)
        for who in PARTICIPANTS:
            lanes.add(f"audio:{who}", "audio", partial(self._audio, run, lanes, who), (), 30)
            lanes.add(f"video:{who}", "video", partial(self._video, run, who), (), 10)
        speech_done = [f"speech:{who}" for who in PARTICIPANTS]
        lanes.add("script", "script", partial(self._script_stage, run), speech_done, 40)
        video_done = [f"video:{who}" for who in PARTICIPANTS]
        lanes.add(
            "documents", "documents", partial(self._documents, run), ["script", *video_done], 40
        )
        lanes.run()
        run.timings.update(lanes.clock.wall_s())
        run.tasks = [
            {
                "task": name,
                "lane": lane,
                "start_s": round(a - t0, 2),
                "end_s": round(b - t0, 2),
                "cpu_s": round(cpu, 2),
            }
            for name, _stage, lane, a, b, cpu in sorted(lanes.clock.tasks, key=lambda x: x[3])
        ]
        for stage, cpu in lanes.clock.cpu_s.items():
            run.cpu_s[stage] = run.cpu_s.get(stage, 0.0) + cpu
        # Whisper's own threads (zero where /proc is missing).
        run.cpu_s["speech"] = run.cpu_s.get("speech", 0.0) + (
            _threads_cpu(self._speech_tids) - speech_cpu0
        )
        found = self._timed(run, "rules", partial(self._rules, run))
        loads = {k: v for k, v in self.load_timings.items() if loads_before.get(k) != v}
        run.timings.update(loads)
        run.timings["total"] = time.perf_counter() - t0
        return assemble.report(run, found, self.thresholds)

    def _timed(self, run: RunState, stage: str, fn: partial[T]) -> T:
        """Run ``fn`` on this thread as ``stage``: wall and CPU time, progress."""
        t0, c0 = time.perf_counter(), time.thread_time()
        run.progress.stage(stage, 0.0)
        out = fn()
        run.timings[stage] = run.timings.get(stage, 0.0) + time.perf_counter() - t0
        run.cpu_s[stage] = run.cpu_s.get(stage, 0.0) + time.thread_time() - c0
        run.progress.finish(stage)
        return out

    # -- stages ---------------------------------------------------------------------------

    def _probe(self, run: RunState) -> None:
        ends: dict[Participant, list[tuple[float, float]]] = {p: [] for p in PARTICIPANTS}
        for who in PARTICIPANTS:
            for track in run.inp.tracks(who):
                try:
                    info = probe(track.path)
                except MediaError as exc:
                    raise InputError(str(exc)) from None
                ends[who].append((track.offset_s, track.offset_s + info.duration_s))
        run.duration_s = max((e for spans in ends.values() for _, e in spans), default=0.0)
        if run.duration_s <= 0:
            raise InputError("the recordings have no duration")
        # Recorded gaps, plus any hole between segments that metadata did not record.
        recorded = list(run.inp.gaps or [])
        derived = [
            g
            for g in _derive_gaps(ends)
            if not any(
                r.participant == g.participant and r.start_s < g.end_s and g.start_s < r.end_s
                for r in recorded
            )
        ]
        run.gaps = recorded + derived
        for who in PARTICIPANTS:
            # No recording at all stays absent for the whole session, as before.
            run.presence[who] = (
                presence_spans(run.inp.attendance, who, ends[who])
                if ends[who]
                else [(0.0, run.duration_s)]
            )

    def _audio(self, run: RunState, lanes: Lanes, who: Participant) -> None:
        """Load one participant's audio, measure it, and queue its speech pieces."""
        th = self.thresholds
        tracks = run.inp.tracks(who)
        groups: list[list[Region]] = []
        whole = None  # the track prepared for decoding whole, in pieces at long gaps
        if tracks:
            try:
                audio = load_audio(tracks, SAMPLE_RATE)
            except MediaError as exc:
                raise InputError(str(exc)) from None
            q = audio_quality(audio, SAMPLE_RATE, silence_dbfs=th.audio_silence_dbfs)
            with run.lock:
                run.audio[who] = audio
                run.levels[who] = AudioLevels(
                    who, q.speech_dbfs, q.clipped_share, q.duration_s, q.snr_db
                )
                run.pieces[who] = {}
            if self.speech.per_region(who):
                # VAD and the levels over the whole track (one noise floor), then the regions
                # in groups: independent decodes, shared out between the lanes.
                regions = self.speech.regions(audio, who)
                groups = region_groups(regions, int(self.region_group_s * SAMPLE_RATE))
            elif self.speech_piece_s > 0:
                groups = [
                    [Region(lo, hi)]
                    for lo, hi in pause_cuts(
                        audio, SAMPLE_RATE, self.speech_piece_s, PIECE_SEARCH_S
                    )
                ]
            else:
                # Quiet regions silenced and the cuts chosen over the whole track (one noise
                # floor); the pieces then decode on the lanes side by side.
                pieces = self.whole_track_pieces or self.lanes
                whole = self.speech.prepare_whole(audio, who, pieces)
                groups = [[Region(lo, hi)] for lo, hi in whole.pieces]
                with run.lock:
                    # Only the speech reads this track from now on: the silenced copy (when
                    # there was anything to silence) replaces it instead of doubling it.
                    run.audio[who] = whole.samples
            with run.lock:
                run.speech_pieces[who] = len(groups)
        with run.lock:
            run.audio_done += 1
            run.progress.stage("audio", run.audio_done / len(PARTICIPANTS))
        names = []
        for group in groups:
            lo, hi = group[0].a, group[-1].b
            name = f"speech:{who}:{lo}"
            names.append(name)
            # The customer's track first (its closed-set scoring waits for the script), then
            # the longest pieces.
            prio = 25.0 if who == "customer" else 20.0 + (hi - lo) / SAMPLE_RATE / 1e4
            piece = whole.pieces.index((lo, hi)) if whole is not None else 0
            task = partial(self._speech_piece, run, who, group, whole, piece)
            lanes.add(name, "speech", task, (), prio)
        lanes.add(f"speech:{who}", "speech", partial(self._speech_join, run, who), names, 50)

    def _speech_piece(
        self,
        run: RunState,
        who: Participant,
        group: list[Region],
        whole: WholeTrack | None,
        piece: int,
    ) -> None:
        """Decode ``group`` of ``who``'s track: regions, or piece ``piece`` of a track decoded
        whole (``whole``: prepared by ``prepare_whole``, the piece decoded after the track's
        prefix from its lead-in, ``WholeTrack.decode_input``), or a pause-cut piece."""
        audio = run.audio[who]
        # The customer's short regions are closed-set scored after the script stage, and only
        # in answer windows (score_answer_regions): in babble most regions are in none.
        defer = who == "customer"
        if self.speech.per_region(who):
            utts = self.speech.transcribe_regions(audio, who, group, 0.0, defer)
        elif whole is not None:
            lo = group[0].a
            samples, origin = whole.decode_input(piece)
            keep = lo / SAMPLE_RATE if origin < lo else None
            utts = self.speech.transcribe_whole(
                samples, who, origin / SAMPLE_RATE, keep_from_s=keep
            )
        else:
            lo, hi = group[0].a, group[0].b
            utts = self.speech.transcribe(audio[lo:hi], who, lo / SAMPLE_RATE, defer)
        with run.lock:
            run.pieces[who][group[0].a] = utts
            run.speech_done_s += sum(r.b - r.a for r in group) / SAMPLE_RATE
            # Both tracks are about the session's length.
            fraction = run.speech_done_s / (2 * run.duration_s)
        run.progress.stage("speech", min(0.99, fraction))
        # What this decode freed stays in its thread's malloc arena otherwise (inspection.heap).
        heap.trim()

    def _speech_join(self, run: RunState, who: Participant) -> None:
        with run.lock:
            pieces = run.pieces.pop(who, {})
            run.utterances[who] = list(chain.from_iterable(pieces[k] for k in sorted(pieces)))
            if who != "customer":  # the customer's is scored in answer windows after the script
                run.audio.pop(who, None)  # ~4 MB per minute: not needed any more

    def _script_stage(self, run: RunState) -> None:
        run.progress.finish("speech")
        if run.inp.session_dir is not None:
            # Nodes played from the template's audio (the session's ``system`` track).
            run.utterances = with_played_nodes(run.inp.session_dir, run.nodes, run.utterances)
        run.script = self._align(run)
        audio = run.audio.pop("customer", None)
        if audio is not None and run.script.answer_windows:
            utts = run.utterances.get("customer", [])
            # Answer windows without a customer utterance: is the track silent there?
            unread = voice_in_windows(audio, utts, run.script.answer_windows, self.speech.options)
            heard = sorted(utts + unread, key=lambda u: u.start_s)
            scored = self.speech.score_regions(audio, heard, run.script.answer_windows)
            if scored != utts:
                # Same windows (they come from the salesperson's nodes), now with the scores.
                run.utterances["customer"] = scored
                run.script = self._align(run)
            if needs_cohort(run.script.coverage):
                # An answer is still a closed-set guess: normalise the scores by the room's
                # own (noise-only regions of the track; None in a quiet room).
                normed = normalise_answers(
                    audio, scored, run.script.answer_windows, self.speech.score_clip,
                    self.speech.workers,
                )  # fmt: skip
                if normed is not None:
                    run.utterances["customer"] = normed
                    run.script = self._align(run)
        run.windows = document_windows(
            run.nodes, run.script.coverage, run.inp.markers, run.duration_s, self.thresholds
        )
        run.progress.finish("script")

    def _align(self, run: RunState) -> ScriptResult:
        return align_script(
            run.nodes,
            script_speech(run.utterances, run.inp.mode),
            run.inp.template,
            run.inp.policy,
            run.inp.markers,
            self.thresholds,
        )

    def _video(self, run: RunState, who: Participant) -> None:
        th = self.thresholds
        tracks = run.inp.tracks(who)
        # Full frames are kept for documents (customer) and reference-photo matching.
        keep = who == "customer" or who in run.inp.reference_photos
        # Decoded on this lane's thread: the lanes already fill the cores.
        decoders = 1 if self.lanes > 1 else 0
        frames = chain.from_iterable(sample_frames(t, th.face_fps, None, decoders) for t in tracks)
        try:
            scan = scan_video(who, frames, self.faces, th, keep)
        except MediaError as exc:
            raise InputError(str(exc)) from None
        with run.lock:
            run.scans[who] = scan
            run.progress.stage("video", len(run.scans) / 2)

    def _documents(self, run: RunState) -> None:
        read_documents(run, self.ocr, self.faces, self.thresholds)
        run.progress.finish("documents")

    def _rules(self, run: RunState) -> list[Finding]:
        found = assemble.findings(run, self.thresholds)
        assemble.save_thumbnails(run, found)
        return found


def _derive_gaps(ends: dict[Participant, list[tuple[float, float]]]) -> list[Gap]:
    """Gaps between consecutive segments of each participant."""
    out = []
    for who, spans in ends.items():
        spans = sorted(spans)
        for (_, e0), (s1, _) in zip(spans, spans[1:], strict=False):
            if s1 > e0:
                out.append(Gap(who, e0, s1))
    return out


_TASKS = Path("/proc/self/task")


def _thread_ids() -> set[int]:
    """This process's thread ids (Linux), empty elsewhere."""
    try:
        return {int(p.name) for p in _TASKS.iterdir()}
    except OSError:
        return set()


def _threads_cpu(tids: set[int]) -> float:
    """CPU seconds (user + system) used so far by the threads ``tids`` that still exist."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for tid in tids:
        try:
            stat = (_TASKS / str(tid) / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick
