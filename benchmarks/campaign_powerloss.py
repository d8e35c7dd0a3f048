"""Campaign: SIGKILL `portwatch run` itself at random moments across a ten-day course.

The daemon runs in a subprocess wired exactly as `portwatch run` wires it, through the test
entry point ``python -m portwatch.sim.run`` (issue 15: the hooks are out of the product) with
``--virtual-clock START`` (a simulated clock, paced flat out),
``--scenario two-fevers`` (the virtual radio's CORE wearable plays the demo's course with a
second fever on day 7, ``portwatch.sim.scenario.TWO_FEVERS``) and ``--received-journal FILE``
(each reading the daemon receives is appended there with its device time and the real
monotonic time, one ``os.write`` each, so the journal survives the kill; a tick line each
simulated minute tells simulated time between readings). The clinic is the
reference inbox, served by this process on 127.0.0.1; systemd's notify socket is a real
datagram socket here, and each run is killed only after it said READY=1.

Two passes, each with its own log and inbox: the CORE wearable's course (``two-fevers``),
then the same fevers read with a spot thermometer (``spot-two-fevers``,
``portwatch.sim.scenario.SPOT_TWO_FEVERS``): readings at 08, 13, 18 and 22 h and ten minutes
after each recheck due time, so that the rule sends recheck reminders. The patient takes
the recheck reading whether or not reminded (the course is data, not a model of the
patient); whether the reminder came, once and in time, is counted on its own. A restarted
run's spot thermometer holds the course's readings taken since the log's latest, as a real
one keeps what nobody received, and sends them once the daemon subscribes.

Kills: ``kills`` target times on the course (seeded): most uniformly random, and some placed
shortly before a care reminder or a fever's recheck falls due, so that the reboot gap covers
it. The campaign follows the journal and sends SIGKILL once the daemon's simulated time (a
reading or a tick) is at or past the target, after a random real delay of up to a few
milliseconds (inside a commit, the rule, a decision's transaction or a delivery: wherever
it is).

Restart time rule: a rebooted Pi resumes where it was: the next run's simulated clock
starts at the latest of the log's latest reading time, the simulated time the killed run
reached and the previous run's start, plus a reboot gap (seeded, :data:`GAP_MIN` to
:data:`GAP_MAX`; :data:`GAP_COVER` for a kill aimed at a due time, so that it falls while
the daemon is down). A last run plays to the end of the course, waits until the log's
outbox is delivered and is stopped with SIGTERM.

Counts:

- ``lost``: readings the journal shows received more than 1 s (real time: the writer's
  durability window, ``store.durable_within``) before the kill that are not in the log,
  plus every reading received by the SIGTERMed last run that is not; plus clinic alerts
  never delivered: clinic outbox rows of the log the inbox never stored, and fever
  episodes' alerts an uninterrupted run of the course makes (:func:`reference`) that the
  inbox has none of; plus reminders skipped;
- ``duplicated``: readings in the log twice; an inbox id stored twice; a fever alert of one
  kind stored twice for the same episode under any id; reminders repeated;
- ``crashed``: runs that exited on their own (not killed, or the last one not with 0).

Reminders: the care reminders of the sheet (``care.reminder_plan``) and the rule's recheck
reminders (a fresh rule replaying the final log, as the daemon's rebuild does) must each be
in the log's notify outbox exactly once, created no earlier than due. A reminder falling due
while the daemon is down is then the restart's to send, once. A recheck reminder is also
``late`` when made more than :data:`LATE_TOLERANCE` after its due time while a run was up
then, or after the restart that followed a due time the daemon was down at
(:func:`recheck_deadline`). The wearable is a stream, and the rule reminds to recheck only
after a spot reading (fever-rule.md §5): in that pass none is expected and none may
appear; in the spot pass each fever's first elevated reading makes one. A kill aimed at a
fever's recheck time leaves the daemon down when the reminder falls due and when the
confirming reading comes: the restart must send the reminder once and confirm the fever
once.

The quick run (CI) plays days 6-8 of the course (the second fever, the day-7 check
reminder) with 10 kills on the wearable and 5 on the spot thermometer; the full run the
ten days with 100 kills in each pass. The result's counts are the passes' sums; each
pass's own result is under its scenario's name. The log lives on a RAM disk
when there is one (see :func:`_scratch`).

What SIGKILL does not test: the kernel still writes the page cache after the process dies,
so a real power cut is only as safe as ``synchronous=FULL`` makes the commits; that is the
store's own crash test's concern (``tests/store/test_crash.py``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NAME = "power loss (SIGKILL) of `portwatch run`"
# The two passes: the course's CORE wearable, then the same fevers read by a spot thermometer
# (portwatch.sim.scenario.SPOT_TWO_FEVERS), whose first elevated readings get recheck reminders.
CORE_SCENARIO, SPOT_SCENARIO = "two-fevers", "spot-two-fevers"
QUICK_KILLS, FULL_KILLS = 10, 100
QUICK_SPOT_KILLS, FULL_SPOT_KILLS = 5, 100
# Kills aimed at a due time (care reminders, fevers' recheck times), out of all kills: at
# most one per due time (the quick span has 2, the full course 6).
QUICK_AIMED, FULL_AIMED = 2, 6
SPEED = 1e9  # simulated seconds per real second: flat out (pacing.pace never waits)
GAP_MIN, GAP_MAX = timedelta(minutes=1), timedelta(minutes=20)  # a Pi's reboot, simulated
GAP_COVER = timedelta(minutes=45)  # a kill aimed at a due time: down across it
AIM_BEFORE = (timedelta(minutes=5), timedelta(minutes=25))  # aimed kills: this far before due
# The quick run's stretch of the course, from the placement (see span_for).
QUICK_BEGIN, QUICK_END = timedelta(days=5, hours=20), timedelta(days=8)
# The full run plays this far past the course (10 days and an hour): the day-10 reminder
# at 09:00 is then far enough from the end for a kill aimed at it.
FULL_PAST_COURSE = timedelta(hours=4)
FINAL_STRETCH = timedelta(hours=3)  # no kill this close to the end: the last run plays it
DURABLE_WINDOW_S = 1.0  # the writer's durability window (store.durable_within, issue 4)
READY_TIMEOUT_S = 90.0
RUN_TIMEOUT_S = 600.0
DRAIN_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0  # issue 7: SIGTERM stops cleanly within 10 s
KILL_JITTER_S = 0.005
# A recheck reminder is late when made more than this after its due time (or after the
# restart, when the daemon was down at the due time): the timed work runs each minute.
LATE_TOLERANCE = timedelta(minutes=2)
POLL_S = 0.002
CLINIC_KINDS = ("fever.confirmed", "fever.ongoing", "fever.resolved")
SECRET_KEY_BYTES = 32


# -- following the daemon -------------------------------------------------------------------


class Journal:
    """The daemon's received-readings journal, read as it grows (thread-safe).

    Each line: ``<device time ISO> <monotonic seconds>``, or a tick ``<simulated time ISO>
    <monotonic seconds> tick`` each simulated minute (which tells simulated time between a
    spot thermometer's sparse readings). ``floor`` is the current run's simulated start, so
    that :meth:`now` is right before its first reading too.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[tuple[datetime, float, int]] = []  # (time, monotonic, run)
        self.floor = datetime.min.replace(tzinfo=UTC)
        self.run = 0
        self.latest: datetime | None = None  # the latest simulated time a line told
        self._offset = 0
        self._partial = b""
        self._lock = threading.Lock()

    def poll(self) -> datetime | None:
        """Read what is new; return the latest device time seen (None before any)."""
        with self._lock:
            try:
                with self.path.open("rb") as f:
                    f.seek(self._offset)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            self._offset += len(data)
            *lines, self._partial = (self._partial + data).split(b"\n")
            for line in lines:
                stamp, mono, *tick = line.decode().split()
                when = datetime.fromisoformat(stamp)
                if not tick:
                    self.entries.append((when, float(mono), self.run))
                self.latest = when if self.latest is None else max(self.latest, when)
            return self.latest

    def now(self) -> datetime:
        latest = self.poll()
        return self.floor if latest is None else max(self.floor, latest)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        raise NotImplementedError("the inbox only reads its clock")


class InboxThread:
    """The reference inbox on loopback, on its own event loop thread, on the course's clock."""

    def __init__(self, key: bytes, path: Path, clock: Journal) -> None:
        self._key = key
        self._path = path
        self._clock = clock
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="inbox", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.port = 0
        self.resends = 0
        self.stored: list[str] = []
        self.refused: list[int] = []
        self.alerts: list[dict[str, Any]] = []

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

        from portwatch.sim.inbox import InboxStore, make_app

        store = InboxStore(self._path)
        app = make_app(self._key, store, self._clock)

        @web.middleware
        async def count(request: web.Request, handler: Callable[..., Any]) -> Any:
            response = await handler(request)
            if request.method == "POST":
                if response.status == 200:
                    answer = json.loads(response.text)
                    if answer["stored"]:
                        self.stored.append(str(answer["id"]))
                    else:
                        self.resends += 1
                else:
                    self.refused.append(response.status)
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
            self.alerts = store.alerts()
            await runner.cleanup()
            store.close()


class NotifySocket:
    """systemd's side of the notify socket: reads every datagram (as systemd does)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.readies = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="notify", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            if "READY=1" in data.split("\n"):
                self.readies += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


# -- the course --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    """What an uninterrupted run of the course does (the parts the campaign counts)."""

    fever_alerts: Counter[tuple[str, int]]  # (kind, episode) -> how many
    rechecks: int
    recheck_dues: tuple[datetime, ...]  # when each first elevated reading's recheck falls due
    care: tuple[tuple[str, datetime], ...]  # (reminder key, due)


def episode_of(when: datetime) -> int:
    """Which fever of the course an alert timed ``when`` belongs to (0, 1; -1 before)."""
    from portwatch.sim.scenario import DEFAULT_PLACEMENT, TWO_FEVERS

    starts = [DEFAULT_PLACEMENT + f.rise_start for f in TWO_FEVERS.fevers]
    return sum(1 for s in starts if s <= when) - 1


def _settings(state: Path, inbox_url: str, secret: Path) -> Any:
    from portwatch.config import Settings
    from portwatch.sim.scenario import DEFAULT_PLACEMENT

    return Settings.model_validate(
        {
            "patient": {"reference": "Patient/powerloss", "placement": DEFAULT_PLACEMENT},
            "bluetooth": {"backend": "virtual"},
            "clinic": {
                "url": inbox_url,
                "recipient": "Organization/powerloss-clinic",
                "secret_file": secret,
            },
            "store": {"state_directory": state},
        }
    )


@dataclass(frozen=True, slots=True)
class Span:
    """The stretch of the course a campaign plays: the first run starts at ``begin`` with an
    empty log; the last run plays until ``end``."""

    begin: datetime
    end: datetime


def span_for(quick: bool) -> Span:
    """The full run plays the ten days and four hours past the period (the last reminder);
    the quick one days 6-8: the second fever from before its rise to after its resolution,
    and the day-7 check reminder."""
    from portwatch.sim.scenario import DEFAULT_PLACEMENT, TWO_FEVERS

    if quick:
        return Span(DEFAULT_PLACEMENT + QUICK_BEGIN, DEFAULT_PLACEMENT + QUICK_END)
    return Span(DEFAULT_PLACEMENT, DEFAULT_PLACEMENT + TWO_FEVERS.length + FULL_PAST_COURSE)


def reference(settings: Any, span: Span, scenario: str = CORE_SCENARIO) -> Expected:
    """The uninterrupted course through the rule, fed as the daemon feeds it: the wearable's
    readings every interval (its CORE frames keep 0.01 °C), or the spot thermometer's at
    the course's spot times (HTS with two decimals), the rule advanced every minute."""
    from decimal import Decimal

    from portwatch.fever.rule import FeverRule
    from portwatch.model import DecisionType, Reading, ReadingKind, Unit
    from portwatch.service.care import reminder_plan
    from portwatch.service.daemon import rule_settings
    from portwatch.sim.scenario import (
        COURSES,
        MEASUREMENT_INTERVAL_S,
        TWO_FEVERS,
        Thermometer,
        core_celsius,
        spot_times,
    )

    placement = settings.patient.placement
    rule = FeverRule(
        rule_settings(settings), patient="Patient/powerloss", placement=placement,
        pinned_device=None,
    )  # fmt: skip
    decisions = []
    at, end = span.begin, span.end
    step = timedelta(seconds=MEASUREMENT_INTERVAL_S)
    course = COURSES[scenario]
    spot = course.thermometer is Thermometer.SPOT
    # As the daemon's virtual thermometer plays them: after its clock's start, up to the end.
    taken = [t for t in spot_times(course, placement, span.begin, end) if t < end]
    while at < end:
        due = [t for t in taken if t <= at] if spot else [at]
        for when in due:
            celsius = core_celsius(placement, when, TWO_FEVERS.fevers)
            value = Decimal(f"{celsius:.2f}") if spot else Decimal(str(round(celsius, 2)))
            reading = Reading(
                device="D0:00:00:00:00:01",
                kind=ReadingKind.SPOT if spot else ReadingKind.STREAM, value=value,
                unit=Unit.CELSIUS, celsius=float(value), time=when, received_at=when,
            )  # fmt: skip
            decisions.extend(rule.feed(reading, now=when))
        if spot:
            taken = taken[len(due) :]
        decisions.extend(rule.advance(at))
        at += step
    decisions.extend(rule.advance(end))
    alerts: Counter[tuple[str, int]] = Counter()
    for d in decisions:
        if d.type.value in CLINIC_KINDS:
            alerts[
                (d.type.value, episode_of(d.observations[0].time if d.observations else d.time))
            ] += 1
    rechecks = sum(1 for d in decisions if d.type is DecisionType.RECHECK_DUE and d.time < end)
    care = reminder_plan(
        placement, end, zone=settings.zone, at=settings.notify.reminders_at,
        port_in_regular_use=settings.patient.port_in_regular_use,
    )  # fmt: skip
    # A reminder that expired before the span begins is not the span's to send.
    care = [c for c in care if c.expires > span.begin]
    dues = tuple(
        d.due for d in decisions if d.type is DecisionType.ELEVATED_FIRST and d.due is not None
    )
    return Expected(alerts, rechecks, dues, tuple((c.key, c.due) for c in care))


def _aim_points(expected: Expected, span: Span) -> list[datetime]:
    """Due times worth a kill just before: the care reminders, and each fever's recheck
    time (for the wearable's stream the rule sends no recheck reminder, fever-rule.md §5,
    but the fever is confirmed then: down across it, the restart must confirm it once; for
    the spot thermometer the recheck reminder falls due then, and the restart must send it
    once, late but not skipped)."""
    points = [due for _, due in expected.care] + list(expected.recheck_dues)
    lowest = span.begin + AIM_BEFORE[1] + timedelta(minutes=10)
    return sorted(p for p in points if lowest < p < span.end - FINAL_STRETCH)


def _targets(
    rng: random.Random, kills: int, aimed: int, aims: list[datetime], span: Span
) -> list[tuple[datetime, bool]]:
    """Where on the course each kill comes: (simulated time, aimed at a due time)."""
    start, end = span.begin + timedelta(minutes=10), span.end - FINAL_STRETCH
    seconds = (end - start).total_seconds()
    chosen = aims if aimed >= len(aims) else rng.sample(aims, aimed)
    targets = [
        (start + timedelta(seconds=rng.uniform(0, seconds)), False)
        for _ in range(kills - len(chosen))
    ]
    for due in chosen:
        before = rng.uniform(*(b.total_seconds() for b in AIM_BEFORE))
        targets.append((due - timedelta(seconds=before), True))
    return sorted(targets)


# -- the campaign --------------------------------------------------------------------------------


@dataclass(slots=True)
class Runs:
    kills: int = 0
    crashed: int = 0
    kill_monotonic: dict[int, float] = field(default_factory=dict)  # run -> when killed
    starts: list[datetime] = field(default_factory=list)
    ends: list[datetime] = field(default_factory=list)  # simulated time each run reached
    covered: int = 0  # aimed kills whose reboot gap really covered a due time
    covered_rechecks: int = 0  # ... covered a fever's recheck due time
    problems: list[str] = field(default_factory=list)


def _scratch() -> str | None:
    """A memory-backed directory when the system has one (the demo does the same).

    SIGKILL ends the process, not the machine: the kernel keeps and writes its page cache
    either way, so a RAM disk changes nothing this campaign can see, and spares the
    thousands of fsyncs that would make a ten-day course take minutes on a slow disk.
    """
    shm = Path("/dev/shm")  # noqa: S108 (a private subdirectory is created in it)
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def _latest_logged(db: Path) -> datetime | None:
    from portwatch.log.store import Store, StoreError

    try:
        with Store.open_reader(db) as store:
            latest = store.latest_reading()
    except StoreError:
        return None
    return None if latest is None else latest.reading.time


def _pending_clinic(db: Path, end: datetime) -> int:
    """Clinic rows made during the course and not yet delivered (later heartbeats aside)."""
    from portwatch.log.store import Store

    with Store.open_reader(db) as store:
        pending = store.outbox_all("pending")
    return sum(1 for row in pending if row.channel == "clinic" and row.created_at < end)


def _launch(
    config: Path,
    start: datetime,
    journal: Path,
    notify: NotifySocket,
    log: Path,
    scenario: str = CORE_SCENARIO,
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "portwatch.sim.run", "--config", str(config),
        "--virtual-clock", start.isoformat(), "--speed", str(SPEED),
        "--scenario", scenario, "--received-journal", str(journal),
    ]  # fmt: skip
    env = {**os.environ, "NOTIFY_SOCKET": str(notify.path)}
    env.pop("WATCHDOG_USEC", None)
    with log.open("ab") as err:
        return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)  # noqa: S603


