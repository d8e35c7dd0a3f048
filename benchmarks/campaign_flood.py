"""Campaign: a neighbour floods the caregiver page while a fever is confirmed (issue 21).

The whole daemon runs as ``portwatch run`` wires it (the Sandbox: Bumble virtual radio, the
log, the fever rule, the page, the reference inbox on loopback) under the unit's descriptor
limit (``LimitNOFILE=4096``), and plays the course from an hour before the first fever rises
until it is confirmed and alerted. It does so twice: once quietly, once while another
process (``flood_child.py``, its own descriptors) holds thousands of silent and
byte-a-second connections to the page on 127.0.0.1 and reopens each one the page drops.
Throughout, a caregiver's request (a fresh connection, the cookie, ``GET /``) is sent every
quarter second.

Passes when, under the flood: the fever alert reaches the clinic inbox within its quiet
latency (three times it, or one second, whichever is more), every caregiver request is
answered 200 within 2 s, the page never holds more than its cap, and the log grows by no
more than a few lines. Counts: ``lost`` = fever alerts not delivered, ``crashed`` =
caregiver requests not answered in time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

NAME = "caregiver page flooded"
HERE = Path(__file__).resolve().parent
UNIT_NOFILE = 4096  # systemd/portwatch.service LimitNOFILE
QUICK_CONNECTIONS, FULL_CONNECTIONS = 2_000, 3_000
# The eight simulated hours from before the rise to the confirmed fever, paced so the flood
# is held across them: about 15 s of real time (quick) or 60 s (full).
QUICK_SPEED, FULL_SPEED = 1_920.0, 480.0
FLOOD_MAX_S = 300.0  # the attacker stops by itself after this, whatever happens here
PROBE_EVERY_S = 0.25
PAGE_BUDGET_S = 2.0
LOG_BUDGET_BYTES = 4096  # over the quiet run's log: a few lines, never one per connection


class _LogBytes(logging.Handler):
    """Counts the bytes the daemon's log lines would put in the journal."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.bytes = 0
        self.lines = 0
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.bytes += len(self.format(record).encode()) + 1
        self.lines += 1


class _Logging:
    """INFO and above counted (as the journal gets them), nothing extra printed."""

    NAMES = ("portwatch", "asyncio", "aiohttp")

    def __enter__(self) -> _LogBytes:
        root = logging.getLogger()
        self.counter = _LogBytes()
        self.saved = [(h, h.level) for h in root.handlers]
        for handler, _ in self.saved:
            handler.setLevel(max(handler.level, logging.ERROR))
        self.levels = [(n, logging.getLogger(n).level) for n in self.NAMES]
        for name in self.NAMES:
            logging.getLogger(name).setLevel(logging.INFO)
        root.addHandler(self.counter)
        return self.counter

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self.counter)
        for handler, level in self.saved:
            handler.setLevel(level)
        for name, level in self.levels:
            logging.getLogger(name).setLevel(level)


def _open_descriptors() -> int:
    """How many descriptors this process (the daemon's side) holds; 0 where /proc is not."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


async def _probe(
    url: str, token: str, stop: asyncio.Event, descriptors: list[int]
) -> list[float | None]:
    """A caregiver's request every quarter second on a fresh connection: seconds, or None.
    Also samples the process's open descriptors into ``descriptors``."""
    import aiohttp

    timings: list[float | None] = []
    timeout = aiohttp.ClientTimeout(total=10)
    while not stop.is_set():
        started = time.perf_counter()
        try:
            async with (
                aiohttp.ClientSession(
                    timeout=timeout,
                    connector=aiohttp.TCPConnector(force_close=True),
                    cookies={"portwatch_token": token},
                ) as session,
                session.get(url, allow_redirects=False) as response,
            ):
                await response.read()
                ok = response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        timings.append(time.perf_counter() - started if ok else None)
        descriptors.append(_open_descriptors())
        await asyncio.sleep(PROBE_EVERY_S)
    return timings


async def _flood(port: int, connections: int) -> asyncio.subprocess.Process:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "flood_child.py"),
        str(port),
        str(connections),
        str(FLOOD_MAX_S),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    ready = await asyncio.wait_for(child.stdout.readline(), 60)
    if not ready.startswith(b"ready"):
        raise RuntimeError(f"flood_child did not start: {ready!r}")
    return child


async def _end_flood(child: asyncio.subprocess.Process) -> dict[str, int]:
    assert child.stdin is not None
    assert child.stdout is not None
    child.stdin.close()
    out = await asyncio.wait_for(child.stdout.read(), 60)
    await child.wait()
    counts: dict[str, int] = json.loads(out.decode().strip().splitlines()[-1])
    return counts


