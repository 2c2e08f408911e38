"""State of one inspection run, passed between the stages, and its progress reporting."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from inspection.inputs import InspectionInput
from inspection.rules import AudioLevels, FaceMatch, Gap, IdCardEvidence, SignatureEvidence, Span
from inspection.script_stage import ScriptResult
from inspection.templates import RenderedNode
from inspection.vision import VideoScan

if TYPE_CHECKING:
    from inspection.speech import Utterance

ProgressFn = Callable[[str, float], None]

# Share of the total run time each stage takes (measured on corpus sessions), for progress.
STAGE_WEIGHTS = {
    "probe": 0.01,
    "audio": 0.04,
    "speech": 0.45,
    "script": 0.02,
    "video": 0.38,
    "documents": 0.08,
    "rules": 0.02,
}


class Progress:
    """Turns per-stage fractions into one overall fraction for the caller's callback.

    Thread-safe: the stages report from the lanes they run on.
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
            total = sum(STAGE_WEIGHTS.get(k, 0.0) * f for k, f in self.fractions.items())
            self.fn(name, min(1.0, total))

    def finish(self, name: str) -> None:
        self.stage(name, 1.0)


@dataclass
class RunState:
    """State of one run, passed between the stage functions. Stages that run at the same time
    write disjoint fields (per participant keys are set under ``lock``)."""

    inp: InspectionInput
    nodes: list[RenderedNode]
    progress: Progress
    timings: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)
    duration_s: float = 0.0
    gaps: list[Gap] = field(default_factory=list)
    presence: dict[str, list[Span]] = field(default_factory=dict)  # participant -> in session
    audio: dict[str, np.ndarray] = field(default_factory=dict)
    audio_done: int = 0  # participants whose audio stage finished
    levels: dict[str, AudioLevels] = field(default_factory=dict)
    # participant -> transcript pieces by start sample (a long track is decoded in pieces)
    pieces: dict[str, dict[int, list[Utterance]]] = field(default_factory=dict)
    speech_done_s: float = 0.0
    speech_pieces: dict[str, int] = field(default_factory=dict)  # participant -> pieces decoded
    tasks: list[dict[str, object]] = field(default_factory=list)  # the lanes' timeline
    utterances: dict[str, list[Utterance]] = field(default_factory=dict)
    script: ScriptResult | None = None
    windows: dict[str, Span] = field(default_factory=dict)  # document kind -> span
    scans: dict[str, VideoScan] = field(default_factory=dict)
    id_card: IdCardEvidence | None = None
    signature: SignatureEvidence | None = None
    matches: list[FaceMatch] = field(default_factory=list)
    card_shown: dict[str, list[Span]] = field(default_factory=dict)  # 2+ faces, card read
    lock: threading.Lock = field(default_factory=threading.Lock)