def _wait_ready(process: subprocess.Popen[bytes], notify: NotifySocket, before: int) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while notify.readies <= before:
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def run(quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Kill `portwatch run` at random moments; count readings, alerts, reminders lost or doubled.

    Two passes with the same seed: the CORE wearable's course, then the spot thermometer's
    (recheck reminders). The top-level counts are the sums; each pass is under its scenario.
    """
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    return combine({name: run_pass(name, quick, seed) for name in (CORE_SCENARIO, SPOT_SCENARIO)})


def run_pass(scenario: str, quick: bool, seed: int | None = None) -> dict[str, Any]:
    """One pass: kill `portwatch run` playing ``scenario`` (CI's tests run each on its own)."""
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    rng = random.Random(f"{seed}-{scenario}")
    if scenario == SPOT_SCENARIO:
        kills = QUICK_SPOT_KILLS if quick else FULL_SPOT_KILLS
    else:
        kills = QUICK_KILLS if quick else FULL_KILLS
    aimed = QUICK_AIMED if quick else FULL_AIMED
    with tempfile.TemporaryDirectory(prefix="portwatch-powerloss-", dir=_scratch()) as tmp:
        return _campaign(Path(tmp), rng, seed, kills, aimed, span_for(quick), scenario)


def combine(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One table row from the passes: counts summed, ``passed`` only if every pass passed."""
    total: dict[str, Any] = {"campaign": NAME, "seed": next(iter(results.values()))["seed"]}
    for result in results.values():
        for key, value in result.items():
            if isinstance(value, int) and not isinstance(value, bool) and key != "seed":
                total[key] = total.get(key, 0) + value
    total["passed"] = all(r["passed"] for r in results.values())
    total["notes"] = " || ".join(f"{name}: {r['notes']}" for name, r in results.items())
    total.update(results)
    return total


def _campaign(
    directory: Path,
    rng: random.Random,
    seed: int,
    kills: int,
    aimed: int,
    span: Span,
    scenario: str = CORE_SCENARIO,
) -> dict[str, Any]:
    from portwatch.alerts.signing import parse_secret
    from portwatch.sim.scenario import DEFAULT_PLACEMENT

    key_text = "whsec_" + base64.b64encode(rng.randbytes(SECRET_KEY_BYTES)).decode()
    secret = directory / "clinic-secret"
    secret.write_text(key_text + "\n", encoding="utf-8")
    secret.chmod(0o600)
    journal = Journal(directory / "received.journal")
    inbox = InboxThread(parse_secret(key_text), directory / "inbox.db", journal)
    inbox.start()
    state = directory / "state"
    state.mkdir()
    url = f"http://127.0.0.1:{inbox.port}/webhook"
    config = directory / "portwatch.toml"
    placed = DEFAULT_PLACEMENT.isoformat()
    config.write_text(
        f'[patient]\nreference = "Patient/powerloss"\nplacement = "{placed}"\n\n'
        '[bluetooth]\nbackend = "virtual"\n\n'
        f'[clinic]\nurl = "{url}"\nrecipient = "Organization/powerloss-clinic"\n'
        f'secret_file = "{secret}"\n\n'
        f'[store]\nstate_directory = "{state}"\n',
        encoding="utf-8",
    )
    settings = _settings(state, url, secret)
    expected = reference(settings, span, scenario)
    aims = _aim_points(expected, span)
    targets = _targets(rng, kills, aimed, aims, span)
    notify = NotifySocket(directory / "notify")
    db = state / "portwatch.db"
    stderr = directory / "stderr.txt"
    runs = Runs()
    end = span.end
    try:
        start = span.begin
        for index in range(kills + 1):
            target, aim = targets[index] if index < kills else (None, False)
            journal.run, journal.floor = index, start
            runs.starts.append(start)
            readies = notify.readies
            process = _launch(config, start, journal.path, notify, stderr, scenario)
            try:
                if not _wait_ready(process, notify, readies):
                    runs.crashed += 1
                    runs.problems.append(f"run {index} never said READY")
                    break
                goal = target if target is not None else end
                deadline = time.monotonic() + RUN_TIMEOUT_S
                while (latest := journal.poll()) is None or latest < goal:
                    if process.poll() is not None or time.monotonic() > deadline:
                        break
                    time.sleep(POLL_S)
                else:
                    deadline = 0.0  # reached
                if deadline and process.poll() is None:
                    runs.problems.append(f"run {index} did not reach {goal:%d %H:%M} in time")
                if process.poll() is not None:
                    runs.crashed += 1
                    runs.problems.append(f"run {index} exited on its own ({process.returncode})")
                    break
                if target is not None:
                    time.sleep(rng.uniform(0, KILL_JITTER_S))
                    process.send_signal(signal.SIGKILL)
                    runs.kill_monotonic[index] = time.monotonic()
                    process.wait(STOP_TIMEOUT_S)
                    runs.kills += 1
                else:
                    deadline = time.monotonic() + DRAIN_TIMEOUT_S
                    while _pending_clinic(db, end) and time.monotonic() < deadline:
                        time.sleep(0.05)
                    process.send_signal(signal.SIGTERM)
                    try:
                        rc = process.wait(STOP_TIMEOUT_S)
                    except subprocess.TimeoutExpired:
                        rc = None
                    if rc != 0:
                        runs.crashed += 1
                        runs.problems.append(f"the last run exited {rc} after SIGTERM")
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(STOP_TIMEOUT_S)
            reached = journal.poll() or start
            runs.ends.append(max(start, reached))
            if target is None:
                break
            latest_logged = max(_latest_logged(db) or start, reached)
            gap = (
                GAP_COVER
                if aim
                else timedelta(
                    seconds=rng.uniform(GAP_MIN.total_seconds(), GAP_MAX.total_seconds())
                )
            )
            start = max(latest_logged, start) + gap
            if aim and any(latest_logged < due <= start for due in aims):
                runs.covered += 1
            if aim and any(latest_logged < due <= start for due in expected.recheck_dues):
                runs.covered_rechecks += 1
    finally:
        notify.close()
        inbox.stop()
    journal.poll()
    return _count(db, journal, inbox, runs, expected, settings, seed, kills, stderr, span)


def recheck_deadline(due: datetime, starts: list[datetime], ends: list[datetime]) -> datetime:
    """The latest a recheck reminder due at ``due`` may be made: within
    :data:`LATE_TOLERANCE` of its due time if a run was up then and went on past that, else
    within it of the first start after the due time (the restart's to send)."""
    for begun, reached in zip(starts, ends, strict=True):
        if begun <= due and reached >= due + LATE_TOLERANCE:
            return due + LATE_TOLERANCE
        if begun >= due:
            return begun + LATE_TOLERANCE
    return ends[-1] if ends else due


def count_lost(
    entries: list[tuple[datetime, float, int]],
    kill_monotonic: dict[int, float],
    last_run: int,
    logged: Collection[datetime],
) -> int:
    """Journaled readings missing from the log: those a killed run received more than the
    durability window before its kill, and all those of the last (SIGTERMed) run."""
    lost = 0
    for when, mono, run_index in entries:
        killed = kill_monotonic.get(run_index)
        if killed is not None:
            must_be_logged = mono < killed - DURABLE_WINDOW_S
        else:
            must_be_logged = run_index == last_run
        if must_be_logged and when not in logged:
            lost += 1
    return lost


def _count(
    db: Path,
    journal: Journal,
    inbox: InboxThread,
    runs: Runs,
    expected: Expected,
    settings: Any,
    seed: int,
    kills: int,
    stderr: Path,
    span: Span,
) -> dict[str, Any]:
    from portwatch.alerts.notices import NoticeKind
    from portwatch.fever.rule import FeverRule
    from portwatch.log.store import Store
    from portwatch.model import DecisionType, derived_id
    from portwatch.service.care import CareReminder
    from portwatch.service.daemon import rule_settings

    placement = settings.patient.placement
    with Store.open_reader(db) as store:
        logged = store.readings(placement - timedelta(days=2), span.end + timedelta(days=2))
        outbox = store.outbox_all()
        decided = store.decisions(placement - timedelta(days=2), span.end + timedelta(days=2))
    times = Counter(s.reading.time for s in logged)
    doubled_readings = sum(n - 1 for n in times.values())
    lost_readings = count_lost(journal.entries, runs.kill_monotonic, len(runs.starts) - 1, times)
    # Clinic alerts.
    stored = Counter(inbox.stored)
    doubled_ids = sum(n - 1 for n in stored.values())
    # The last run is stopped once the course's rows are delivered; a heartbeat made after
    # the course's end may still be pending then, and is the next start's to send.
    clinic_rows = [row for row in outbox if row.channel == "clinic" and row.created_at < span.end]
    undelivered_rows = sum(1 for row in clinic_rows if row.id not in stored)
    by_episode: Counter[tuple[str, int]] = Counter()
    for alert in inbox.alerts:
        if alert["type"] in CLINIC_KINDS:
            readings = alert["readings"]
            when = (
                min((datetime.fromisoformat(r["time"]) for r in readings), default=None)
                if readings
                else None
            )
            if when is None:
                when = datetime.fromisoformat(str(alert["received_at"]))
            by_episode[(str(alert["type"]), episode_of(when))] += 1
    missing_episodes = sum(max(0, n - by_episode[k]) for k, n in expected.fever_alerts.items())
    extra_episodes = sum(max(0, n - expected.fever_alerts[k]) for k, n in by_episode.items())
    # Reminders: care reminders once each, due or later; rechecks as the log's rule decides.
    rule = FeverRule(
        rule_settings(settings),
        patient=settings.patient.reference,
        placement=placement,
        pinned_device=logged[0].reading.device if logged else None,
    )
    replayed = []
    for s in sorted(logged, key=lambda s: s.id):
        replayed.extend(rule.feed(s.reading, now=s.reading.received_at))
    replayed.extend(rule.advance(span.end))
    recheck_ids = {str(d.id) for d in replayed if d.type is DecisionType.RECHECK_DUE}
    notify_rows = [row for row in outbox if row.channel == "notify"]
    recheck_rows = Counter(
        row.decision_id for row in notify_rows if row.kind == NoticeKind.RECHECK_REMINDER.value
    )
    care_kinds = {reminder.value for reminder in CareReminder}
    care_rows = {row.id: row for row in notify_rows if row.kind in care_kinds}
    skipped = 0
    early = 0
    for key, due in expected.care:
        row = care_rows.pop(str(derived_id("notice", key)), None)
        if row is None:
            skipped += 1
        elif row.created_at < due:
            early += 1
    repeated = len(care_rows)  # care notices under any other key
    # Recheck reminders: none before due; none later than the deadline (recheck_deadline).
    recheck_dues = {
        str(d.id): d.due or d.time for d in replayed if d.type is DecisionType.RECHECK_DUE
    }
    late = 0
    for row in notify_rows:
        due = recheck_dues.get(str(row.decision_id))
        if row.kind != NoticeKind.RECHECK_REMINDER.value or due is None:
            continue
        if row.created_at < due:
            early += 1
        elif row.created_at > recheck_deadline(due, runs.starts, runs.ends):
            late += 1
    skipped += len(recheck_ids - set(recheck_rows))
    repeated += sum(n - 1 for n in recheck_rows.values()) + len(set(recheck_rows) - recheck_ids)
    decided_ids = [str(d.id) for d in decided]
    replay_ids = {str(d.id) for d in replayed}
    decisions_off = len(set(decided_ids) ^ replay_ids) + len(decided_ids) - len(set(decided_ids))
    lost = lost_readings + undelivered_rows + missing_episodes + skipped
    duplicated = doubled_readings + doubled_ids + extra_episodes + repeated
    crashed = runs.crashed
    passed = (lost, duplicated, crashed, skipped, early, late) == (0, 0, 0, 0, 0, 0)
    passed = passed and runs.kills == kills and not runs.problems
    tail = ""
    if not passed:
        text = stderr.read_text(errors="replace").splitlines()
        tail = " | stderr tail: " + " / ".join(text[-5:])
    notes = (
        f"seed={seed}; {runs.kills} kills ({runs.covered} with a due time in the reboot gap, "
        f"{runs.covered_rechecks} a recheck due time); "
        f"{len(journal.entries):,} readings received, {len(logged):,} logged, "
        f"{lost_readings} lost beyond 1 s, {doubled_readings} doubled; "
        f"clinic: {len(clinic_rows)} outbox rows, {undelivered_rows} never delivered, "
        f"{sum(expected.fever_alerts.values())} fever alerts expected, {missing_episodes} missing, "
        f"{extra_episodes} extra, {doubled_ids} ids stored twice, {inbox.resends} resends dropped; "
        f"reminders: {len(expected.care)} care + {len(recheck_ids)} recheck "
        f"(uninterrupted: {expected.rechecks}), {repeated} repeated, {skipped} skipped, "
        f"{early} early, {late} recheck reminders late; "
        f"decisions off the log's replay {decisions_off}"
        + "".join(f"; {p}" for p in runs.problems)
        + tail
    )
    return {
        "campaign": NAME,
        "tried": runs.kills,
        "lost": lost,
        "duplicated": duplicated,
        "crashed": crashed,
        "passed": passed,
        "seed": seed,
        "readings_received": len(journal.entries),
        "readings_lost": lost_readings,
        "readings_duplicated": doubled_readings,
        "alerts_undelivered": undelivered_rows + missing_episodes,
        "alerts_duplicated": doubled_ids + extra_episodes,
        "fever_alerts_stored": sum(by_episode.values()),
        "reminders_repeated": repeated,
        "reminders_skipped": skipped,
        "reminders_early": early,
        "recheck_reminders": sum(recheck_rows.values()),
        "recheck_reminders_expected": expected.rechecks,
        "rechecks_late": late,
        "gaps_covering_due": runs.covered,
        "gaps_covering_recheck": runs.covered_rechecks,
        "decisions_off": decisions_off,
        "resends_deduplicated": inbox.resends,
        "inbox_refused": len(inbox.refused),
        "notes": notes,
    }
