"""The probe stage of a run: every segment's duration, the session's length, the gaps
between a participant's segments (and what a file cut after recording lost), and when each
participant was in the session."""

from __future__ import annotations

from inspection.inputs import PARTICIPANTS, InputError, presence_spans
from inspection.media import MediaError, probe
from inspection.report import Participant
from inspection.rules import Gap
from inspection.run_state import RunState
from inspection.short_media import short_media_gaps


def probe_tracks(run: RunState) -> None:
    """Set ``run.duration_s``, ``run.gaps`` and ``run.presence``; raises InputError for
    media that cannot be read or that has no duration."""
    ends: dict[Participant, list[tuple[float, float]]] = {p: [] for p in PARTICIPANTS}
    probed = []
    for who in PARTICIPANTS:
        for track in run.inp.tracks(who):
            try:
                info = probe(track.path)
            except MediaError as exc:
                raise InputError(str(exc)) from None
            ends[who].append((track.offset_s, track.offset_s + info.duration_s))
            probed.append((who, track, info))
    run.duration_s = max((e for spans in ends.values() for _, e in spans), default=0.0)
    if run.duration_s <= 0:
        raise InputError("the recordings have no duration")
    # Recorded gaps, plus any hole between segments that metadata did not record.
    recorded = list(run.inp.gaps or [])
    derived = [
        g
        for g in derive_gaps(ends) + short_media_gaps(probed)
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


def derive_gaps(ends: dict[Participant, list[tuple[float, float]]]) -> list[Gap]:
    """Gaps between consecutive segments of each participant."""
    out = []
    for who, spans in ends.items():
        spans = sorted(spans)
        for (_, e0), (s1, _) in zip(spans, spans[1:], strict=False):
            if s1 > e0:
                out.append(Gap(who, e0, s1))
    return out