async def _course(connections: int, speed: float) -> dict[str, Any]:
    """Play the fever through the daemon, flooded with ``connections`` (0: quietly)."""
    from portwatch.model import DecisionType
    from portwatch.sim.sandbox import Sandbox
    from portwatch.sim.scenario import DEFAULT_PLACEMENT, FEVER

    start = DEFAULT_PLACEMENT + FEVER.rise_start - timedelta(hours=1)
    until = DEFAULT_PLACEMENT + FEVER.plateau + timedelta(hours=5)  # confirmed 4 h in
    logging.getLogger("bumble").setLevel(logging.WARNING)
    with _Logging() as log:
        async with Sandbox(page=True, start=start) as sandbox:
            assert sandbox.daemon is not None
            assert sandbox.daemon.web_url is not None
            url, token = sandbox.daemon.web_url, str(sandbox._web_token)
            child = await _flood(urlsplit(url).port or 0, connections) if connections else None
            stop = asyncio.Event()
            descriptors: list[int] = []
            prober = asyncio.create_task(_probe(url, token, stop, descriptors))
            started = time.perf_counter()
            try:
                await sandbox.play(speed=speed, until=until)
            finally:
                stop.set()
                timings = await prober
                flood = await _end_flood(child) if child is not None else {}
            summary = sandbox.summary()
            stats = sandbox.daemon.web_stats
    fever = DecisionType.FEVER_CONFIRMED.value
    answered = [t for t in timings if t is not None]
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "fever_delivered": fever in summary.alerts_received_kinds,
        "alert_latency_ms": summary.alert_latency_ms,
        "page_requests": len(timings),
        "page_unanswered": len(timings) - len(answered),
        "page_worst_s": round(max(answered, default=0.0), 3),
        "page_median_s": round(sorted(answered)[len(answered) // 2], 3) if answered else None,
        "descriptors_peak": max(descriptors, default=0),
        "log_bytes": log.bytes,
        "log_lines": log.lines,
        "server": None if stats is None else _figures(stats),
        "page_timings": [None if t is None else round(t, 3) for t in timings],
        "flood": flood,
    }


def _figures(stats: Any) -> dict[str, int]:
    names = ("cap", "peak", "accepted", "evicted", "timed_out")
    return {name: int(getattr(stats, name)) for name in names}


def _unit_limit() -> int:
    """The daemon's side runs under the unit's LimitNOFILE, as on the Pi."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = UNIT_NOFILE if hard == resource.RLIM_INFINITY else min(UNIT_NOFILE, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))
    return soft


def run(quick: bool, seed: int | None = None) -> dict[str, Any]:
    """The fever alert and the caregiver's page, quietly and under a flood of connections."""
    connections = QUICK_CONNECTIONS if quick else FULL_CONNECTIONS
    speed = QUICK_SPEED if quick else FULL_SPEED
    saved = _unit_limit()
    try:
        quiet = asyncio.run(_course(0, speed))
        flooded = asyncio.run(_course(connections, speed))
    finally:
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (saved, hard))
    quiet_ms = quiet["alert_latency_ms"] or 0.0
    budget_ms = max(1000.0, 3 * quiet_ms)
    flood_ms = flooded["alert_latency_ms"]
    lost = sum(1 for r in (quiet, flooded) if not r["fever_delivered"])
    crashed = flooded["page_unanswered"] + sum(
        1 for r in (quiet, flooded) if r["page_worst_s"] > PAGE_BUDGET_S
    )
    server = flooded["server"] or {}
    log_growth = flooded["log_bytes"] - quiet["log_bytes"]
    passed = (
        lost == 0
        and crashed == 0
        and flood_ms is not None
        and flood_ms <= budget_ms
        and server.get("peak", 0) <= server.get("cap", 0)
        and log_growth <= LOG_BUDGET_BYTES
        and flooded["flood"].get("opened", 0) >= connections
    )
    held = flooded["flood"].get("held_peak", 0)
    notes = (
        f"{connections:,} connections ({flooded['flood'].get('opened', 0):,} opened, "
        f"{held:,} held at once by the attacker; the page held at most {server.get('peak')} "
        f"of its cap {server.get('cap')}, dropped {server.get('evicted', 0):,} and timed out "
        f"{server.get('timed_out', 0):,}); fever alert {flood_ms} ms flooded vs "
        f"{quiet['alert_latency_ms']} ms quiet (budget {budget_ms:.0f}); page worst "
        f"{flooded['page_worst_s']} s flooded vs {quiet['page_worst_s']} s quiet over "
        f"{flooded['page_requests']} requests; descriptors at most "
        f"{flooded['descriptors_peak']} flooded vs {quiet['descriptors_peak']} quiet (limit "
        f"{UNIT_NOFILE}); log {flooded['log_bytes']:,} bytes flooded vs "
        f"{quiet['log_bytes']:,} quiet"
    )
    return {
        "campaign": NAME,
        "tried": flooded["page_requests"] + 1,
        "lost": lost,
        "duplicated": None,
        "crashed": crashed,
        "passed": passed,
        "seed": seed,
        "quiet": quiet,
        "flooded": flooded,
        "alert_budget_ms": budget_ms,
        "notes": notes,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
