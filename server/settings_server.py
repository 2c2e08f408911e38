"""Settings of the server itself: where it listens, where it keeps its data, its keys,
its cookies and join links, and the login throttle (part of ``server.settings.Settings``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from server.settings_values import setting_meta


@dataclass(frozen=True, repr=False)
class ServerSettings:
    """Where the server listens and keeps its data; keys, cookies, links and login throttling."""

    host: str = field(
        default="127.0.0.1", metadata=setting_meta("Address the HTTP server listens on.")
    )
    port: int = field(
        default=8080,
        metadata=setting_meta(
            "TCP port of the HTTP server; 0 = a free one the system picks, which `kesu serve` "
            "prints and names as its node id and URL."
        ),
    )
    data_dir: Path = field(
        default=Path("./var"),
        metadata=setting_meta("Directory for the SQLite database, recordings, evidence and keys."),
    )
    database_url: str = field(
        default="",
        metadata=setting_meta(
            "SQLAlchemy async URL. Empty = sqlite+aiosqlite:///<data_dir>/kesu.db. "
            "PostgreSQL: postgresql+asyncpg://user:pw@host/db."
        ),
    )
    storage_url: str = field(
        default="",
        metadata=setting_meta(
            "Where finished recordings and derived files are archived. Empty = only the local "
            "data_dir. S3-compatible: s3://bucket/prefix; media nodes upload each finished "
            "segment (SHA-256 checked) and metadata.json, workers and review pages read from it."
        ),
    )
    storage_endpoint: str = field(
        default="",
        metadata=setting_meta(
            "S3 endpoint URL (MinIO, SeaweedFS, ...). Empty = AWS (or AWS_ENDPOINT_URL)."
        ),
    )
    storage_region: str = field(
        default="", metadata=setting_meta("S3 region. Empty = AWS_REGION, else us-east-1.")
    )
    storage_access_key: str = field(
        default="",
        metadata=setting_meta("S3 access key id. Empty = AWS_ACCESS_KEY_ID.", secret=True),
    )
    storage_secret_key: str = field(
        default="",
        metadata=setting_meta("S3 secret access key. Empty = AWS_SECRET_ACCESS_KEY.", secret=True),
    )
    storage_allow_http: bool = field(
        default=False,
        metadata=setting_meta("Allow a plain-HTTP S3 endpoint (only for a loopback test server)."),
    )
    secret_key: str = field(
        default="",
        metadata=setting_meta(
            "Key that signs join links. Empty = generated once and kept in <data_dir>/secret.key.",
            secret=True,
        ),
    )
    audit_key_file: str = field(
        default="",
        metadata=setting_meta(
            "File holding the audit key (HMAC of every audit entry, Ed25519 signature of "
            "checkpoints). Empty = <data_dir>/audit.key, created on first start. Keep it off "
            "the database host to make the chain tamper-evident against a database admin."
        ),
    )
    audit_checkpoint_file: str = field(
        default="",
        metadata=setting_meta(
            "Append-only file of signed checkpoints of the audit chain's head. "
            "Empty = <data_dir>/audit-checkpoints.jsonl."
        ),
    )
    public_url: str = field(
        default="",
        metadata=setting_meta(
            "Base URL put in join links and QR codes. Empty = derived from the request."
        ),
    )
    secure_cookies: bool = field(
        default=False,
        metadata=setting_meta(
            "Mark cookies Secure and send HSTS (turn on behind HTTPS; browsers need HTTPS for "
            "cameras off localhost). On anyway when public_url starts with https://."
        ),
    )
    session_cookie_hours: float = field(
        default=12.0, metadata=setting_meta("Hours a login stays valid without activity.")
    )
    join_link_hours: float = field(
        default=24.0, metadata=setting_meta("Hours a customer's join link stays valid.")
    )
    login_account_limits: str = field(
        default="5/minute;20/hour;60/day",
        metadata=setting_meta(
            "Failed logins allowed per account name, as `limits` rate strings (N/second|minute|"
            "hour|day, ';'-separated): stepped backoff; beyond any of them logins get HTTP 429. "
            "Counted in the database (table login_failures), shared by every `kesu serve` "
            "process on it and kept across restarts (docs/security.md)."
        ),
    )
    login_address_limits: str = field(
        default="20/minute;100/hour;400/day",
        metadata=setting_meta(
            "Failed logins allowed per client address (IPv6: per /64), same notation; "
            "beyond any of them every login from that address gets HTTP 429. Shared in the "
            "database, like login_account_limits."
        ),
    )
    login_throttle_max_keys: int = field(
        default=50_000,
        metadata=setting_meta(
            "Most account names (and, separately, addresses) the login throttle tracks in the "
            "database; past it, new ones share one counter (fails closed under a flood of "
            "distinct names, and bounds the table)."
        ),
    )
    login_hash_concurrency: int = field(
        default=2,
        metadata=setting_meta(
            "Password verifications (argon2, 64 MiB each) run at once in threads; more wait."
        ),
    )
    login_verified_cache_s: float = field(
        default=300.0,
        metadata=setting_meta(
            "Seconds a successful password verification is remembered (an HMAC of account, "
            "stored hash and password, in memory), so logging in again with the same password "
            "skips argon2; wrong passwords are never cached. 0 = off."
        ),
    )
    login_hash_niceness: int = field(
        default=0,
        metadata=setting_meta(
            "Added to the server's CPU niceness for password-hashing threads (Linux), so a "
            "login storm cannot slow live media; 0 = off (logins then never starve behind "
            "inspection workers)."
        ),
    )
