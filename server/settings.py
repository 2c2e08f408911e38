"""One declarative table of settings: name, default, type and help, loaded from env, TOML or CLI."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from server.settings_secrets import masked_db_url, secret_values
from server.settings_values import coerce_setting

__all__ = [
    "Settings",
    "load_settings",
    "masked_db_url",
    "secret_values",
    "setting_fields",
]


def _meta(help_text: str, secret: bool = False) -> dict[str, Any]:
    return {"help": help_text, "secret": secret}


@dataclass(frozen=True)
class Settings:
    """Every setting of the server. Env var = ``KESU_`` + upper-case name."""

    host: str = field(default="127.0.0.1", metadata=_meta("Address the HTTP server listens on."))
    port: int = field(default=8080, metadata=_meta("TCP port of the HTTP server."))
    data_dir: Path = field(
        default=Path("./var"),
        metadata=_meta("Directory for the SQLite database, recordings, evidence and keys."),
    )
    database_url: str = field(
        default="",
        metadata=_meta(
            "SQLAlchemy async URL. Empty = sqlite+aiosqlite:///<data_dir>/kesu.db. "
            "PostgreSQL: postgresql+asyncpg://user:pw@host/db."
        ),
    )
    storage_url: str = field(
        default="",
        metadata=_meta(
            "Where finished recordings and derived files are archived. Empty = only the local "
            "data_dir. S3-compatible: s3://bucket/prefix; media nodes upload each finished "
            "segment (SHA-256 checked) and metadata.json, workers and review pages read from it."
        ),
    )
    storage_endpoint: str = field(
        default="",
        metadata=_meta(
            "S3 endpoint URL (MinIO, SeaweedFS, ...). Empty = AWS (or AWS_ENDPOINT_URL)."
        ),
    )
    storage_region: str = field(
        default="", metadata=_meta("S3 region. Empty = AWS_REGION, else us-east-1.")
    )
    storage_access_key: str = field(
        default="",
        metadata=_meta("S3 access key id. Empty = AWS_ACCESS_KEY_ID.", secret=True),
    )
    storage_secret_key: str = field(
        default="",
        metadata=_meta("S3 secret access key. Empty = AWS_SECRET_ACCESS_KEY.", secret=True),
    )
    storage_allow_http: bool = field(
        default=False,
        metadata=_meta("Allow a plain-HTTP S3 endpoint (only for a loopback test server)."),
    )
    secret_key: str = field(
        default="",
        metadata=_meta(
            "Key that signs join links. Empty = generated once and kept in <data_dir>/secret.key.",
            secret=True,
        ),
    )
    audit_key_file: str = field(
        default="",
        metadata=_meta(
            "File holding the audit key (HMAC of every audit entry, Ed25519 signature of "
            "checkpoints). Empty = <data_dir>/audit.key, created on first start. Keep it off "
            "the database host to make the chain tamper-evident against a database admin."
        ),
    )
    audit_checkpoint_file: str = field(
        default="",
        metadata=_meta(
            "Append-only file of signed checkpoints of the audit chain's head. "
            "Empty = <data_dir>/audit-checkpoints.jsonl."
        ),
    )
    public_url: str = field(
        default="",
        metadata=_meta(
            "Base URL put in join links and QR codes. Empty = derived from the request."
        ),
    )
    secure_cookies: bool = field(
        default=False,
        metadata=_meta(
            "Mark cookies Secure and send HSTS (turn on behind HTTPS; browsers need HTTPS for "
            "cameras off localhost). On anyway when public_url starts with https://."
        ),
    )
    session_cookie_hours: float = field(
        default=12.0, metadata=_meta("Hours a login stays valid without activity.")
    )
    join_link_hours: float = field(
        default=24.0, metadata=_meta("Hours a customer's join link stays valid.")
    )
    login_account_limits: str = field(
        default="5/minute;20/hour;60/day",
        metadata=_meta(
            "Failed logins allowed per account name, as `limits` rate strings (N/second|minute|"
            "hour|day, ';'-separated): stepped backoff; beyond any of them logins get HTTP 429. "
            "Counted in the database (table login_failures), shared by every `kesu serve` "
            "process on it and kept across restarts (docs/security.md)."
        ),
    )
    login_address_limits: str = field(
        default="20/minute;100/hour;400/day",
        metadata=_meta(
            "Failed logins allowed per client address (IPv6: per /64), same notation; "
            "beyond any of them every login from that address gets HTTP 429. Shared in the "
            "database, like login_account_limits."
        ),
    )
    login_throttle_max_keys: int = field(
        default=50_000,
        metadata=_meta(
            "Most account names (and, separately, addresses) the login throttle tracks in the "
            "database; past it, new ones share one counter (fails closed under a flood of "
            "distinct names, and bounds the table)."
        ),
    )
    login_hash_concurrency: int = field(
        default=2,
        metadata=_meta(
            "Password verifications (argon2, 64 MiB each) run at once in threads; more wait."
        ),
    )
    login_verified_cache_s: float = field(
        default=300.0,
        metadata=_meta(
            "Seconds a successful password verification is remembered (an HMAC of account, "
            "stored hash and password, in memory), so logging in again with the same password "
            "skips argon2; wrong passwords are never cached. 0 = off."
        ),
    )
    login_hash_niceness: int = field(
        default=0,
        metadata=_meta(
            "Added to the server's CPU niceness for password-hashing threads (Linux), so a "
            "login storm cannot slow live media; 0 = off (logins then never starve behind "
            "inspection workers)."
        ),
    )
    rejoin_window_s: float = field(
        default=300.0,
        metadata=_meta(
            "Seconds a dropped participant may rejoin the same session with the same link."
        ),
    )
    max_sessions: int = field(
        default=10,
        metadata=_meta("Concurrent live recording sessions; beyond it new sessions get HTTP 503."),
    )
    max_live_sessions_per_user: int = field(
        default=3,
        metadata=_meta(
            "Call rooms one salesperson's sessions may hold at once on a media node (of its "
            "max_sessions; self-service sessions, driven by their customers, count apart: "
            "max_live_self_service_per_user); a further session's offer gets "
            "HTTP 429 too_many_live_sessions until one of them ends. 0 = no limit."
        ),
    )
    max_live_self_service_per_user: int = field(
        default=5,
        metadata=_meta(
            "Call rooms one salesperson's self-service sessions (each driven by its customer) "
            "may hold at once on a media node, apart from max_live_sessions_per_user; a further "
            "customer's offer gets HTTP 429 too_many_live_sessions until one of them ends, so "
            "one login sending many links cannot take every room. 0 = no limit."
        ),
    )
    max_sessions_per_hour: int = field(
        default=60,
        metadata=_meta(
            "Sessions one user may create per hour (re-recordings included), counted in the "
            "database across every server process; beyond it HTTP 429 too_many_sessions with "
            "Retry-After. 0 = no limit."
        ),
    )
    max_joins_per_participant: int = field(
        default=100,
        metadata=_meta(
            "Times each participant may join (or rejoin) one session's call; beyond it the "
            "offer gets HTTP 429 too_many_joins (every join starts new segment files). "
            "0 = no limit."
        ),
    )
    max_session_events: int = field(
        default=2000,
        metadata=_meta(
            "Events a client's requests may add to one session's metadata (teleprompter "
            "nodes, played nodes, self-service answers and documents; a real session has "
            "tens); beyond it HTTP 429 too_many_events. 0 = no limit."
        ),
    )
    max_body_bytes: int = field(
        default=256 * 1024, metadata=_meta("Largest accepted JSON request body, in bytes.")
    )
    body_timeout_s: float = field(
        default=60.0,
        metadata=_meta(
            "Seconds a request body may take to arrive once the headers are in (a body is "
            "at most a few hundred KB: a still on a slow mobile link takes seconds); beyond "
            "it HTTP 408 request_timeout and the connection is closed."
        ),
    )
    max_sdp_bytes: int = field(
        default=64 * 1024, metadata=_meta("Largest accepted SDP offer, in bytes.")
    )
    rtc_loopback_only: bool = field(
        default=False,
        metadata=_meta("Gather WebRTC candidates on 127.0.0.1 only (tests, single-machine demos)."),
    )
    rtc_host_addresses: str = field(
        default="",
        metadata=_meta(
            "Comma-separated IP addresses to offer as WebRTC host candidates. Empty = all."
        ),
    )
    rtc_private_candidates: bool = field(
        default=False,
        metadata=_meta(
            "Let the server's ICE send checks to a browser's candidates on private networks "
            "(10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): browsers and server on one "
            "intranet. Loopback, link-local and multicast never. Ignored with rtc_loopback_only."
        ),
    )
    rtc_max_remote_candidates: int = field(
        default=8,
        metadata=_meta(
            "ICE candidates per media section of an offer the server's ICE checks (the first "
            "that pass; an offer may list up to 64). Ignored with rtc_loopback_only."
        ),
    )
    node_id: str = field(
        default="",
        metadata=_meta(
            "Name of this media node in the media_nodes table. Empty = <hostname>:<port>. "
            "Give each node its own when several share a port number (port 0 in tests)."
        ),
    )
    node_url: str = field(
        default="",
        metadata=_meta(
            "Base URL browsers use to reach this node's media endpoints (sent to them when a "
            "room lives on this node). Empty = public_url, else http://<host>:<port>."
        ),
    )
    node_forward_timeout_s: float = field(
        default=30.0,
        metadata=_meta(
            "A request about a session held by another media node is forwarded to that node's "
            "node_url; it gets 503 node_unreachable if the node does not connect within "
            "min(5, this) seconds or stays silent this long."
        ),
    )
    node_heartbeat_s: float = field(
        default=5.0, metadata=_meta("Seconds between this node's heartbeats in media_nodes.")
    )
    node_dead_after_s: float = field(
        default=30.0,
        metadata=_meta(
            "A node silent this long is dead: another node marks its live sessions "
            "interrupted and may take their rooms over. A node takes media only for 0.75 x "
            "this after its last successful heartbeat (fencing); keep node_heartbeat_s well "
            "under it."
        ),
    )
    rtc_udp_ports: str = field(
        default="",
        metadata=_meta(
            "Local UDP port range for the server's ICE candidates, e.g. 50000-50199 "
            "(one port per participant per host address). Empty = any ephemeral port."
        ),
    )
    rtc_media_thread: bool = field(
        default=True,
        metadata=_meta(
            "Run the media rooms (WebRTC relay, recorders' feed) on an event loop of their "
            "own in a dedicated thread, so API load cannot starve the media sockets "
            "(docs/bench.md). False = on the API's loop."
        ),
    )
    ice_stun_urls: str = field(
        default="",
        metadata=_meta(
            "Comma-separated STUN URLs for browsers and the server, e.g. "
            "stun:turn.example.com:3478. Empty = none."
        ),
    )
    ice_turn_urls: str = field(
        default="",
        metadata=_meta(
            "Comma-separated TURN URLs, e.g. turn:turn.example.com:3478?transport=udp,"
            "turns:turn.example.com:5349?transport=tcp. Needs ice_turn_secret. Empty = none."
        ),
    )
    ice_turn_secret: str = field(
        default="",
        metadata=_meta(
            "coturn's static-auth-secret: TURN credentials are derived from it and expire.",
            secret=True,
        ),
    )
    ice_turn_ttl_s: float = field(
        default=86400.0,
        metadata=_meta("Seconds a TURN credential handed out stays valid (longer than a call)."),
    )
    workers: int = field(
        default=1,
        metadata=_meta("Inspection worker processes in the embedded pool (0 = no worker)."),
    )
    worker_threads: int = field(
        default=2, metadata=_meta("CPU threads each worker gives the models.")
    )
    self_service_answer_attempts: int = field(
        default=3,
        metadata=_meta(
            "Self-service sessions: times the customer is asked a question whose answer stays "
            "unclear before it is marked for review (answer_review event)."
        ),
    )
    self_service_listen_s: float = field(
        default=5.0,
        metadata=_meta("Self-service sessions: seconds the page listens for each answer."),
    )
    job_poll_s: float = field(default=1.0, metadata=_meta("Seconds between job-queue polls."))
    job_max_attempts: int = field(
        default=3, metadata=_meta("Attempts before a job is marked failed.")
    )
    job_retry_delay_s: float = field(
        default=5.0,
        metadata=_meta("Seconds before a failed job's retry, times the attempts made so far."),
    )
    job_stalled_after_s: float = field(
        default=30.0,
        metadata=_meta(
            "PostgreSQL/procrastinate: a worker silent (no heartbeat) this long is taken as "
            "dead and its running jobs go back to the queue for another worker."
        ),
    )
    live_checks: bool = field(
        default=True,
        metadata=_meta(
            "Run live checks while a session is recorded (script checklist, answers, warnings, "
            "document prompts pushed to the pages; docs/live.md). They run in one separate "
            "process, started at the first live session; recording never depends on them."
        ),
    )
    live_max_sessions: int = field(
        default=2,
        metadata=_meta(
            "Live sessions that get live checks at once; later ones are recorded without them "
            "and their pages say so (live_full). One session's checks take ~0.4 of a core "
            "(docs/bench.md): 2 fit one live-check process on a 2-core machine."
        ),
    )
    live_processes: int = field(
        default=1,
        metadata=_meta(
            "Live-check processes (each loads the models, ~0.6 GB, and gets at most "
            "live_threads cores); a new session goes to the least loaded one."
        ),
    )
    live_queue: int = field(
        default=400,
        metadata=_meta(
            "Messages (0.5 s of audio, or one video frame) waiting for the live-check process; "
            "when full, new ones are dropped and the pages show live_busy."
        ),
    )
    live_max_lag_s: float = field(
        default=10.0,
        metadata=_meta(
            "Audio reaching the live-check process later than this (s) is skipped rather than "
            "recognised, so live checks catch up (live_busy); the recording keeps it all."
        ),
    )
    live_threads: int = field(
        default=1, metadata=_meta("CPU threads of the live-check process's models.")
    )
    live_beam_size: int = field(
        default=1,
        metadata=_meta(
            "Whisper beam size of the live checks (1: about half the CPU of the offline 5)."
        ),
    )
    live_pause_s: float = field(
        default=0.7,
        metadata=_meta("A pause this long (s) ends an utterance, which is then recognised."),
    )
    live_silent_warn_s: float = field(
        default=30.0,
        metadata=_meta("A participant's audio silent this long (s) raises a live warning."),
    )
    live_frame_interval_s: float = field(
        default=2.0,
        metadata=_meta(
            "Seconds between video frames checked live (faces, documents). Frames are "
            "keyframes: browsers are asked for one this often while live checks run."
        ),
    )
    make_review_video: bool = field(
        default=True, metadata=_meta("Produce the side-by-side review video after each session.")
    )
    review_sample_rate: float = field(
        default=0.05,
        metadata=_meta("Share of sessions that passed inspection sampled into the review queue."),
    )
    second_review_sample_rate: float = field(
        default=0.1,
        metadata=_meta("Share of first-review approvals sent to a second review (二审)."),
    )
    retention_years_after_term: int = field(
        default=10,
        metadata=_meta("Years recordings are retained after the policy term ends (R17: 5-10)."),
    )
    models_dir: str = field(
        default="",
        metadata=_meta("Directory whose model files override the packaged ones (KESU_MODELS_DIR)."),
    )
    bootstrap_admin: bool = field(
        default=True,
        metadata=_meta(
            "On a fresh install with no accounts, create 'admin' and print its password."
        ),
    )
    log_level: str = field(default="INFO", metadata=_meta("Logging level."))
    log_format: str = field(
        default="text",
        metadata=_meta("Log line format: text (human) or json (one JSON object per line)."),
    )
    metrics: bool = field(
        default=True,
        metadata=_meta(
            "Serve Prometheus metrics at /metrics (restrict it to the scraper at the proxy)."
        ),
    )
    metrics_token: str = field(
        default="",
        metadata=_meta(
            "When set, /metrics (of kesu serve and kesu worker) needs the header "
            "Authorization: Bearer <this> (401 otherwise). Empty = open to whoever reaches it.",
            secret=True,
        ),
    )
    worker_metrics_port: int = field(
        default=0,
        metadata=_meta(
            "TCP port on which `kesu worker` serves /metrics and /healthz (on `host`); "
            "0 = none. One port per worker process on a machine."
        ),
    )

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'kesu.db'}"

    @property
    def https(self) -> bool:
        """Whether browsers reach this server over HTTPS: ``secure_cookies``, or a
        ``public_url`` starting with ``https://`` (the join links send them there; a login
        cookie without Secure could then leak over a plain-HTTP request to the same host)."""
        return self.secure_cookies or self.public_url.strip().lower().startswith("https://")

    @property
    def sessions_dir(self) -> Path:
        return self.data_dir / "sessions"

    @property
    def audit_key_path(self) -> Path:
        return Path(self.audit_key_file) if self.audit_key_file else self.data_dir / "audit.key"

    @property
    def audit_checkpoint_path(self) -> Path:
        if self.audit_checkpoint_file:
            return Path(self.audit_checkpoint_file)
        return self.data_dir / "audit-checkpoints.jsonl"

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = "'***'" if f.metadata.get("secret") and value else repr(value)
            parts.append(f"{f.name}={shown}")
        return f"Settings({', '.join(parts)})"


def setting_fields() -> list[tuple[str, Any, str]]:
    """(name, default, help) for every setting, for docs and --help."""
    return [(f.name, f.default, f.metadata["help"]) for f in fields(Settings)]


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    toml_path: Path | None = None,
) -> Settings:
    """Defaults, then a TOML file, then ``KESU_*`` env vars, then explicit overrides (CLI)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(Settings)}
    if toml_path is not None:
        with open(toml_path, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except RecursionError:  # tomllib parses nested arrays by recursion
                raise ValueError(f"{toml_path}: nested too deeply") from None
        for key, raw in data.items():
            if key not in known:
                raise ValueError(f"{toml_path}: unknown setting {key!r}")
            values[key] = raw
    for name in known:
        raw_env = env.get(f"KESU_{name.upper()}")
        if raw_env is not None:
            values[name] = raw_env
    for key, raw in (overrides or {}).items():
        if key not in known:
            raise ValueError(f"unknown setting {key!r}")
        if raw is not None:
            values[key] = raw
    coerced = {k: coerce_setting(known[k].type, v, k) for k, v in values.items()}
    return Settings(**coerced)
