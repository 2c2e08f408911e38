"""Settings of the media layer, built from the server's settings table (see server/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.rtc.ice import parse_port_range
from server.rtc.offer import RemoteCandidatePolicy
from server.rtc.turn import IceServers

AUDIO_CODECS = ("opus",)
VIDEO_CODECS = ("VP8", "H264")


@dataclass(frozen=True)
class RtcSettings:
    """How rooms negotiate, relay and record. Defaults suit a real deployment."""

    loopback_only: bool = False
    """Gather ICE candidates on 127.0.0.1 only (tests, single-machine demos)."""
    host_addresses: tuple[str, ...] = ()
    """Host candidate addresses to offer; empty = every interface (aioice's default)."""
    udp_ports: tuple[int, int] | None = None
    """Inclusive local UDP port range for the server's ICE host candidates; None = any."""
    private_candidates: bool = False
    """Let the server's ICE check a browser's candidates on private networks (one intranet)."""
    max_remote_candidates: int = 8
    """ICE candidates per offer section the server's ICE checks (the first that pass)."""
    ice: IceServers = IceServers()
    """STUN/TURN servers for the server's connections and for the browsers."""
    video_codecs: tuple[str, ...] = VIDEO_CODECS
    """Video codecs in order of preference; the first participant's offer fixes the room's."""
    max_sdp_bytes: int = 64 * 1024
    keyframe_interval_s: float = 5.0
    """Ask each sender for a keyframe this often (seekable, crash-tolerant recordings)."""
    media_timeout_s: float = 6.0
    """A connected participant with no media for this long is dropped (killed browser)."""
    connect_timeout_s: float = 20.0
    """A participant whose media never arrives is dropped after this long."""
    video_wait_s: float | None = 8.0
    """With audio but no video keyframe for this long, record the audio alone (camera
    denied or stuck) rather than nothing; None waits for video for ever."""
    sync_wait_s: float = 2.5
    """How long a recorder waits for RTCP sender reports before syncing on arrival times."""
    cluster_time_limit_ms: int = 1000
    """Matroska cluster length: what a crash can cost at most, plus the flushed packet."""
    recorder_queue: int = 2048
    relay_queue: int = 256
    stop_timeout_s: float = 10.0
    ice_consent_interval_s: float | None = None
    """If set, aioice's consent-check interval (process-wide; see ice.configure_consent)."""
    ice_consent_failures: int = 4

    @classmethod
    def from_settings(cls, settings: Any) -> RtcSettings:
        """Take the ``rtc_*`` and SDP fields of the server's Settings (duck-typed)."""
        hosts = getattr(settings, "rtc_host_addresses", "") or ""
        if isinstance(hosts, str):
            hosts = tuple(h.strip() for h in hosts.split(",") if h.strip())
        values: dict[str, Any] = {
            "loopback_only": bool(getattr(settings, "rtc_loopback_only", False)),
            "host_addresses": tuple(hosts),
            "max_sdp_bytes": int(getattr(settings, "max_sdp_bytes", cls.max_sdp_bytes)),
            "udp_ports": parse_port_range(str(getattr(settings, "rtc_udp_ports", "") or "")),
            "ice": IceServers.from_settings(settings),
        }
        for name in cls.__dataclass_fields__:
            if hasattr(settings, f"rtc_{name}") and name not in values:
                values[name] = getattr(settings, f"rtc_{name}")
        return cls(**values)

    @property
    def remote_candidates(self) -> RemoteCandidatePolicy | None:
        """Which offered candidates to keep; None in loopback mode (nothing else reachable)."""
        if self.loopback_only:
            return None
        return RemoteCandidatePolicy(self.private_candidates, self.max_remote_candidates)

    @property
    def candidate_addresses(self) -> tuple[str, ...] | None:
        """Addresses to gather on, or None for aioice's default (every interface)."""
        if self.loopback_only:
            return ("127.0.0.1",)
        return self.host_addresses or None
