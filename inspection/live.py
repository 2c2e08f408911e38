"""Live checks: the offline inspection run incrementally while a session is being recorded.

A :class:`LiveChecker` is fed 16 kHz mono audio and sampled video frames of both
participants on one timeline (seconds since the live session began) and keeps a
:class:`LiveState`: the script checklist (covered / not yet / too different, each customer
answer as given), warnings (out of frame, a second person, forbidden phrase, a number that
differs from the policy, silent or clipped audio) and the document prompts (ID card,
signature page) until a readable one was seen.

Nothing here is a second model family or a copy of the offline rules: speech is cut into
utterances at pauses and each utterance goes through the same ``SpeechRecognizer``; after
each utterance the whole transcript so far goes through ``script_stage.align_script`` (node
alignment, answers, forbidden phrases, spoken numbers) exactly as the offline pipeline
calls it; frames go through the same ``FaceAnalyzer`` and ``documents.read_id_card`` /
``read_signature``. Live results are advisory; the offline inspection stays the judge.
The vision half lives in ``inspection.live_vision``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inspection.inputs import NodeMarker
from inspection.live_vision import LiveVision, LiveWarning
from inspection.quality import window_levels
from inspection.rules import Thresholds
from inspection.script_stage import ScriptResult, align_script
from inspection.speech import SAMPLE_RATE, Utterance
from inspection.templates import RenderedNode, Template

if TYPE_CHECKING:
    from inspection.faces import FaceAnalyzer
    from inspection.ocr import OcrEngine
    from inspection.policy import Policy
    from inspection.speech import SpeechRecognizer

PARTICIPANTS = ("salesperson", "customer")
_WINDOW_S = 0.1  # level windows for cutting utterances


@dataclass(frozen=True)
class LiveConfig:
    """How speech is cut and when warnings rise (docs/live.md; settings ``live_*``)."""

    pause_s: float = 0.7  # silence that ends an utterance
    max_utterance_s: float = 15.0  # longer speech is cut here (a bounded ASR call)
    min_utterance_s: float = 0.3
    voice_dbfs: float = -45.0  # a 0.1 s window louder than this is voice
    silent_warn_s: float = 30.0  # a participant's audio silent this long: "no sound"
    clipped_share: float = 0.01  # share of clipped samples in an utterance: "clipped"
    partial_similarity: float = 0.45  # below the node threshold but above this: too different
    partial_unmarked_extra: float = 0.1  # ... plus this when the teleprompter never showed it
    frame_interval_s: float = 2.0  # frames closer than this are skipped
    ocr_interval_s: float = 2.0  # OCR at most this often while a document is awaited


@dataclass
class _Speech:
    """One participant's audio not yet recognised."""

    chunks: list[np.ndarray] = field(default_factory=list)
    start_s: float | None = None  # of the first buffered sample
    voiced_s: float = 0.0
    silence_s: float = 0.0  # trailing silence in the buffer
    last_voice_s: float | None = None
    end_s: float = 0.0  # timeline position after the last sample fed

    def samples(self) -> int:
        return sum(len(c) for c in self.chunks)


def node_json(node: RenderedNode) -> dict[str, Any]:
    return {
        "id": node.id,
        "title": node.title,
        "speaker": node.speaker,
        "required": node.required,
        "requires_answer": node.requires_answer,
        "document": node.document,
    }


