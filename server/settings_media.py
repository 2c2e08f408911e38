"""Settings of live sessions: rejoin window, per-session and per-request limits, WebRTC
addresses and ports, media nodes and ICE servers (part of ``server.settings.Settings``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.settings_values import setting_meta


@dataclass(frozen=True, repr=False)
class MediaSettings:
    """Live sessions: limits, requests, WebRTC, media nodes and ICE servers."""

    rejoin_window_s: float = field(
        default=300.0,
        metadata=setting_meta(
            "Seconds a dropped participant may rejoin the same session with the same link."
        ),
    )
    max_sessions: int = field(
        default=10,
        metadata=setting_meta(
            "Concurrent live recording sessions; beyond it new sessions get HTTP 503."
        ),
    )
    max_live_sessions_per_user: int = field(
        default=3,
        metadata=setting_meta(
            "Call rooms one salesperson's sessions may hold at once on a media node (of its "
            "max_sessions; self-service sessions, driven by their customers, count apart: "
            "max_live_self_service_per_user); a further session's offer gets "
            "HTTP 429 too_many_live_sessions until one of them ends. 0 = no limit."
        ),
    )
    max_live_self_service_per_user: int = field(
        default=5,
        metadata=setting_meta(
            "Call rooms one salesperson's self-service sessions (each driven by its customer) "
            "may hold at once on a media node, apart from max_live_sessions_per_user; a further "
            "customer's offer gets HTTP 429 too_many_live_sessions until one of them ends, so "
            "one login sending many links cannot take every room. 0 = no limit."
        ),
    )
    max_sessions_per_hour: int = field(
        default=60,
        metadata=setting_meta(
            "Sessions one user may create per hour (re-recordings included), counted in the "
            "database across every server process; beyond it HTTP 429 too_many_sessions with "
            "Retry-After. 0 = no limit."
        ),
    )
    min_free_mb: int = field(
        default=1024,
        metadata=setting_meta(
            "MiB that must be free on the sessions directory's filesystem for a new session "
            "(re-recordings included) to be created; below it HTTP 507 storage_full and "
            "nothing is made. Checked again at each call offer: one that would start "
            "the session's first recording is 507 storage_full too; once anything is "
            "recorded the join goes on and the session's /state says storage_low. "
            "Sessions already recording go on. 0 = no check."
        ),
    )
    max_joins_per_participant: int = field(
        default=100,
        metadata=setting_meta(
            "Times each participant may join (or rejoin) one session's call; beyond it the "
            "offer gets HTTP 429 too_many_joins (every join starts new segment files). "
            "0 = no limit."
        ),
    )
    max_session_events: int = field(
        default=2000,
        metadata=setting_meta(
            "Events a client's requests may add to one session's metadata (teleprompter "
            "nodes, played nodes, self-service answers and documents; a real session has "
            "tens); beyond it HTTP 429 too_many_events. 0 = no limit."
        ),
    )
    max_body_bytes: int = field(
        default=256 * 1024, metadata=setting_meta("Largest accepted JSON request body, in bytes.")
    )
    body_timeout_s: float = field(
        default=60.0,
        metadata=setting_meta(
            "Seconds a request body may take to arrive once the headers are in (a body is "
            "at most a few hundred KB: a still on a slow mobile link takes seconds); beyond "
            "it HTTP 408 request_timeout and the connection is closed."
        ),
    )
    max_sdp_bytes: int = field(
        default=64 * 1024, metadata=setting_meta("Largest accepted SDP offer, in bytes.")
    )
    rtc_loopback_only: bool = field(
        default=False,
        metadata=setting_meta(
            "Gather WebRTC candidates on 127.0.0.1 only (tests, single-machine demos)."
        ),
    )
    rtc_host_addresses: str = field(
        default="",
        metadata=setting_meta(
            "Comma-separated IP addresses to offer as WebRTC host candidates. Empty = all."
        ),
    )
    rtc_private_candidates: bool = field(
        default=False,
        metadata=setting_meta(
            "Let the server's ICE send checks to a browser's candidates on private networks "
            "(10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): browsers and server on one "
            "intranet. Loopback, link-local and multicast never. Ignored with rtc_loopback_only."
        ),
    )
    rtc_max_remote_candidates: int = field(
        default=8,
        metadata=setting_meta(
            "ICE candidates per media section of an offer the server's ICE checks (the first "
            "that pass; an offer may list up to 64). Ignored with rtc_loopback_only."
        ),
    )
    node_id: str = field(
        default="",
        metadata=setting_meta(
            "Name of this media node in the media_nodes table. Empty = <hostname>:<port>. "
            "Give each node its own when several share a port number (port 0 in tests)."
        ),
    )
    node_url: str = field(
        default="",
        metadata=setting_meta(
            "Base URL browsers use to reach this node's media endpoints (sent to them when a "
            "room lives on this node). Empty = public_url, else http://<host>:<port>."
        ),
    )
    node_forward_timeout_s: float = field(
        default=30.0,
        metadata=setting_meta(
            "A request about a session held by another media node is forwarded to that node's "
            "node_url; it gets 503 node_unreachable if the node does not connect within "
            "min(5, this) seconds or stays silent this long."
        ),
    )
    node_heartbeat_s: float = field(
        default=5.0, metadata=setting_meta("Seconds between this node's heartbeats in media_nodes.")
    )
    node_dead_after_s: float = field(
        default=30.0,
        metadata=setting_meta(
            "A node silent this long is dead: another node marks its live sessions "
            "interrupted and may take their rooms over. A node takes media only for 0.75 x "
            "this after its last successful heartbeat (fencing); keep node_heartbeat_s well "
            "under it."
        ),
    )
    rtc_udp_ports: str = field(
        default="",
        metadata=setting_meta(
            "Local UDP port range for the server's ICE candidates, e.g. 50000-50199 "
            "(one port per participant per host address). Empty = any ephemeral port."
        ),
    )
    rtc_media_thread: bool = field(
        default=True,
        metadata=setting_meta(
            "Run the media rooms (WebRTC relay, recorders' feed) on an event loop of their "
            "own in a dedicated thread, so API load cannot starve the media sockets "
            "(docs/bench.md). False = on the API's loop."
        ),
    )
    ice_stun_urls: str = field(
        default="",
        metadata=setting_meta(
            "Comma-separated STUN URLs for browsers and the server, e.g. "
            "stun:turn.example.com:3478. Empty = none."
        ),
    )
    ice_turn_urls: str = field(
        default="",
        metadata=setting_meta(
            "Comma-separated TURN URLs, e.g. turn:turn.example.com:3478?transport=udp,"
            "turns:turn.example.com:5349?transport=tcp. Needs ice_turn_secret. Empty = none."
        ),
    )
    ice_turn_secret: str = field(
        default="",
        metadata=setting_meta(
            "coturn's static-auth-secret: TURN credentials are derived from it and expire.",
            secret=True,
        ),
    )
    ice_turn_ttl_s: float = field(
        default=86400.0,
        metadata=setting_meta(
            "Seconds a TURN credential handed out stays valid (longer than a call)."
        ),
    )
