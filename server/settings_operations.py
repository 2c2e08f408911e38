"""Settings of the work around recordings and of running the server: inspection workers,
job queue, self-service listening, live checks, review sampling, retention, models, logs
and metrics (part of ``server.settings.Settings``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.settings_values import setting_meta


@dataclass(frozen=True, repr=False)
class OperationsSettings:
    """Workers, jobs, live checks, review, retention, models, logs and metrics."""

    workers: int = field(
        default=1,
        metadata=setting_meta("Inspection worker processes in the embedded pool (0 = no worker)."),
    )
    worker_threads: int = field(
        default=2, metadata=setting_meta("CPU threads each worker gives the models.")
    )
    self_service_answer_attempts: int = field(
        default=3,
        metadata=setting_meta(
            "Self-service sessions: times the customer is asked a question whose answer stays "
            "unclear before it is marked for review (answer_review event)."
        ),
    )
    self_service_listen_s: float = field(
        default=5.0,
        metadata=setting_meta("Self-service sessions: seconds the page listens for each answer."),
    )
    job_poll_s: float = field(
        default=1.0, metadata=setting_meta("Seconds between job-queue polls.")
    )
    job_max_attempts: int = field(
        default=3, metadata=setting_meta("Attempts before a job is marked failed.")
    )
    job_retry_delay_s: float = field(
        default=5.0,
        metadata=setting_meta(
            "Seconds before a failed job's retry, times the attempts made so far."
        ),
    )
    job_stalled_after_s: float = field(
        default=30.0,
        metadata=setting_meta(
            "PostgreSQL/procrastinate: a worker silent (no heartbeat) this long is taken as "
            "dead and its running jobs go back to the queue for another worker."
        ),
    )
    live_checks: bool = field(
        default=True,
        metadata=setting_meta(
            "Run live checks while a session is recorded (script checklist, answers, warnings, "
            "document prompts pushed to the pages; docs/live.md). They run in one separate "
            "process, started at the first live session; recording never depends on them."
        ),
    )
    live_max_sessions: int = field(
        default=2,
        metadata=setting_meta(
            "Live sessions that get live checks at once; later ones are recorded without them "
            "and their pages say so (live_full). One session's checks take ~0.4 of a core "
            "(docs/bench.md): 2 fit one live-check process on a 2-core machine."
        ),
    )
    live_processes: int = field(
        default=1,
        metadata=setting_meta(
            "Live-check processes (each loads the models, ~0.6 GB, and gets at most "
            "live_threads cores); a new session goes to the least loaded one."
        ),
    )
    live_queue: int = field(
        default=400,
        metadata=setting_meta(
            "Messages (0.5 s of audio, or one video frame) waiting for the live-check process; "
            "when full, new ones are dropped and the pages show live_busy."
        ),
    )
    live_max_lag_s: float = field(
        default=10.0,
        metadata=setting_meta(
            "Audio reaching the live-check process later than this (s) is skipped rather than "
            "recognised, so live checks catch up (live_busy); the recording keeps it all."
        ),
    )
    live_threads: int = field(
        default=1, metadata=setting_meta("CPU threads of the live-check process's models.")
    )
    live_beam_size: int = field(
        default=1,
        metadata=setting_meta(
            "Whisper beam size of the live checks (1: about half the CPU of the offline 5)."
        ),
    )
    live_pause_s: float = field(
        default=0.7,
        metadata=setting_meta("A pause this long (s) ends an utterance, which is then recognised."),
    )
    live_silent_warn_s: float = field(
        default=30.0,
        metadata=setting_meta("A participant's audio silent this long (s) raises a live warning."),
    )
    live_frame_interval_s: float = field(
        default=2.0,
        metadata=setting_meta(
            "Seconds between video frames checked live (faces, documents). Frames are "
            "keyframes: browsers are asked for one this often while live checks run."
        ),
    )
    make_review_video: bool = field(
        default=True,
        metadata=setting_meta("Produce the side-by-side review video after each session."),
    )
    review_sample_rate: float = field(
        default=0.05,
        metadata=setting_meta(
            "Share of sessions that passed inspection sampled into the review queue."
        ),
    )
    second_review_sample_rate: float = field(
        default=0.1,
        metadata=setting_meta("Share of first-review approvals sent to a second review (二审)."),
    )
    review_judge_limits: str = field(
        default="100/hour;300/day",
        metadata=setting_meta(
            "Finding judgements one reviewer may make on one session, as `limits` rate strings "
            "(like login_account_limits); beyond any of them HTTP 429 too_many_judgements. "
            "Each judgement is an audit entry; counted in the database (docs/security.md)."
        ),
    )
    retention_hold_limits: str = field(
        default="20/hour;50/day",
        metadata=setting_meta(
            "Legal holds one admin may place or lift on one session, as `limits` rate strings "
            "(like review_judge_limits); beyond any of them HTTP 429 too_many_hold_changes. "
            "Each change is an audit entry; counted in the database (docs/security.md)."
        ),
    )
    retention_years_after_term: int = field(
        default=10,
        metadata=setting_meta(
            "Years recordings are retained after the policy term ends (R17: 5-10)."
        ),
    )
    models_dir: str = field(
        default="",
        metadata=setting_meta(
            "Directory whose model files override the packaged ones (KESU_MODELS_DIR)."
        ),
    )
    bootstrap_admin: bool = field(
        default=True,
        metadata=setting_meta(
            "On a fresh install with no accounts, create 'admin' and print its password."
        ),
    )
    log_level: str = field(default="INFO", metadata=setting_meta("Logging level."))
    log_format: str = field(
        default="text",
        metadata=setting_meta("Log line format: text (human) or json (one JSON object per line)."),
    )
    metrics: bool = field(
        default=True,
        metadata=setting_meta(
            "Serve Prometheus metrics at /metrics (restrict it to the scraper at the proxy)."
        ),
    )
    metrics_token: str = field(
        default="",
        metadata=setting_meta(
            "When set, /metrics (of kesu serve and kesu worker) needs the header "
            "Authorization: Bearer <this> (401 otherwise). Empty = open to whoever reaches it.",
            secret=True,
        ),
    )
    worker_metrics_port: int = field(
        default=0,
        metadata=setting_meta(
            "TCP port on which `kesu worker` serves /metrics and /healthz (on `host`); "
            "0 = none. One port per worker process on a machine."
        ),
    )
