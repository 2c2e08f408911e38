"""Benchmark: the HTTP API under concurrent mixed clients, against a real `kesu serve` on SQLite.

Starts `kesu serve` (loopback, SQLite, no inspection worker) on a temporary data directory
with salesperson accounts, and a live two-party session (two aiortc peers in a child process,
connected through the API like the pages: login, create, link, consent, offers). Then runs
``--clients`` clients for ``--seconds``, each logged in as a salesperson and looping over a mix
of logins, session list reads, /api/me, session creations, static files and join-link polls,
with a random think time (mean ``--think`` s) between requests. Prints one table of request
counts, 5xx, and p50/p99 latency for reads (GET) and writes (POST), per endpoint; and the video
and audio frame loss of the live session, measured over a quiet window before the load and
over the load window.

    nice -n 10 .venv/bin/python scripts/bench_api.py --clients 200 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_api_load import (  # noqa: E402 (after the path is set)
    PASSWORD,
    SALESPEOPLE,
    Api,
    Results,
    load_child,
    load_table,
    pct,
)
from scripts.bench_live import (  # noqa: E402
    child_processes,
    count_recording,
    cpu_seconds,
    media_child,
    media_tables,
)
from scripts.session_body import new_session_body  # noqa: E402
from server.localservers import free_port  # noqa: E402


async def setup_accounts(data_dir: Path) -> None:
    from server.settings import load_settings
    from server.users import add_user

    settings = load_settings({"data_dir": data_dir}, env={})
    for n in range(SALESPEOPLE):
        await add_user(settings, f"sales{n}", "salesperson", PASSWORD, f"销售{n}", "示例人寿")


async def wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise SystemExit(f"kesu serve exited with {proc.returncode}")
            try:
                async with http.get(f"{base}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("kesu serve did not come up")


async def join_tokens(base: str, count: int) -> list[str]:
    out = []
    for n in range(count):
        api = Api(base)
        assert await api.login(f"sales{n % SALESPEOPLE}") == 200
        status, body = await api.call("POST", "/api/sessions", new_session_body())
        assert status == 201, body
        status, link = await api.call("POST", f"/api/sessions/{body['session']['id']}/link")
        assert status == 200, link
        out.append(link["token"])
        await api.close()
    return out


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        KESU_RTC_LOOPBACK_ONLY="true",
        KESU_BOOTSTRAP_ADMIN="false",
        KESU_MAKE_REVIEW_VIDEO="false",
        KESU_SECRET_KEY="bench-secret",
        # The mixed load creates sessions for minutes, far past a person's hourly limit.
        KESU_MAX_SESSIONS_PER_HOUR="0",
    )
    with open(data_dir / "serve.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--data-dir", str(data_dir)]
            + ["--port", str(port), "--workers", "0"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


Process = asyncio.subprocess.Process


async def start_load_children(
    args: argparse.Namespace, base: str, tokens: list[str]
) -> list[Process]:
    """The --procs client processes, each given the join tokens; they log in at once."""
    children = []
    for k in range(args.procs):
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--load-child",
            base,
            "--first",
            str(k),
            "--count",
            str(len(range(k, args.clients, args.procs))),
            "--procs",
            str(args.procs),
            "--seconds",
            str(args.seconds),
            "--think",
            str(args.think),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 26,
        )
        assert child.stdin is not None
        child.stdin.write(json.dumps(tokens).encode() + b"\n")
        await child.stdin.drain()
        children.append(child)
    return children


async def logged_in(children: list[Process]) -> list[float]:
    """Wait until every client process says its clients are logged in; their login times."""
    login_times: list[float] = []
    for child in children:
        assert child.stdout is not None
        ready = json.loads(await child.stdout.readline())
        assert ready["event"] == "ready", ready
        login_times += ready["login_times"]
    return login_times


async def start_media_child(args: argparse.Namespace, base: str, server_pid: int) -> Process:
    """The live two-party session's process (scripts/bench_live.media_child)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--media",
        base,
        "--baseline",
        str(args.baseline),
        "--server-pid",
        str(server_pid),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


@dataclass
class Window:
    """What the load window measured: the clients' results, the machine's load and the
    server's CPU at its start and end, its child processes' CPU, and the live session's
    messages (its ready line, frame counts before and during the load, its end)."""

    res: Results
    elapsed: float
    load: tuple[float, float]
    cpu: tuple[float | None, float | None]
    helpers: dict[str, str]
    media_ready: dict[str, Any]
    windows: list[dict[str, Any]]
    media_done: dict[str, Any]


