"""The inspection pipeline: probe -> (audio -> speech pieces -> script | video) -> documents
-> rules.

``Inspector`` builds each model once, on first use, and reuses it for every session it runs
(one Inspector per worker process). The stages between the probe and the rules run as tasks
on ``threads`` lanes (``inspection.lanes``): both participants' audio, the speech of each
(optionally a long whole-track decode cut into pieces at pauses, ``inspection.audio_pieces``)
and each participant's video scan run side by side, single-threaded each, so two cores stay busy
until the script and the documents, which wait for them. The inputs (``InspectionInput``,
``load_session_dir``, ``make_input``) live in ``inspection.inputs``, the run's state in
``inspection.run_state``, each stage in its own module (``probe_stage``, ``audio_stage``,
``video_stage``, ``script_stage``, ``document_stage``) and the findings and report in
``inspection.assemble``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from inspection import assemble
from inspection.audio_stage import REGION_GROUP_S, AudioStage
from inspection.document_stage import read_documents
from inspection.inputs import PARTICIPANTS, InputError, InspectionInput
from inspection.lanes import Lanes
from inspection.probe_stage import probe_tracks
from inspection.report import Finding, Participant, Report
from inspection.rules import Thresholds
from inspection.run_state import Progress, ProgressFn, RunState
from inspection.script_stage import check_script
from inspection.speech_types import DecodeOptions
from inspection.templates import TemplateError, render
from inspection.thread_cpu import thread_ids, threads_cpu
from inspection.video_stage import scan_participant

if TYPE_CHECKING:
    from inspection.faces import FaceAnalyzer
    from inspection.ocr import OcrEngine
    from inspection.speech import SpeechRecognizer
    from models.registry import ModelRegistry

T = TypeVar("T")


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
        default: none; see ``audio_stage.PIECE_S``), for a track decoded whole. ``region_group_s``: audio per
        task of a track decoded region by region (``audio_stage.REGION_GROUP_S``). ``whole_track_pieces``:
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
                before = thread_ids()
                self._speech = SpeechRecognizer(
                    self.models.path("whisper-base"),
                    cpu_threads=self.model_threads,
                    initial_prompt=th.asr_initial_prompt or None,
                    options=replace(self.speech_options, beam_size=th.asr_beam_size),
                    workers=self.lanes,
                )
                # ctranslate2 decodes on its own replica threads: their CPU is speech's.
                self._speech_tids = thread_ids() - before
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
        self._timed(run, "probe", partial(probe_tracks, run))
        speech = self.speech  # built before the lanes start, so its threads are known
        speech_cpu0 = threads_cpu(self._speech_tids)
        audio = AudioStage(
            speech,
            self.thresholds,
            piece_s=self.speech_piece_s,
            region_group_s=self.region_group_s,
            whole_track_pieces=self.whole_track_pieces or self.lanes,
        )
        lanes = Lanes(self.lanes)
        for who in PARTICIPANTS:
            lanes.add(f"audio:{who}", "audio", partial(audio.load, run, lanes, who), (), 30)
            lanes.add(f"video:{who}", "video", partial(self._video, run, who), (), 10)
        speech_done = [f"speech:{who}" for who in PARTICIPANTS]
        check = partial(check_script, run, speech, self.thresholds)
        lanes.add("script", "script", check, speech_done, 40)
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
            threads_cpu(self._speech_tids) - speech_cpu0
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

    # -- stages (each in its own module; these pass the models built on first use) -------

    def _video(self, run: RunState, who: Participant) -> None:
        # Decoded on this lane's thread: the lanes already fill the cores.
        decoders = 1 if self.lanes > 1 else 0
        scan_participant(run, who, self.faces, self.thresholds, decoders)

    def _documents(self, run: RunState) -> None:
        read_documents(run, self.ocr, self.faces, self.thresholds)
        run.progress.finish("documents")

    def _rules(self, run: RunState) -> list[Finding]:
        found = assemble.findings(run, self.thresholds)
        assemble.save_thumbnails(run, found)
        return found