class LiveChecker:
    """Incremental checks of one live session. Not thread-safe: one feeder at a time."""

    def __init__(
        self,
        nodes: list[RenderedNode],
        template: Template,
        policy: Policy,
        speech: Callable[[], SpeechRecognizer],
        faces: Callable[[], FaceAnalyzer] | None = None,
        ocr: Callable[[], OcrEngine] | None = None,
        thresholds: Thresholds | None = None,
        config: LiveConfig | None = None,
    ) -> None:
        self.nodes = nodes
        self.template = template
        self.policy = policy
        self.th = thresholds or Thresholds()
        self.config = config or LiveConfig()
        self._speech = speech
        self.utterances: dict[str, list[Utterance]] = {p: [] for p in PARTICIPANTS}
        self.markers: list[NodeMarker] = []
        self.script: ScriptResult | None = None
        self._buffers = {p: _Speech() for p in PARTICIPANTS}
        self._clipped: dict[str, float] = {}
        self.now_s = 0.0
        self.vision = LiveVision(nodes, policy, template, self.th, self.config, faces, ocr)

    # ------------------------------------------------------------------ input

    def add_marker(self, t_s: float, node_id: str) -> None:
        """The teleprompter moved to ``node_id`` (a node event of the session)."""
        self.markers.append(NodeMarker(node=node_id, t_s=t_s))
        self.now_s = max(self.now_s, t_s)

    def feed_audio(self, participant: str, t_s: float, samples: np.ndarray) -> bool:
        """Append 16 kHz mono float32 ``samples`` starting at ``t_s``; recognises every
        utterance that ended (a pause, or ``max_utterance_s``). True if the state changed."""
        buf = self._buffers[participant]
        changed = False
        if buf.start_s is not None and t_s - buf.end_s > self.config.pause_s:
            changed |= self._recognise(participant)  # a hole in the audio ends speech too
        levels = window_levels(samples.astype(np.float32), SAMPLE_RATE, _WINDOW_S)
        size = round(_WINDOW_S * SAMPLE_RATE)
        for i, level in enumerate(levels):
            piece = samples[i * size : (i + 1) * size]
            at = t_s + i * _WINDOW_S
            voiced = bool(level > self.config.voice_dbfs)
            if voiced:
                buf.last_voice_s = at
            if buf.start_s is None:
                if not voiced:
                    continue
                buf.start_s = at
            buf.chunks.append(piece)
            buf.silence_s = 0.0 if voiced else buf.silence_s + len(piece) / SAMPLE_RATE
            buf.voiced_s += len(piece) / SAMPLE_RATE if voiced else 0.0
            length = buf.samples() / SAMPLE_RATE
            if buf.silence_s >= self.config.pause_s or length >= self.config.max_utterance_s:
                changed |= self._recognise(participant)
        buf.end_s = t_s + len(samples) / SAMPLE_RATE
        if buf.last_voice_s is None:
            buf.last_voice_s = t_s  # silence counts from the first audio heard
        self.now_s = max(self.now_s, buf.end_s)
        return changed

    def feed_frame(self, participant: str, t_s: float, bgr: np.ndarray) -> bool:
        """A sampled video frame; True if the state changed."""
        self.now_s = max(self.now_s, t_s)
        return self.vision.feed(participant, t_s, bgr, self._current_node())

    def flush(self) -> bool:
        """Recognise whatever speech is still buffered (the session is ending)."""
        return any([self._recognise(p) for p in PARTICIPANTS])

    # ------------------------------------------------------------------ speech

    def _recognise(self, participant: str) -> bool:
        buf = self._buffers[participant]
        self._buffers[participant] = _Speech(end_s=buf.end_s, last_voice_s=buf.last_voice_s)
        if buf.start_s is None or buf.voiced_s < self.config.min_utterance_s:
            return False
        audio = np.concatenate(buf.chunks).astype(np.float32)
        clipped = float(np.mean(np.abs(audio) >= 0.99))
        if clipped > self.config.clipped_share:
            self._clipped[participant] = buf.start_s
        found = self._speech().transcribe(audio, participant, offset_s=buf.start_s)
        if not found:
            return bool(clipped > self.config.clipped_share)
        self.utterances[participant].extend(found)
        self.script = align_script(
            self.nodes, self.utterances, self.template, self.policy, self.markers, self.th
        )
        return True

    # ------------------------------------------------------------------ state

    def _current_node(self) -> RenderedNode | None:
        """The node being worked on: the teleprompter's, else the last one spoken."""
        by_id = {n.id: n for n in self.nodes}
        if self.markers:
            return by_id.get(self.markers[-1].node)
        spoken = [c for c in self.script.coverage if c.start_s is not None] if self.script else []
        if not spoken:
            return None
        return max(spoken, key=lambda c: c.start_s or 0.0).node

    def _reached(self) -> int:
        """Index of the furthest node reached (teleprompter or speech); -1 before any."""
        index = {n.id: n.index for n in self.nodes}
        reached = [index.get(m.node, -1) for m in self.markers]
        if self.script is not None:
            reached += [c.node.index for c in self.script.coverage if c.start_s is not None]
        return max(reached, default=-1)

    def checklist(self) -> list[dict[str, Any]]:
        by_id = {c.node.id: c for c in self.script.coverage} if self.script else {}
        reached = self._reached()
        marked = {m.node for m in self.markers}
        out = []
        for node in self.nodes:
            item = node_json(node)
            c = by_id.get(node.id)
            status = "pending"
            if c is not None and c.start_s is not None:
                status = "covered"
            elif c is not None and node.index < reached and self._attempted(node, c.score, marked):
                status = "too_different"
            item.update(status=status, score=round(c.score, 2) if c else 0.0)
            item["start_s"] = c.start_s if c else None
            item["answer"] = self._answer(node, c)
            item["answer_text"] = c.answer_text if c and item["answer"] else ""
            out.append(item)
        return out

    def _attempted(self, node: RenderedNode, score: float, marked: set[str]) -> bool:
        """Was a node that is not covered said differently (rather than skipped)? Another
        node's sentence can score ~0.5 against it (the cooling-off sentence against the
        surrender-loss node), so without the teleprompter on it the bar is higher."""
        bar = self.config.partial_similarity
        return score >= (bar if node.id in marked else bar + self.config.partial_unmarked_extra)

    def _answer(self, node: RenderedNode, c: Any) -> str | None:
        if not node.requires_answer or c is None or c.start_s is None:
            return None
        if c.answer == "missing":
            # Silence is not consent, but only once the customer had the time to answer.
            waited = self.now_s - (c.end_s or c.start_s)
            return "missing" if waited > self.th.answer_window_s else "waiting"
        return str(c.answer) if c.answer else None

    def warnings(self) -> list[LiveWarning]:
        out = list(self.vision.warnings(self.now_s))
        for who, buf in self._buffers.items():
            if (
                buf.last_voice_s is not None
                and self.now_s - buf.last_voice_s > self.config.silent_warn_s
            ):
                out.append(LiveWarning("media.silent", who, buf.last_voice_s, active=True))
        out += [LiveWarning("media.clipped", who, t) for who, t in self._clipped.items()]
        if self.script is not None:
            for h in self.script.forbidden:
                out.append(
                    LiveWarning(
                        "speech.forbidden_phrase",
                        h.participant,
                        h.start_s,
                        detail={"phrase": h.phrase},
                    )
                )
            for n in self.script.numbers:
                if n.matches is False and n.spoken is not None:
                    out.append(
                        LiveWarning(
                            "speech.number_mismatch",
                            "salesperson",
                            n.start_s or 0.0,
                            detail={"field": n.field, "spoken": n.spoken, "expected": n.expected},
                        )
                    )
        return out

    def missing(self, checklist: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """Required items not done: nodes not covered, answers not a clear yes, documents
        not seen (what the salesperson is asked to confirm before ending)."""
        items = []
        for item in checklist or self.checklist():
            if not item["required"]:
                continue
            if item["status"] != "covered":
                items.append({"node": item["id"], "title": item["title"], "why": "not_covered"})
            elif item["requires_answer"] and item["answer"] != "affirmative":
                items.append(
                    {"node": item["id"], "title": item["title"], "why": "answer",
                     "answer": item["answer"] or "missing"}
                )  # fmt: skip
        for doc in self.vision.documents():
            if doc["status"] != "seen":
                items.append({"node": doc["node"], "title": doc["title"], "why": "document",
                              "document": doc["document"]})  # fmt: skip
        return items

    def state(self) -> dict[str, Any]:
        """Everything the salesperson's page shows (JSON-ready)."""
        checklist = self.checklist()
        current = self._current_node()
        return {
            "t_s": round(self.now_s, 2),
            "current_node": current.id if current else None,
            "nodes": checklist,
            "warnings": [w.to_dict() for w in self.warnings()],
            "documents": self.vision.documents(),
            "missing": self.missing(checklist),
            "customer_prompts": self.customer_prompts(checklist, current),
        }

    def customer_prompts(
        self, checklist: list[dict[str, Any]], current: RenderedNode | None
    ) -> list[str]:
        """Prompt codes for the customer's own page (the page words them)."""
        prompts = []
        for doc in self.vision.documents():
            if doc["status"] == "prompt":
                prompts.append(f"show_{doc['document']}")
        if any(i["answer"] == "waiting" for i in checklist):
            prompts.append("answer_clearly")
        if any(w.code == "face.absent" and w.participant == "customer" and w.active
               for w in self.vision.warnings(self.now_s)):  # fmt: skip
            prompts.append("stay_in_frame")
        return prompts