async def run_window(server_pid: int, media: Process, children: list[Process]) -> Window:
    """The quiet window of the live session, then the load window: clients and session go."""
    assert media.stdout is not None and media.stdin is not None
    windows = []
    ready = json.loads(await media.stdout.readline())
    assert ready["event"] == "ready", ready
    windows.append(json.loads(await media.stdout.readline()))
    res = Results()
    load0, cpu0 = os.getloadavg()[0], cpu_seconds(server_pid)
    # The live-check process (live checks are on by default) and any other child.
    helpers0 = {pid: (name, cpu_seconds(pid)) for pid, name in child_processes(server_pid).items()}
    media.stdin.write(b"go\n")
    await media.stdin.drain()
    assert json.loads(await media.stdout.readline())["event"] == "started"
    elapsed = 0.0
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        await child.stdin.drain()
    for child in children:
        assert child.stdout is not None
        done = json.loads(await child.stdout.readline())
        assert done["event"] == "done", done
        res.merge(done["results"])
        elapsed = max(elapsed, done["elapsed"])
        await child.wait()
    load1, cpu1 = os.getloadavg()[0], cpu_seconds(server_pid)
    helpers = {}
    for pid, (name, c0) in helpers0.items():
        c1 = cpu_seconds(pid)
        if c0 is not None and c1 is not None:
            helpers[f"kesu serve's child {name} ({pid})"] = (
                f"{c1 - c0:.1f} s of CPU in the window ({100 * (c1 - c0) / elapsed:.0f} % "
                "of one core)"
            )
    media.stdin.write(b"stop\n")
    await media.stdin.drain()
    windows.append(json.loads(await media.stdout.readline()))
    done = json.loads(await media.stdout.readline())
    await media.wait()
    return Window(res, elapsed, (load0, load1), (cpu0, cpu1), helpers, ready, windows, done)


def print_load(
    args: argparse.Namespace, data_dir: Path, w: Window, login_times: list[float], t_login: float
) -> None:
    """The run's header, the logins before the window, the server's CPU and the latencies."""
    res, elapsed, (load0, load1), (cpu0, cpu1) = w.res, w.elapsed, w.load, w.cpu
    print(
        f"{args.clients} clients in {args.procs} processes, {args.seconds:.0f} s, "
        f"mean think time {args.think} s, "
        f"kesu serve on SQLite ({data_dir}), wall {elapsed:.1f} s; machine load average "
        f"{load0:.1f} at the start, {load1:.1f} at the end ({os.cpu_count()} CPUs)"
    )
    print(f"server media settings: {media_settings()}\n")
    print(
        f"before the window: {len(login_times)} logins (one per account), in {t_login:.1f} s "
        f"(p50 {pct(login_times, 50) * 1000:.0f} ms, max {max(login_times) * 1000:.0f} ms)\n"
    )
    served = sum(len(v) for v in res.latencies.values())
    if cpu0 is not None and cpu1 is not None and served:
        used = cpu1 - cpu0
        print(
            f"kesu serve used {used:.1f} s of CPU in the window ({100 * used / elapsed:.0f} % of "
            f"one core; {1000 * used / served:.1f} ms per request, live media included)\n"
        )
    print(load_table(res, elapsed))
    lag = res.loop_lag
    print(
        f"\nclient processes' own event-loop delay (part of every latency above): "
        f"p50 {pct(lag, 50) * 1000:.0f} ms, p99 {pct(lag, 99) * 1000:.0f} ms, "
        f"max {max(lag, default=float('nan')) * 1000:.0f} ms"
    )
    if res.exceptions:
        print("\nclient-side failures (no HTTP status):", dict(res.exceptions))
    print()


async def bench(
    args: argparse.Namespace, base: str, server: subprocess.Popen[bytes], data_dir: Path
) -> None:
    await wait_up(base, server)
    tokens = await join_tokens(base, 10)
    # Every client logs in first; the live session starts after that, just before the load.
    # The clients run in --procs processes of their own (one Python process with 200
    # clients on a small machine measures its own event-loop delay as server latency).
    t_login = time.monotonic()
    children = await start_load_children(args, base, tokens)
    login_times = await logged_in(children)
    t_login = time.monotonic() - t_login
    media = await start_media_child(args, base, server.pid)
    try:
        w = await run_window(server.pid, media, children)
    finally:
        for proc in (media, *children):
            if proc.returncode is None:
                proc.kill()
    print_load(args, data_dir, w, login_times, t_login)
    recording = None
    if w.media_done.get("end_status") == 200:
        recording = await asyncio.to_thread(
            count_recording,
            data_dir / "sessions" / w.media_ready["session"],
            [(x["start"]["t"], x["end"]["t"]) for x in w.windows],
        )
    else:
        status = w.media_done.get("end_status")
        print(f"(the live session's end answered {status}: recording not read)")
    print(media_tables(w.windows, recording, w.helpers))


def media_settings() -> str:
    """The settings (from this environment, passed to kesu serve) that change the media path."""
    from server.settings import load_settings

    s = load_settings({}, env=dict(os.environ))
    return f"rtc_media_thread={s.rtc_media_thread}, live_checks={s.live_checks}"


def server_errors(log_path: Path) -> int:
    return sum(1 for line in log_path.read_text().splitlines() if " ERROR " in line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration")
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds between requests")
    parser.add_argument(
        "--baseline", type=float, default=8.0, help="seconds of the live session before load"
    )
    parser.add_argument(
        "--procs", type=int, default=2, help="client processes the clients are spread over"
    )
    parser.add_argument("--media", help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--load-child", help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.media:
        asyncio.run(media_child(args.media, args.baseline, args.server_pid))
        return
    if args.load_child:
        asyncio.run(load_child(args.load_child, args.first, args.count, args))
        return
    data_dir = Path(tempfile.mkdtemp(prefix="kesu-bench-api-"))
    asyncio.run(setup_accounts(data_dir))
    port = free_port()
    server = start_server(data_dir, port)
    try:
        asyncio.run(bench(args, f"http://127.0.0.1:{port}", server, data_dir))
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    log_path = data_dir / "serve.log"
    print(f"\nERROR lines in the server log: {server_errors(log_path)} ({log_path})")


if __name__ == "__main__":
    main()
