"""The live-check worker process: decodes tapped media and runs ``inspection.live`` on it.

Runs apart from the media process (the server) so that speech recognition, face detection
and OCR never share its event loop or its GIL. Fed through one bounded queue of plain
tuples (see ``server.live.service``):

    ("open", session_id, template_id, policy_dict)
    ("marker", session_id, t_s, node_id)
    ("audio", session_id, role, sent_at, [(t_s, rtp_pts, opus_bytes), ...])
    ("video", session_id, role, sent_at, t_s, codec, keyframe_bytes)
    ("close", session_id)
    ("stop",)

and answering on another with ``("state", session_id, state_dict)`` and
``("ready", index, {})``. Times ``t_s`` are seconds since the live session opened (server
clock). Audio that reaches this process more than ``max_lag_s`` late is skipped, not
recognised: live checks fall behind gracefully instead of piling up; the state says how
much was skipped.
"""

from __future__ import annotations

import logging
import os
import queue as queue_mod
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

log = logging.getLogger("kesu.live")

OPUS_RATE = 48000
PUBLISH_EVERY_S = 0.5  # at most this often per session (a state is a few KB of JSON)
DECODERS = {"VP8": "vp8", "H264": "h264"}


@dataclass(frozen=True)
class WorkerConfig:
    """What the process needs from the server's settings (picklable)."""

    models_dir: str = ""
    threads: int = 1
    beam_size: int = 1
    max_lag_s: float = 10.0
    pause_s: float = 0.7
    silent_warn_s: float = 30.0
    frame_interval_s: float = 2.0
    parent_pid: int = 0
    preload: bool = True
    # Below the media process: when the cores are short, relaying and recording win and the
    # live checks fall behind (and skip, see max_lag_s) instead.
    niceness: int = 5


@dataclass
class _AudioClock:
    """Maps one participant's RTP timestamps to the live timeline. Within a connection the
    RTP clock is the truth (arrival times jitter by seconds on a loaded server, which would
    cut utterances in two); it is re-anchored on arrival time only when the timestamps jump
    (a new connection) or drift from arrival by more than ``MAX_DRIFT_S``."""

    t0: float | None = None
    pts0: int = 0
    last_pts: int = 0

    MAX_STEP_S = 5.0
    MAX_DRIFT_S = 10.0

    def t_of(self, arrival_s: float, pts: int) -> float:
        if self.t0 is not None:
            step = (pts - self.last_pts) / OPUS_RATE
            t = self.t0 + (pts - self.pts0) / OPUS_RATE
            if 0 <= step <= self.MAX_STEP_S and abs(t - arrival_s) < self.MAX_DRIFT_S:
                self.last_pts = pts
                return t
        self.t0, self.pts0, self.last_pts = arrival_s, pts, pts
        return arrival_s


@dataclass
class _Session:
    checker: Any  # inspection.live.LiveChecker
    decoders: dict[str, Any] = field(default_factory=dict)
    resamplers: dict[str, Any] = field(default_factory=dict)
    clocks: dict[str, _AudioClock] = field(default_factory=dict)
    skipped_audio_s: float = 0.0
    lag_s: float = 0.0
    dirty: bool = True
    published: float = 0.0
    errors: int = 0


