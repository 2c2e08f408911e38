"""The video stage of a run: one participant's frames sampled and scanned for faces, light
and sharpness (``inspection.vision.scan_video``)."""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING

from inspection.inputs import InputError
from inspection.media import MediaError, sample_frames
from inspection.report import Participant
from inspection.rules import Thresholds
from inspection.run_state import RunState
from inspection.vision import scan_video

if TYPE_CHECKING:
    from inspection.faces import FaceAnalyzer


def scan_participant(
    run: RunState, who: Participant, faces: FaceAnalyzer, th: Thresholds, decoders: int
) -> None:
    """Scan ``who``'s video into ``run.scans``. ``decoders``: decoder threads
    (``sample_frames``: 0, FFmpeg's choice; 1, on this thread, when the lanes already keep
    every core busy)."""
    tracks = run.inp.tracks(who)
    # Full frames are kept for documents (customer) and reference-photo matching.
    keep = who == "customer" or who in run.inp.reference_photos
    frames = chain.from_iterable(sample_frames(t, th.face_fps, None, decoders) for t in tracks)
    try:
        scan = scan_video(who, frames, faces, th, keep)
    except MediaError as exc:
        raise InputError(str(exc)) from None
    with run.lock:
        run.scans[who] = scan
        run.progress.stage("video", len(run.scans) / 2)
