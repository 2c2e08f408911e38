"""One clock for a participant's audio and video, from RTCP sender reports.

Each track's RTP timestamps start at an arbitrary value; a sender report (SR) says which
RTP timestamp corresponds to which instant of the sender's wall clock, for each track, so
both tracks can be put on the sender's clock (lip sync). The sender's clock is then put on
the server clock with the smallest observed (arrival - send time), i.e. the transit delay
of the fastest packet. A track without an SR is placed by its arrival times instead.
Mappings are fixed the first time a track is needed, so timestamps never jump. Of the
reports received until then, the one giving the earliest capture time wins: a sender that
stamps reports with its send time (aiortc does) can only be late, never early, and for a
sender that stamps capture time (browsers) all reports agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.rtc.passthrough import SenderReport

# How far the sender's clock may put a packet after it arrived (it cannot have been captured
# later; this is slack for clock drift and the transit estimate) or before it (a packet held
# up on the way, or by a stalled server); beyond either, the sender's timestamps are not
# believed (see ``AvClock.place``).
MAX_AHEAD_S = 5.0
MAX_BEHIND_S = 60.0
# How far a track's timestamps may go back from the newest it has had: the receiver hands
# frames out in sequence order, so more than a frame back is no jitter, and the recorder
# drops a packet more than a second behind its track's newest (its ``MAX_LEAD_MS``).
MAX_BACK_S = 1.0


def extend_timestamp(ts32: int, reference: int) -> int:
    """The value congruent to ``ts32`` mod 2**32 that is nearest ``reference``."""
    delta = (ts32 - reference) & 0xFFFFFFFF
    if delta >= 1 << 31:
        delta -= 1 << 32
    return reference + delta


@dataclass
class _Track:
    clock_rate: int
    report: SenderReport | None = None  # the chosen one, once fixed
    reports: list[SenderReport] = field(default_factory=list)
    min_arrival_lag: float | None = None  # min(arrival - pts/clock_rate)
    last_pts: int | None = None
    offset: float | None = None  # sender time = pts / clock_rate + offset (once fixed)
    synced: bool = False  # whether offset came from an SR
    rebased: int = 0  # times ``place`` re-anchored the track on arrival times
    newest: int | None = None  # the highest pts ``place`` had since the track's anchor
    samples: list[tuple[int, float]] = field(default_factory=list)  # early (pts, arrival)


class AvClock:
    """Maps (track, RTP timestamp) to seconds on the sender's and on the server's clock."""

    MAX_SAMPLES = 200

    def __init__(self, clock_rates: dict[str, int]) -> None:
        self._tracks = {kind: _Track(rate) for kind, rate in clock_rates.items()}
        self.server_offset: float | None = None  # server time = sender time + server_offset

    def observe(self, kind: str, pts: int, arrival: float) -> None:
        """Note a packet's arrival (server ``time.time()``)."""
        track = self._tracks[kind]
        lag = arrival - pts / track.clock_rate
        if track.min_arrival_lag is None or lag < track.min_arrival_lag:
            track.min_arrival_lag = lag
        track.last_pts = pts
        if len(track.samples) < self.MAX_SAMPLES:
            track.samples.append((pts, arrival))

    MAX_REPORTS = 16

    def sender_report(self, kind: str, report: SenderReport) -> None:
        track = self._tracks[kind]
        if track.offset is None and len(track.reports) < self.MAX_REPORTS:
            track.reports.append(report)

    def report_count(self, kind: str) -> int:
        return len(self._tracks[kind].reports)

    def has_report(self, kind: str) -> bool:
        return bool(self._tracks[kind].reports)

    def seen(self, kind: str) -> bool:
        return self._tracks[kind].last_pts is not None

    @property
    def mode(self) -> str:
        """``rtcp`` if every fixed track used an SR, ``arrival`` if none did, else ``mixed``."""
        fixed = [t for t in self._tracks.values() if t.offset is not None]
        if fixed and all(t.synced for t in fixed):
            return "rtcp"
        if not any(t.synced for t in fixed):
            return "arrival"
        return "mixed"

    def fix(self) -> None:
        """Fix the server offset from what has been observed (call once, at the start)."""
        if self.server_offset is not None:
            return
        lags = []
        for track in self._tracks.values():
            if not track.reports or track.last_pts is None:
                continue
            track.report = self._best_report(track, track.last_pts)
            for pts, arrival in track.samples:
                lags.append(arrival - self._sr_time(track, pts))
        self.server_offset = min(lags) if lags else 0.0

    def sender_time(self, kind: str, pts: int) -> float:
        """Seconds on the sender's clock (Unix epoch) at which this packet was captured."""
        track = self._tracks[kind]
        if track.offset is None:
            self.fix()
            assert self.server_offset is not None
            if track.report is None and track.reports:
                track.report = self._best_report(track, pts)
            if track.report is not None:
                track.offset = self._sr_time(track, pts) - pts / track.clock_rate
                track.synced = True
            else:
                lag = track.min_arrival_lag
                if lag is None:
                    raise ValueError(f"no {kind} packet observed yet")
                track.offset = lag - self.server_offset
        return pts / track.clock_rate + track.offset

    def place(self, kind: str, pts: int, arrival: float) -> float:
        """``sender_time`` of a packet that arrived at ``arrival`` (server clock), unless that
        puts it more than ``MAX_AHEAD_S`` after its arrival or ``MAX_BEHIND_S`` before it:
        then the track is re-anchored so that this packet and the ones after it are placed
        by their arrival. The timestamps are the sender's choice: one jump of 2**31 ticks
        made a 5 s recording last 2.5 days (every reader then walks that time line: the
        review video renders it frame by frame), and one jump back an hour had every later
        video frame dropped as before the file's start. A packet more than ``MAX_BACK_S``
        before the newest of its track re-anchors it too: a jump back of 10 s (within
        ``MAX_BEHIND_S``) had the video dropped until its time caught up, 10 s later."""
        sender = self.sender_time(kind, pts)
        assert self.server_offset is not None
        lead = sender + self.server_offset - arrival
        track = self._tracks[kind]
        back = track.newest is not None and track.newest - pts > MAX_BACK_S * track.clock_rate
        if back or lead > MAX_AHEAD_S or -lead > MAX_BEHIND_S:
            track.offset = arrival - self.server_offset - pts / track.clock_rate
            track.synced = False
            track.rebased += 1
            track.newest = pts
            sender = arrival - self.server_offset
        elif track.newest is None or pts > track.newest:
            track.newest = pts
        return sender

    def rebased(self, kind: str) -> int:
        return self._tracks[kind].rebased

    def to_server(self, sender_time: float) -> float:
        """A sender-clock time on the server clock (once fixed)."""
        assert self.server_offset is not None
        return sender_time + self.server_offset

    def describe(self) -> str:
        """Offsets per track (sender clock) and the server offset, for logs."""
        parts = [f"{kind}: offset={t.offset!r} sr={t.report!r}" for kind, t in self._tracks.items()]
        return f"server_offset={self.server_offset!r}; " + "; ".join(parts)

    def server_time(self, kind: str, pts: int) -> float:
        """Seconds on the server's clock (Unix epoch) corresponding to this packet."""
        sender = self.sender_time(kind, pts)
        assert self.server_offset is not None
        return sender + self.server_offset

    @staticmethod
    def _best_report(track: _Track, ref: int) -> SenderReport:
        """The report that maps ``ref`` to the earliest sender time."""
        return min(
            track.reports,
            key=lambda r: r.ntp_time - extend_timestamp(r.rtp_timestamp, ref) / track.clock_rate,
        )

    @staticmethod
    def _sr_time(track: _Track, pts: int) -> float:
        assert track.report is not None
        sr_pts = extend_timestamp(track.report.rtp_timestamp, pts)
        return track.report.ntp_time + (pts - sr_pts) / track.clock_rate
