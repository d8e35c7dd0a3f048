"""Campaign: SIGKILL the log -> rule -> outbox -> clinic chain at random moments.

A child process (``powerloss_child.py``) plays a ten-day course with two fevers through the
real log, the fever rule, the outbox and the ``Deliverer``, sending to the reference inbox
that this process serves on 127.0.0.1. The child is killed with SIGKILL at random moments
(10 times in the quick run, 100 in the full one) and restarted each time; it rebuilds the
rule from the log and resumes. A last run finishes the course. The result is compared with
one uninterrupted pass of the same course through the rule.

Counts: ``lost`` = readings the child acknowledged (committed, then printed) that are not
in the log, plus clinic alerts the uninterrupted pass makes that the inbox never stored;
``duplicated`` = readings logged twice, plus alerts the inbox stored that the uninterrupted
pass does not make (an episode alerted twice under another identifier); ``crashed`` = child
runs that failed on their own. The notes add decisions recorded twice or skipped (the
rule's recheck reminders among them), alerts still pending, and resends the inbox dropped.

What SIGKILL does not test: the kernel still writes the page cache after the process dies,
so a real power cut is only as safe as ``synchronous=FULL`` makes the commits; that is the
store's own crash test's concern. And this chain is wired here, not by ``daemon.py``: the
daemon's own kill campaign waits for the pipeline branch.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from portwatch.store import Store

NAME = "power loss (SIGKILL) log -> rule -> outbox -> clinic"
HERE = Path(__file__).resolve().parent
CHILD = HERE / "powerloss_child.py"
QUICK_KILLS, FULL_KILLS = 10, 100
QUICK_SPACING_S, FULL_SPACING_S = 3600.0, 1800.0  # a spot reading every hour / half hour
READY_TIMEOUT_S = 60.0
FINISH_TIMEOUT_S = 300.0
KILL_JITTER_S = 0.002  # about one reading's worth of work on a fast disk


class InboxThread:
    """The reference inbox on loopback, on its own event loop thread, on the system clock."""

    def __init__(self, key: bytes, path: Path) -> None:
        self._key = key
        self._path = path
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="inbox", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.port = 0
        self.resends = 0
        self.stored: list[str] = []

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the inbox did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from aiohttp import web

        from portwatch.clock import SystemClock
        from portwatch.inbox import InboxStore, make_app

        store = InboxStore(self._path)
        app = make_app(self._key, store, SystemClock())

        @web.middleware
        async def count(request: web.Request, handler: Callable[..., Any]) -> Any:
            response = await handler(request)
            if request.method == "POST" and response.status == 200:
                answer = json.loads(response.text)
                if answer["stored"]:
                    self.stored.append(str(answer["id"]))
                else:
                    self.resends += 1
            return response

        app.middlewares.append(count)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()
            store.close()


def _child_module() -> Any:
    spec = importlib.util.spec_from_file_location("portwatch_powerloss_child", CHILD)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {CHILD}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _read_one(pipe: Any, timeout_s: float) -> str | None:
    """One line from an unbuffered pipe, or None at EOF or after the timeout."""
    ready, _, _ = select.select([pipe], [], [], timeout_s)
    if not ready:
        return None
    raw = pipe.readline()
    return raw.decode().strip() if raw else None


def _read_lines(pipe: Any, timeout_s: float, until: str) -> list[str]:
    """Lines from a child's stdout until one equals ``until`` (or EOF, or the timeout)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while (line := _read_one(pipe, max(0.0, deadline - time.monotonic()))) is not None:
        lines.append(line)
        if line == until:
            break
    return lines