class LiveWorker:
    """The process's state: models (built once) and one checker per open session."""

    def __init__(self, config: WorkerConfig) -> None:
        from inspection.pipeline import Inspector
        from inspection.rules import Thresholds
        from models.registry import ModelRegistry, default_cache_dir

        registry = ModelRegistry(
            default_cache_dir(), Path(config.models_dir) if config.models_dir else None
        )
        self.config = config
        self.inspector = Inspector(
            registry, Thresholds(asr_beam_size=config.beam_size), threads=config.threads
        )
        self.sessions: dict[str, _Session] = {}

    def handle(self, msg: tuple[Any, ...]) -> None:
        kind, sid = msg[0], msg[1]
        if kind == "open":
            self._open(sid, msg[2], msg[3])
            return
        session = self.sessions.get(sid)
        if session is None:
            return
        if kind == "close":
            del self.sessions[sid]
        elif kind == "marker":
            session.checker.add_marker(msg[2], msg[3])
            session.dirty = True
        elif kind == "audio":
            self._audio(session, msg[2], msg[3], msg[4])
        elif kind == "video":
            self._video(session, msg[2], msg[3], msg[4], msg[5], msg[6])

    def _open(self, sid: str, template_id: str, policy: dict[str, Any]) -> None:
        from inspection.live import LiveChecker, LiveConfig
        from inspection.policy import Policy
        from inspection.templates import load_template, render

        if sid in self.sessions:
            return
        template = load_template(template_id)
        pol = Policy.from_dict(policy)
        c = self.config
        ins = self.inspector
        checker = LiveChecker(
            render(template, pol),
            template,
            pol,
            speech=lambda: ins.speech,
            faces=lambda: ins.faces,
            ocr=lambda: ins.ocr,
            thresholds=ins.thresholds,
            config=LiveConfig(
                pause_s=c.pause_s,
                silent_warn_s=c.silent_warn_s,
                frame_interval_s=c.frame_interval_s,
            ),
        )
        self.sessions[sid] = _Session(checker)

    def _audio(
        self, s: _Session, role: str, sent_at: float, packets: list[tuple[float, int, bytes]]
    ) -> None:
        if role not in s.decoders:
            s.decoders[role] = av.CodecContext.create("opus", "r")
            s.resamplers[role] = av.AudioResampler(format="flt", layout="mono", rate=16000)
            s.clocks[role] = _AudioClock()
        t_first = s.clocks[role].t_of(packets[0][0], packets[0][1])
        for arrival, pts, _ in packets[1:]:
            s.clocks[role].t_of(arrival, pts)  # keep the clock anchored
        pcm = []
        for _, _, data in packets:
            try:
                for frame in s.decoders[role].decode(av.Packet(data)):
                    pcm += [f.to_ndarray().reshape(-1) for f in s.resamplers[role].resample(frame)]
            except av.FFmpegError:
                s.errors += 1
        if not pcm:
            return
        samples = np.concatenate(pcm).astype(np.float32)
        s.lag_s = time.time() - sent_at
        if s.lag_s > self.config.max_lag_s:
            s.skipped_audio_s += len(samples) / 16000
            s.dirty = True
            return
        s.dirty |= s.checker.feed_audio(role, t_first, samples)
        s.dirty |= time.time() - s.published > 2.0  # silence warnings, answer waits

    def _video(
        self, s: _Session, role: str, sent_at: float, t_s: float, codec: str, data: bytes
    ) -> None:
        if time.time() - sent_at > self.config.max_lag_s or codec not in DECODERS:
            return
        # A fresh decoder per sampled keyframe: nothing in between is decoded at all.
        ctx: Any = av.CodecContext.create(DECODERS[codec], "r")
        try:
            frames = list(ctx.decode(av.Packet(data))) + list(ctx.decode(None))
        except av.FFmpegError:
            s.errors += 1
            return
        if frames:
            bgr = frames[-1].to_ndarray(format="bgr24")
            s.dirty |= s.checker.feed_frame(role, t_s, bgr)

    def states(self, force: bool = False) -> list[tuple[str, dict[str, Any]]]:
        """States of the sessions that changed (at most every PUBLISH_EVERY_S each)."""
        now = time.time()
        out = []
        for sid, s in self.sessions.items():
            if s.dirty and (force or now - s.published >= PUBLISH_EVERY_S):
                state = s.checker.state()
                state["lag_s"] = round(s.lag_s, 2)
                state["skipped_audio_s"] = round(s.skipped_audio_s, 1)
                out.append((sid, state))
                s.dirty, s.published = False, now
        return out


def run(config: WorkerConfig, inbox: Any, outbox: Any, index: int = 0) -> None:
    """The process's main function (multiprocessing spawn target); ``index`` names it in
    its ready message."""
    from server.parentwatch import die_with_parent

    if config.parent_pid:
        die_with_parent(config.parent_pid)
    if config.niceness > 0:
        os.nice(config.niceness)
    worker = LiveWorker(config)
    if config.preload:
        _ = worker.inspector.speech  # the first utterance must not wait for the model
    outbox.put(("ready", index, {}))
    while True:
        try:
            msg = inbox.get(timeout=PUBLISH_EVERY_S)
        except queue_mod.Empty:
            msg = None
        if msg is not None and msg[0] == "stop":
            return
        if msg is not None:
            try:
                worker.handle(msg)
            except Exception:
                log.exception("live check of %s failed on %s", msg[1], msg[0])
        for sid, state in worker.states(force=msg is None):
            outbox.put(("state", sid, state))
