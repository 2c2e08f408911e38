"""The inspection pipeline: probe -> (audio -> speech -> script | video) -> documents -> rules.

``Inspector`` builds each model once, on first use, and reuses it for every session it runs
(one Inspector per worker process). The inputs (``InspectionInput``, ``load_session_dir``,
``make_input``) live in ``inspection.inputs`` and are re-exported here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import TYPE_CHECKING

import cv2
import numpy as np

from inspection import rules
from inspection.documents import read_id_card, read_signature, shows_id_card
from inspection.inputs import (
    PARTICIPANTS,
    InputError,
    InspectionInput,
    NodeMarker,
    load_session_dir,
    make_input,
    presence_spans,
)
from inspection.media import MediaError, load_audio, probe, sample_frames
from inspection.playback import SELF_SERVICE, script_speech, with_played_nodes
from inspection.quality import audio_quality
from inspection.report import Finding, NodeResult, Participant, Report, TranscriptLine
from inspection.rules import (
    AudioLevels,
    FaceMatch,
    Gap,
    IdCardEvidence,
    NodeCoverage,
    SignatureEvidence,
    Span,
    Thresholds,
)
from inspection.script_stage import ScriptResult, align_script
from inspection.templates import RenderedNode, TemplateError, render
from inspection.vision import (
    VideoScan,
    card_face_match,
    card_photo_refs,
    document_frames,
    drop_photo_faces,
    extra_face_runs,
    live_embedding,
    photo_embedding,
    presence_runs,
    scan_video,
)

if TYPE_CHECKING:
    from inspection.faces import FaceAnalyzer
    from inspection.ocr import OcrEngine
    from inspection.speech import SpeechRecognizer, Utterance
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
ProgressFn = Callable[[str, float], None]

# Share of the total run time each stage takes (measured on corpus sessions), for progress.
_STAGE_WEIGHTS = {
    "probe": 0.01,
    "audio": 0.04,
    "speech": 0.45,
    "script": 0.02,
    "video": 0.38,
    "documents": 0.08,
    "rules": 0.02,
}


# ---------------------------------------------------------------------------------------------
# The inspector


class _Progress:
    """Turns per-stage fractions into one overall fraction for the caller's callback.

    Thread-safe: the video stage reports from its own thread while speech runs.
    """

    def __init__(self, fn: ProgressFn | None) -> None:
        self.fn = fn
        self.fractions: dict[str, float] = {}
        self.lock = threading.Lock()

    def stage(self, name: str, fraction: float) -> None:
        if self.fn is None:
            return
        with self.lock:
            self.fractions[name] = max(self.fractions.get(name, 0.0), min(1.0, fraction))
            total = sum(_STAGE_WEIGHTS.get(k, 0.0) * f for k, f in self.fractions.items())
            self.fn(name, min(1.0, total))

    def finish(self, name: str) -> None:
        self.stage(name, 1.0)


@dataclass
class _Run:
    """State of one run, passed between the stage methods."""

    inp: InspectionInput
    nodes: list[RenderedNode]
    progress: _Progress
    timings: dict[str, float] = field(default_factory=dict)
    duration_s: float = 0.0
    gaps: list[Gap] = field(default_factory=list)
    presence: dict[str, list[Span]] = field(default_factory=dict)  # participant -> in session
    audio: dict[str, np.ndarray] = field(default_factory=dict)
    levels: dict[str, AudioLevels] = field(default_factory=dict)
    utterances: dict[str, list[Utterance]] = field(default_factory=dict)
    script: ScriptResult | None = None
    windows: dict[str, Span] = field(default_factory=dict)  # document kind -> span
    scans: dict[str, VideoScan] = field(default_factory=dict)
    id_card: IdCardEvidence | None = None
    signature: SignatureEvidence | None = None
    matches: list[FaceMatch] = field(default_factory=list)
    card_shown: dict[str, list[Span]] = field(default_factory=dict)  # 2+ faces, card read

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        self.progress.stage(name, 0.0)
        yield
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0
        self.progress.finish(name)


class Inspector:
    """Runs inspections; models are built lazily, once per Inspector, and reused."""

    def __init__(
        self,
        models: ModelRegistry,
        thresholds: Thresholds | None = None,
        threads: int = 2,
        overlap: bool = True,
    ) -> None:
        """``overlap``: scan the video in a second thread while speech is recognised (Whisper
        alone keeps 2 cores only ~65% busy); stage timings then overlap."""
        self.models = models
        self.overlap = overlap
        self.thresholds = thresholds or Thresholds()
        self.threads = threads
        self._lock = threading.Lock()
        self._speech: SpeechRecognizer | None = None
        self._faces: FaceAnalyzer | None = None
        self._ocr: OcrEngine | None = None
        self.load_timings: dict[str, float] = {}

    @property
    def speech(self) -> SpeechRecognizer:
        with self._lock:
            if self._speech is None:
                from inspection.speech import DecodeOptions, SpeechRecognizer

                t0 = time.perf_counter()
                th = self.thresholds
                self._speech = SpeechRecognizer(
                    self.models.path("whisper-base"),
                    cpu_threads=self.threads,
                    initial_prompt=th.asr_initial_prompt or None,
                    options=DecodeOptions(beam_size=th.asr_beam_size),
                )
                self.load_timings["load_speech"] = time.perf_counter() - t0
            return self._speech

    @property
    def faces(self) -> FaceAnalyzer:
        with self._lock:
            if self._faces is None:
                from inspection.faces import FaceAnalyzer

                t0 = time.perf_counter()
                self._faces = FaceAnalyzer(
                    self.models.path("yunet"), self.models.path("sface"), threads=self.threads
                )
                self.load_timings["load_faces"] = time.perf_counter() - t0
            return self._faces

    @property
    def ocr(self) -> OcrEngine:
        with self._lock:
            if self._ocr is None:
                from inspection.ocr import OcrEngine

                t0 = time.perf_counter()
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
        run = _Run(inp, nodes, _Progress(progress))
        loads_before = dict(self.load_timings)
        self._probe(run)
        if self.overlap:
            with ThreadPoolExecutor(1, thread_name_prefix="kesu-video") as pool:
                video = pool.submit(self._video, run)
                try:
                    self._audio(run)
                    self._speech_stage(run)
                    self._script_stage(run)
                finally:
                    video.result()  # re-raises the video stage's error
        else:
            self._audio(run)
            self._speech_stage(run)
            self._script_stage(run)
            self._video(run)
        self._documents(run)
        with run.stage("rules"):
            findings = self._findings(run)
            self._save_thumbnails(run, findings)
        loads = {k: v for k, v in self.load_timings.items() if loads_before.get(k) != v}
        run.timings.update(loads)
        run.timings["total"] = time.perf_counter() - t0
        return self._report(run, findings)

    # -- stages ---------------------------------------------------------------------------

    def _probe(self, run: _Run) -> None:
        with run.stage("probe"):
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

    def _audio(self, run: _Run) -> None:
        th = self.thresholds
        with run.stage("audio"):
            for i, who in enumerate(PARTICIPANTS):
                tracks = run.inp.tracks(who)
                if not tracks:
                    continue
                try:
                    audio = load_audio(tracks, SAMPLE_RATE)
                except MediaError as exc:
                    raise InputError(str(exc)) from None
                run.audio[who] = audio
                q = audio_quality(audio, SAMPLE_RATE, silence_dbfs=th.audio_silence_dbfs)
                run.levels[who] = AudioLevels(
                    who, q.speech_dbfs, q.clipped_share, q.duration_s, q.snr_db
                )
                run.progress.stage("audio", (i + 1) / 2)

    def _speech_stage(self, run: _Run) -> None:
        with run.stage("speech"):
            total = sum(len(a) for a in run.audio.values()) or 1
            done = 0
            for who in PARTICIPANTS:
                audio = run.audio.get(who)
                run.utterances[who] = [] if audio is None else self.speech.transcribe(audio, who)
                done += 0 if audio is None else len(audio)
                run.progress.stage("speech", done / total)
            run.audio.clear()  # ~4 MB per minute per participant: not needed any more
            self._played_nodes(run)

    def _played_nodes(self, run: _Run) -> None:
        """Nodes played from the template's audio (the session's ``system`` track)."""
        if run.inp.session_dir is not None:
            run.utterances = with_played_nodes(run.inp.session_dir, run.nodes, run.utterances)

    def _script_stage(self, run: _Run) -> None:
        with run.stage("script"):
            run.script = align_script(
                run.nodes,
                script_speech(run.utterances, run.inp.mode),
                run.inp.template,
                run.inp.policy,
                run.inp.markers,
                self.thresholds,
            )
            run.windows = document_windows(
                run.nodes, run.script.coverage, run.inp.markers, run.duration_s, self.thresholds
            )

    def _video(self, run: _Run) -> None:
        th = self.thresholds
        with run.stage("video"):
            total = max(1, sum(len(run.inp.tracks(p)) for p in PARTICIPANTS))
            done = 0
            for who in PARTICIPANTS:
                tracks = run.inp.tracks(who)
                # Full frames are kept for documents (customer) and reference-photo matching.
                keep = who == "customer" or who in run.inp.reference_photos
                frames = chain.from_iterable(sample_frames(t, th.face_fps) for t in tracks)
                try:
                    run.scans[who] = scan_video(who, frames, self.faces, th, keep)
                except MediaError as exc:
                    raise InputError(str(exc)) from None
                done += len(tracks)
                run.progress.stage("video", done / total)

    def _documents(self, run: _Run) -> None:
        th = self.thresholds
        with run.stage("documents"):
            customer = run.scans.get("customer")
            nodes = {n.document: n for n in run.nodes if n.document}
            for kind, span in run.windows.items():
                card = kind == "id_card"
                kept = document_frames(customer, span, th.ocr_frames, card) if customer else []
                node_id = nodes[kind].id  # type: ignore[index]
                if kind == "id_card":
                    run.id_card = (
                        read_id_card(self.ocr, kept, node_id, span, run.inp.policy.customer_name)
                        if kept
                        else IdCardEvidence(node_id, span, 0)
                    )
                elif kind == "signature":
                    run.signature = (
                        read_signature(
                            self.ocr, kept, node_id, span, run.inp.template.risk_sentence
                        )
                        if kept
                        else SignatureEvidence(node_id, span, 0)
                    )
            run.matches = self._face_matches(run, th)

    def _card_shown(self, run: _Run, who: str, scan: VideoScan, th: Thresholds) -> None:
        """Spans where a second face is left that is an ID card's photo after all: its frame
        shows an ID number or the card's label. The photo may be too small or blurred to
        match the live face, and without a window (speech missed the ID-card node) nothing
        else says a card is shown. One OCR read per run; runs are rare."""
        id_span = [run.windows["id_card"]] if who == "customer" and "id_card" in run.windows else []
        for span, t in extra_face_runs(scan, th, id_span):
            bgr = scan.frame(t)
            if bgr is not None and shows_id_card(self.ocr, bgr):
                run.card_shown.setdefault(who, []).append(span)

    def _face_matches(self, run: _Run, th: Thresholds) -> list[FaceMatch]:
        out: list[FaceMatch] = []
        for who in PARTICIPANTS:
            scan = run.scans.get(who)
            excluded = list(run.windows.values()) if who == "customer" else []
            live = live_embedding(scan, self.faces, th, excluded) if scan else None
            if scan is None or live is None:
                continue
            refs = [live[0]]
            if who == "customer" and "id_card" in run.windows:
                card = card_face_match(scan, self.faces, live[0], run.windows["id_card"], th)
                if card is not None:
                    out.append(FaceMatch("customer", "id_card", card[0], card[1]))
                    if run.id_card is not None:
                        run.id_card = replace(run.id_card, card_seen=True)
                refs += card_photo_refs(scan, self.faces, run.windows["id_card"], th)
            # The card held up outside its window is still a photo, not a second person.
            scan.faces = drop_photo_faces(scan, self.faces, refs, th)
            self._card_shown(run, who, scan, th)
            photo_path = run.inp.reference_photos.get(who)
            if photo_path is not None:
                photo = cv2.imread(str(photo_path))
                emb = photo_embedding(photo, self.faces) if photo is not None else None
                if emb is not None:
                    from inspection.faces import cosine

                    out.append(FaceMatch(who, "reference_photo", cosine(emb, live[0]), live[1]))
        return out

    # -- findings and report ----------------------------------------------------------------

    def _findings(self, run: _Run) -> list[Finding]:
        th = self.thresholds
        sr = run.script
        assert sr is not None
        out: list[Finding] = []
        markers = rules.marker_spans([(m.node, m.t_s) for m in run.inp.markers], run.duration_s)
        out += rules.script_findings(sr.coverage, th, markers)
        out += rules.forbidden_findings(sr.forbidden, th)
        out += rules.number_findings(sr.numbers, th)
        session = (0.0, run.duration_s)
        doc_spans = list(run.windows.values())
        id_span = [run.windows["id_card"]] if "id_card" in run.windows else []
        for who in PARTICIPANTS:
            if who == "salesperson" and run.inp.mode == SELF_SERVICE:
                continue  # the customer records alone: no salesperson is expected in frame
            scan = run.scans.get(who)
            gaps = [(g.start_s, g.end_s) for g in run.gaps if g.participant == who]
            frames = scan.faces if scan else []
            period = scan.period_s if scan else 1.0 / th.face_fps
            excluded = gaps + (doc_spans if who == "customer" else [])
            present = run.presence.get(who)
            out += rules.face_absence_findings(who, frames, period, session, excluded, th, present)
            shown = run.card_shown.get(who, [])
            out += rules.extra_person_findings(
                who, frames, period, (id_span if who == "customer" else []) + shown, th
            )
            if scan:
                out += rules.video_findings(who, scan.stats, th)
            if who in run.levels:
                out += rules.audio_findings(run.levels[who], th)
        out += rules.identity_findings(run.matches, th)
        out += rules.id_card_findings(
            run.id_card, run.inp.policy.customer_name, run.inp.policy.customer_id_number, th
        )
        out += rules.signature_findings(
            run.signature, run.inp.policy.customer_name, run.inp.template.risk_sentence, th
        )
        transcript = _transcript(run)
        for who in PARTICIPANTS:
            snr = run.levels[who].snr_db if who in run.levels else None
            out += rules.asr_findings(who, transcript, th, snr)
        out += rules.gap_findings(run.gaps, th)
        for f in out:
            # Faces, documents, media: what was being said around the moment, for context.
            if "transcript" not in f.evidence and f.start_s is not None:
                near = rules.excerpt_around(transcript, f.start_s, f.end_s or f.start_s)
                f.evidence["transcript"] = near[:6]
        return rules.sort_findings(out)

    def _save_thumbnails(self, run: _Run, findings: list[Finding]) -> None:
        """Write a JPEG for every finding that names a frame; reference it as ``frame``."""
        out_dir = run.inp.evidence_dir
        if out_dir is None:
            return
        for i, f in enumerate(findings):
            t = f.evidence.get("frame_t_s")
            scan = run.scans.get(f.participant or "customer")
            if t is None or scan is None:
                continue
            data = _document_jpeg(scan, float(t)) if f.code.startswith("document.") else None
            if data is None and scan.thumbs:
                nearest = min(scan.thumbs, key=lambda k: abs(k - float(t)))
                data = scan.thumbs[nearest]
            if not data:
                continue
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / f"{i:03d}-{f.code}-{f.participant or 'session'}-{float(t):.1f}s.jpg"
            path.write_bytes(data)
            base = run.inp.session_dir
            f.evidence["frame"] = (
                str(path.relative_to(base)) if base and path.is_relative_to(base) else str(path)
            )

    def _report(self, run: _Run, findings: list[Finding]) -> Report:
        sr = run.script
        assert sr is not None
        tpl = run.inp.template
        return Report(
            duration_s=run.duration_s,
            findings=findings,
            nodes=[
                NodeResult(
                    id=c.node.id,
                    title=c.node.title,
                    covered=rules.is_covered(c, self.thresholds),
                    score=None if c.score is None else round(c.score, 3),
                    start_s=c.start_s,
                    end_s=c.end_s,
                    answer=c.answer,
                )
                for c in sr.coverage
            ],
            transcript=_transcript(run),
            timings=run.timings,
            faces={who: presence_runs(scan) for who, scan in run.scans.items()},
            meta={
                "session_id": run.inp.session_id,
                "template": {"id": tpl.id, "version": tpl.version, "source": tpl.source},
                "product_type": run.inp.policy.product_type,
                "thresholds": self.thresholds.to_dict(),
                "markers_used": bool(run.inp.markers),
                "windows": {k: [round(a, 3), round(b, 3)] for k, (a, b) in run.windows.items()},
                "frames_sampled": {who: len(s.faces) for who, s in run.scans.items()},
            },
        )


def _document_jpeg(scan: VideoScan, t: float) -> bytes | None:
    """The full-size kept frame at ``t`` so a reviewer can read the document."""
    return scan.frames.get(t)


def _transcript(run: _Run) -> list[TranscriptLine]:
    node_of = run.script.node_of_utterance if run.script else {}
    lines = [
        TranscriptLine(
            participant=who,
            start_s=u.start_s,
            end_s=u.end_s,
            text=u.text,
            confidence=round(u.confidence, 3),
            node=node_of.get((u.participant, u.start_s)),
            uncertain=u.uncertain,
        )
        for who in PARTICIPANTS
        for u in run.utterances.get(who, [])
    ]
    return sorted(lines, key=lambda t: (t.start_s, t.participant))


def _derive_gaps(ends: dict[Participant, list[tuple[float, float]]]) -> list[Gap]:
    """Gaps between consecutive segments of each participant."""
    out = []
    for who, spans in ends.items():
        spans = sorted(spans)
        for (_, e0), (s1, _) in zip(spans, spans[1:], strict=False):
            if s1 > e0:
                out.append(Gap(who, e0, s1))
    return out


def document_windows(
    nodes: list[RenderedNode],
    coverage: list[NodeCoverage],
    markers: list[NodeMarker],
    duration_s: float,
    th: Thresholds,
) -> dict[str, Span]:
    """Per document kind, the span in which it must be shown: from the node's start to the
    next node's start (at least ``document_pad_s`` past the node's end and its answer).
    From the markers when speech did not find the node; absent when neither did."""
    by_id = {c.node.id: c for c in coverage}
    out: dict[str, Span] = {}
    for i, node in enumerate(nodes):
        if not node.document:
            continue
        cov = by_id.get(node.id)
        span = (
            _spoken_window(nodes, i, cov, by_id, duration_s, th)
            if cov and rules.is_covered(cov, th)
            else None
        )
        span = span or _marker_window(node.id, markers, duration_s, th)
        if span is not None:
            out[node.document] = span
    return out


def _spoken_window(
    nodes: list[RenderedNode],
    i: int,
    cov: NodeCoverage,
    by_id: dict[str, NodeCoverage],
    duration_s: float,
    th: Thresholds,
) -> Span | None:
    if cov.start_s is None:
        return None
    end = max(cov.end_s or cov.start_s, cov.answer_end_s or 0.0) + th.document_pad_s
    later = [
        c.start_s
        for n in nodes[i + 1 :]
        if (c := by_id.get(n.id)) is not None
        and c.start_s is not None
        and c.start_s > cov.start_s
        and rules.is_covered(c, th)
    ]
    if later:
        end = max(end, min(later))
    return (cov.start_s, min(end, duration_s))


def _marker_window(
    node_id: str, markers: list[NodeMarker], duration_s: float, th: Thresholds
) -> Span | None:
    for j, m in enumerate(markers):
        if m.node == node_id:
            nxt = markers[j + 1].t_s if j + 1 < len(markers) else duration_s
            return (m.t_s, min(duration_s, max(nxt, m.t_s + th.document_pad_s)))
    return None