def run(quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Kill the chain at random moments; count readings and alerts lost or doubled."""
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    if importlib.util.find_spec("portwatch.rule") is None:
        return {
            "campaign": NAME, "tried": 0, "lost": None, "duplicated": None, "crashed": None,
            "passed": True, "skipped": True, "seed": seed,
            "notes": "not run: this branch has no fever rule (portwatch.rule) yet",
        }  # fmt: skip
    rng = random.Random(seed)
    kills = QUICK_KILLS if quick else FULL_KILLS
    spacing_s = QUICK_SPACING_S if quick else FULL_SPACING_S
    child = _child_module()
    start = (datetime.now(UTC) - timedelta(days=12)).replace(second=0, microsecond=0)
    plan = child.course(start, seed, timedelta(seconds=spacing_s))
    reference = child.rule_for(start)
    expected_decisions: dict[str, str] = {}
    for reading in plan.readings:
        for decision in reference.feed(reading, now=reading.received_at):
            expected_decisions[str(decision.id)] = decision.type.value
    for decision in reference.advance(start + timedelta(days=child.COURSE_DAYS + 1)):
        expected_decisions[str(decision.id)] = decision.type.value
    clinic_types = {t.value for t in child.CLINIC_TYPES}
    expected_alerts = {i for i, kind in expected_decisions.items() if kind in clinic_types}

    with tempfile.TemporaryDirectory(prefix="portwatch-powerloss-") as tmp:
        directory = Path(tmp)
        key_text = "whsec_" + base64.b64encode(rng.randbytes(24)).decode()
        secret = directory / "clinic-secret"
        secret.write_text(key_text, encoding="utf-8")
        secret.chmod(0o600)
        from portwatch.alerts.signing import parse_secret

        inbox = InboxThread(parse_secret(key_text), directory / "inbox.db")
        inbox.start()
        db = directory / "portwatch.db"
        command = [
            sys.executable, str(CHILD), str(db), f"http://127.0.0.1:{inbox.port}/webhook",
            str(secret), start.isoformat(), str(seed), str(spacing_s),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        acked: set[str] = set()
        crashed = kills_made = 0
        finished = False
        # Each kill comes once the course has reached a random reading, then a random moment
        # later: inside a commit, the rule, a decision's transaction or a delivery, wherever
        # the child happens to be.
        position = {r.time.isoformat(): i for i, r in enumerate(plan.readings)}
        reached = 0  # how far into the course the log has got
        try:
            for run_index in range(kills + 1):
                target: int | None = None
                if run_index < kills and not finished:
                    # The next kill comes a random stretch further into the course: on
                    # average half an even share of what remains, as the child runs on a
                    # little past each target; the kills spread over about 90% of it.
                    left = len(plan.readings) - reached
                    target = reached + rng.randrange(max(1, left // (kills - run_index)))
                process = subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
                    command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, bufsize=0
                )
                assert process.stdout is not None
                try:
                    lines = _read_lines(process.stdout, READY_TIMEOUT_S, "READY")
                    if target is None:
                        lines += _read_lines(process.stdout, FINISH_TIMEOUT_S, "DONE")
                        process.wait(FINISH_TIMEOUT_S)
                    else:
                        while reached < target:
                            line = _read_one(process.stdout, FINISH_TIMEOUT_S)
                            if line is None:
                                break
                            lines.append(line)
                            if line.startswith("ACK "):
                                reached = position[line.split()[1]] + 1
                        time.sleep(rng.uniform(0, KILL_JITTER_S))
                        if process.poll() is None:
                            process.send_signal(signal.SIGKILL)
                            kills_made += 1
                        process.wait(30)
                        lines += process.stdout.read().decode().splitlines()
                finally:
                    if process.poll() is None:
                        process.kill()
                        process.wait(30)
                    process.stdout.close()
                if process.returncode not in (0, -signal.SIGKILL):
                    crashed += 1
                acked.update(line.split()[1] for line in lines if line.startswith("ACK "))
                finished = finished or "DONE" in lines
                if target is None:
                    break
        finally:
            inbox.stop()
        with Store.open(db) as store:
            logged = [s.reading.time.isoformat() for s in child._logged(store, start)]
            decided = [
                str(d.id)
                for d in store.decisions(start - timedelta(days=1), start + timedelta(days=12))
            ]
            pending = len(store.outbox_all("pending"))
    lost_readings = len(acked - set(logged))
    doubled_readings = len(logged) - len(set(logged))
    stored = set(inbox.stored)
    missing_alerts = len(expected_alerts - stored)
    extra_alerts = len(stored - expected_alerts) + (len(inbox.stored) - len(stored))
    decisions_off = len(set(decided) ^ set(expected_decisions)) + len(decided) - len(set(decided))
    passed = finished and crashed == 0 and kills_made > 0
    passed = passed and lost_readings == missing_alerts == doubled_readings == extra_alerts == 0
    passed = passed and decisions_off == 0 and pending == 0
    notes = (
        f"seed={seed}; {kills_made} kills over {len(plan.readings)} readings; "
        f"{len(acked)} acknowledged readings, {lost_readings} missing after restart; "
        f"{len(expected_alerts)} clinic alerts expected, {missing_alerts} never delivered, "
        f"{extra_alerts} extra; decisions doubled or skipped {decisions_off} "
        f"(of {len(expected_decisions)}); {pending} left pending; "
        f"{inbox.resends} resends dropped by the inbox; course finished: {finished}"
    )
    return {
        "campaign": NAME,
        "tried": kills_made,
        "lost": lost_readings + missing_alerts,
        "duplicated": doubled_readings + extra_alerts,
        "crashed": crashed,
        "passed": passed,
        "seed": seed,
        "acknowledged": len(acked),
        "decisions_off": decisions_off,
        "pending": pending,
        "resends_deduplicated": inbox.resends,
        "notes": notes,
    }
