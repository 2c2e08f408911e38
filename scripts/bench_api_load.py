"""The load side of ``scripts/bench_api.py``: a logged-in API client like the pages, the
weighted mix of client actions, the per-action results, the load child process that runs
its share of the clients, and the latency table."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from scripts.session_body import new_session_body

PASSWORD = "bench-password-1"
SALESPEOPLE = 20

# (name, weight, read?) of each client action
MIX = (
    ("static", 30, True),
    ("join_poll", 25, True),
    ("session_list", 20, True),
    ("me", 10, True),
    ("session_create", 10, False),
    ("login", 5, False),
)


class Api:
    """A logged-in browser stand-in: cookie jar, CSRF header, same-origin Origin on writes."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=60),
        )
        self.csrf = ""

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Origin": self.base}
        if method != "GET" and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        async with self.http.request(
            method, f"{self.base}{path}", json=body, headers=headers, allow_redirects=False
        ) as r:
            data = await r.json() if r.content_type == "application/json" else await r.read()
            return r.status, data

    async def login(self, name: str) -> int:
        status, body = await self.call(
            "POST", "/api/login", {"username": name, "password": PASSWORD}
        )
        if status == 200:
            self.csrf = body["csrf_token"]
        return status

    async def close(self) -> None:
        await self.http.close()


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    exceptions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: How late the client process's own event loop ran a 50 ms timer (its own delay,
    #: included in every latency it measures).
    loop_lag: list[float] = field(default_factory=list)

    def add(self, action: str, status: int, seconds: float) -> None:
        self.latencies[action].append(seconds)
        self.statuses[action].append(status)

    def to_json(self) -> dict[str, Any]:
        return {
            "latencies": self.latencies,
            "statuses": self.statuses,
            "exceptions": self.exceptions,
            "loop_lag": self.loop_lag,
        }

    def merge(self, data: dict[str, Any]) -> None:
        for action, values in data["latencies"].items():
            self.latencies[action].extend(values)
        for action, values in data["statuses"].items():
            self.statuses[action].extend(values)
        for key, n in data["exceptions"].items():
            self.exceptions[key] += n
        self.loop_lag.extend(data["loop_lag"])


async def probe_loop_lag(deadline: float, res: Results, tick: float = 0.05) -> None:
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        await asyncio.sleep(tick)
        res.loop_lag.append(time.monotonic() - t0 - tick)


async def client(
    api: Api, i: int, tokens: list[str], deadline: float, think: float, res: Results
) -> None:
    name = f"sales{i % SALESPEOPLE}"
    names, weights = [m[0] for m in MIX], [m[1] for m in MIX]
    rng = random.Random(i)
    while time.monotonic() < deadline:
        await asyncio.sleep(rng.uniform(0, 2 * think))
        action = rng.choices(names, weights)[0]
        t0 = time.monotonic()
        try:
            if action == "static":
                path = rng.choice(("/static/js/api.js", "/static/js/call.js", "/login"))
                status, _ = await api.call("GET", path)
            elif action == "join_poll":
                status, _ = await api.call("GET", f"/api/join/{rng.choice(tokens)}/state")
            elif action == "session_list":
                status, _ = await api.call("GET", "/api/sessions")
            elif action == "me":
                status, _ = await api.call("GET", "/api/me")
            elif action == "session_create":
                status, _ = await api.call("POST", "/api/sessions", new_session_body())
            else:
                status = await api.login(name)
        except (aiohttp.ClientError, TimeoutError) as exc:
            res.exceptions[f"{action}: {type(exc).__name__}"] += 1
            continue
        res.add(action, status, time.monotonic() - t0)


async def load_child(base: str, first: int, count: int, args: argparse.Namespace) -> None:
    """Clients ``first, first + procs, ...`` (``count`` of them) in a process of their own:
    log in, say ready, wait for "go", run the load, print the results as one JSON line."""
    tokens = json.loads(sys.stdin.readline())
    apis, login_times = await log_in_all(base, count, first, args.procs)
    print(json.dumps({"event": "ready", "login_times": login_times}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"
    res = Results()
    t0 = time.monotonic()
    deadline = t0 + args.seconds
    await asyncio.gather(
        probe_loop_lag(deadline, res),
        *(
            client(api, first + k * args.procs, tokens, deadline, args.think, res)
            for k, api in enumerate(apis)
        ),
    )
    elapsed = time.monotonic() - t0
    for api in set(apis):
        await api.close()
    print(json.dumps({"event": "done", "elapsed": elapsed, "results": res.to_json()}), flush=True)


async def log_in_all(
    base: str, count: int, first: int = 0, step: int = 1
) -> tuple[list[Api], list[float]]:
    """One login per account before the window; clients of an account share it like browser
    tabs (a client's own re-login during the window renews the shared cookie and CSRF token)."""
    # Client number first + k * step is account (first + k * step) % SALESPEOPLE.
    names = sorted({(first + k * step) % SALESPEOPLE for k in range(count)})
    accounts = {n: Api(base) for n in names}
    times: list[float] = []

    async def one(n: int) -> None:
        t0 = time.monotonic()
        status = await accounts[n].login(f"sales{n}")
        times.append(time.monotonic() - t0)
        assert status == 200, status

    await asyncio.gather(*(one(n) for n in names))
    return [accounts[(first + k * step) % SALESPEOPLE] for k in range(count)], times


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else max(values)
    )


def load_table(res: Results, seconds: float) -> str:
    lines = [
        "| requests | count | per s | 5xx | 4xx | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    reads = {m[0] for m in MIX if m[2]}

    def row(label: str, actions: list[str]) -> str:
        lat = [x for a in actions for x in res.latencies[a]]
        st = [s for a in actions for s in res.statuses[a]]
        return (
            f"| {label} | {len(lat)} | {len(lat) / seconds:.1f} "
            f"| {sum(s >= 500 for s in st)} | {sum(400 <= s < 500 for s in st)} "
            f"| {pct(lat, 50) * 1000:.0f} | {pct(lat, 99) * 1000:.0f} "
            f"| {max(lat, default=float('nan')) * 1000:.0f} |"
        )

    lines.append(row("**reads (GET)**", sorted(reads)))
    lines.append(row("**writes (POST)**", sorted({m[0] for m in MIX} - reads)))
    for name, _w, _r in MIX:
        lines.append(row(name, [name]))
    return "\n".join(lines)
