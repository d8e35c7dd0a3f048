"""The wired pipeline's figures (issue 9): ingest, alert latency, memory, start-up, CPU.

- Ingest: readings as the link emits them, through the daemon's path: the ReadingWriter
  (WAL, ``synchronous=FULL``, the default 1 s durability), the fever rule fed only durable
  readings, decisions recorded with their outbox rows; against one bare ``executemany`` of
  the same rows into a table with the same columns (the least a program can do).
- Alert latency: a spot reading that confirms a fever, from ``submit`` (the link's hand-off)
  to the reference inbox storing the signed alert, over HTTP on loopback; p50 and p99 over
  200 alerts. Reported twice: end to end (including the writer's group commit: one fsync
  for a lone reading) and from the reading being durable.
  Baseline: a bare ``requests`` POST round trip to the same inbox.
- Memory: the daemon's process after 10 simulated minutes at one reading per second, with
  the reference inbox in a process of its own (the Pi does not run the clinic's inbox).
  That process also runs the virtual radio and the CORE wearable, which the Pi does not:
  their share (the extra RSS of importing Bumble and ``portwatch.sim.radio`` on top of the
  daemon's libraries, in separate interpreters) is reported on its own line and taken off
  for the "daemon as on the Pi" figure. Baseline: a bare interpreter importing the
  libraries the daemon really needs (no Bumble, no aiohttp: the page is optional).
- Start-up: ``portwatch run`` (virtual radio) from exec to READY=1 on the notify socket,
  against a bare interpreter importing the same libraries.
- CPU: CPU seconds per simulated hour at one reading per second in the same demo process
  (which also runs the virtual radio, the wearable and the inbox: an upper bound for the
  daemon alone), against the target of 1 % of one core (36 s per hour).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from portwatch.clock import SystemClock
from portwatch.log.store import Store, StoredReading
from portwatch.log.writer import ReadingWriter
from portwatch.model import Decision, DecisionType, Reading, ReadingKind, Unit

T0 = datetime(2026, 11, 4, tzinfo=UTC)
DEVICE = "AA:BB:CC:DD:EE:FF"
CORE_PACKET = bytes.fromhex("0a4e0e2e0c02")
# What `portwatch run` needs on the Pi (BlueZ backend, no page): the memory baseline.
DAEMON_LIBRARIES = "import asyncio, sqlite3, bleak, bleak_retry_connector, requests"
DAEMON_LIBRARIES += ", pydantic, pydantic_settings, apscheduler"
# Everything the virtual-radio demo process imports: the start-up baseline.
LIBRARIES = DAEMON_LIBRARIES + ", bumble, aiohttp"


def _stream(count: int) -> list[Reading]:
    """One reading a second from a wearable: normal, with a fever for an hour in the middle."""
    out = []
    for i in range(count):
        hot = count // 2 <= i < count // 2 + 3600
        value = Decimal(3880 if hot else 3650 + (i * 7) % 60) / 100
        when = T0 + timedelta(seconds=i)
        out.append(
            Reading(
                device=DEVICE,
                kind=ReadingKind.STREAM,
                value=value,
                unit=Unit.CELSIUS,
                celsius=float(value),
                time=when,
                received_at=when,
                interval_s=1.0,
                raw=CORE_PACKET,
            )
        )
    return out


def _rule(patient: str = "Patient/bench") -> Any:
    """The fever rule with the spec's settings."""
    from portwatch.fever.rule import FeverRule, RuleSettings

    return FeverRule(RuleSettings(), patient=patient, placement=T0, pinned_device=DEVICE)


async def _ingest(path: Path, readings: Sequence[Reading]) -> float:
    """Seconds to take every reading through writer -> rule -> recorded decisions."""
    store = Store.open(path)
    decided = Store.open(path)  # the event loop's own connection, as in the daemon
    rule = _rule()

    def decide(batch: Sequence[StoredReading]) -> None:
        decisions: list[Decision] = []
        for stored in batch:
            decisions.extend(rule.feed(stored.reading, now=stored.reading.received_at))
        if decisions:
            decided.record_decisions(decisions, [])

    elapsed: float = await _bench_store()._through_writer(store, readings, decide)
    store.close()
    decided.close()
    return elapsed


def _bench_store() -> Any:
    """bench_store, loaded by path as run.py loads it: its writer loop and executemany
    baseline serve this benchmark too, so the two ingest figures measure the same way."""
    spec = importlib.util.spec_from_file_location(
        "portwatch_bench_bench_store", Path(__file__).with_name("bench_store.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bare_executemany(path: Path, readings: Sequence[Reading]) -> float:
    elapsed: float = _bench_store()._bare_executemany(path, readings)
    return elapsed


def _spot(when: datetime, celsius: str) -> Reading:
    value = Decimal(celsius)
    return Reading(
        device=DEVICE,
        kind=ReadingKind.SPOT,
        value=value,
        unit=Unit.CELSIUS,
        celsius=float(value),
        time=when,
        received_at=when,
    )


async def _latency(directory: Path, alerts: int) -> tuple[list[float], list[float], list[float]]:
    """(end-to-end ms, from-durable ms, bare POST ms) for ``alerts`` confirmed fevers."""
    import requests
    from aiohttp import web

    from portwatch.alerts.delivery import ClinicEndpoint, ClinicSender, Deliverer
    from portwatch.alerts.outbound import Outbound
    from portwatch.alerts.payloads import AlertContext, ClinicFormat, Thermometer
    from portwatch.alerts.signing import parse_secret, sign_headers
    from portwatch.sim.inbox import InboxStore, Message, make_app

    secret = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    key = parse_secret(secret)
    clock = SystemClock()
    arrived: dict[str, float] = {}

    class Timed(InboxStore):
        def add(self, message: Message, received_at: datetime) -> bool:
            arrived.setdefault(message.webhook_id, time.perf_counter())
            return super().add(message, received_at)

    inbox = Timed(directory / "inbox.db")
    runner = web.AppRunner(make_app(key, inbox, clock), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    store = Store.open(directory / "latency.db")
    context = AlertContext(
        patient="Patient/bench",
        clinic="Organization/bench",
        gateway_id="bench",
        gateway_version="bench",
        thermometer=Thermometer(address=DEVICE),
    )
    outbound = Outbound(context, ClinicFormat.JSON, UTC)
    sender = ClinicSender(
        ClinicEndpoint(url=url, format=ClinicFormat.JSON, secret=key), signing_time=clock.now
    )
    # As in the daemon: the log's writer thread owns one connection (readings, delivery), the
    # event loop another (decisions and their outbox rows).
    decided = Store.open(directory / "latency.db")
    deliverer = Deliverer(store, {"clinic": sender}, clock, lambda *_: None)
    rule = _rule()
    durable_at: dict[str, float] = {}

    def on_durable(batch: Sequence[StoredReading]) -> None:
        decisions: list[Decision] = []
        for stored in batch:
            decisions.extend(rule.feed(stored.reading, now=stored.reading.received_at))
        if decisions:
            now = clock.now()
            entries = outbound.for_decisions(decisions, now)
            decided.record_decisions(decisions, entries)
            for decision in decisions:
                if decision.type is DecisionType.FEVER_CONFIRMED:
                    durable_at[str(decision.id)] = time.perf_counter()
            deliverer.wake()

    writer = ReadingWriter(store, clock, on_durable=on_durable)
    tasks = [asyncio.create_task(writer.run()), asyncio.create_task(deliverer.run())]
    end_to_end: list[float] = []
    from_durable: list[float] = []
    try:
        for i in range(alerts):
            # A patient of its own for each fever: every alert is a first confirmation.
            rule = _rule(f"Patient/bench-{i}")
            base = T0 + timedelta(hours=1)
            for reading in (_spot(base, "38.6"), _spot(base + timedelta(hours=2), "37.0")):
                writer.submit(reading)
            await writer.flush()
            begun = time.perf_counter()
            writer.submit(_spot(base + timedelta(hours=4), "38.7"))  # confirms the pair
            confirmed = None
            async with asyncio.timeout(30):
                while confirmed is None:
                    await asyncio.sleep(0.0005)
                    confirmed = next((i for i in durable_at if i in arrived), None)
            end_to_end.append((arrived[confirmed] - begun) * 1000)
            from_durable.append((arrived[confirmed] - durable_at[confirmed]) * 1000)
            arrived.clear()
            durable_at.clear()
        bare: list[float] = []
        with requests.Session() as session:
            body = json.dumps({"type": "test", "data": {}})
            for i in range(alerts):
                headers = sign_headers(key, f"bare-{i}", body, clock.now())
                headers["Content-Type"] = "application/json"
                began = time.perf_counter()
                await asyncio.to_thread(session.post, url, data=body, headers=headers, timeout=5)
                bare.append((time.perf_counter() - began) * 1000)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await writer.close()
        sender.close()
        store.close()  # after the work in flight on its writer thread
        decided.close()
        await runner.cleanup()
        inbox.close()
    return end_to_end, from_durable, bare


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


_SANDBOX_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from datetime import timedelta
    from pathlib import Path
    from portwatch.clock import SystemClock
    from portwatch.model import Symptom
    from portwatch.sim.sandbox import Sandbox

    def rss():
        return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024

    async def main():
        clinic = (sys.argv[1], Path(sys.argv[2]))
        # The inbox checks signatures against real time: the 10 simulated minutes end now.
        placement = SystemClock().now() - timedelta(minutes=10)
        sandbox = Sandbox(interval_s=1.0, page=False, clinic=clinic, placement=placement)
        async with sandbox:
            cpu = time.process_time()
            await sandbox.play(speed=None, until=placement + timedelta(minutes=10))
            cpu = time.process_time() - cpu
            # One alert over HTTP to the other process, so delivery's imports are counted.
            await sandbox.daemon.report_symptoms([Symptom.REDNESS], "")
            await sandbox.drain()
            rows = sandbox.daemon.store.outbox_all()
            delivered = any(
                r.channel == "clinic" and r.kind == "symptoms.reported"
                and r.status == "delivered" for r in rows
            )
            readings = sandbox.daemon.store.reading_count()
            running = rss()  # daemon and radio both still up
        print(json.dumps({"rss": running, "cpu": cpu, "readings": readings, "ok": delivered}))

    asyncio.run(main())
    """
)

_BARE_SCRIPT = """
import json, time
began = time.perf_counter()
{imports}
took = time.perf_counter() - began
rss = int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) * 1024
print(json.dumps({{"rss": rss, "import_s": took}}))
"""


def _python(script: str, *args: str) -> dict[str, Any]:
    result = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _bare(imports: str) -> dict[str, Any]:
    return _python(_BARE_SCRIPT.format(imports=imports))


def _daemon_process(directory: Path) -> dict[str, Any]:
    """The sandbox's daemon and radio in one process, the inbox (`portwatch inbox`) in another."""
    secret = directory / "inbox-secret"
    secret.write_text("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n")
    secret.chmod(0o600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "portwatch", "inbox", "--port", str(port)]
    command += ["--secret-file", str(secret), "--db", str(directory / "inbox.db")]
    inbox = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        deadline = time.perf_counter() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.perf_counter() > deadline or inbox.poll() is not None:
                    raise RuntimeError("the inbox process did not start") from None
                time.sleep(0.05)
        measured = _python(_SANDBOX_SCRIPT, f"http://127.0.0.1:{port}/webhook", str(secret))
        if not measured["ok"]:
            raise RuntimeError("the daemon's alert did not reach the inbox process")
        return measured
    finally:
        inbox.terminate()
        inbox.wait(timeout=15)


def _startup_s(directory: Path) -> float:
    """Seconds from exec of `portwatch run` (virtual radio) to READY=1."""
    secret = directory / "secret"
    secret.write_text("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n")
    secret.chmod(0o600)
    config = directory / "portwatch.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [patient]
            reference = "Patient/bench"
            placement = "{T0.isoformat()}"
            [bluetooth]
            backend = "virtual"
            [clinic]
            url = "http://127.0.0.1:9/webhook"
            recipient = "Organization/bench"
            secret_file = "{secret}"
            [store]
            state_directory = "{directory / "state"}"
            """
        )
    )
    notify = directory / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify))
        sock.settimeout(60)
        env = {**os.environ, "NOTIFY_SOCKET": str(notify)}
        # `portwatch run`'s wiring on a simulated clock (the test entry point, issue 15).
        command = [sys.executable, "-m", "portwatch.sim.run", "--config", str(config)]
        command += ["--virtual-clock", T0.isoformat(), "--speed", "1"]
        began = time.perf_counter()
        process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)  # noqa: S603
        try:
            while b"READY=1" not in sock.recv(4096).split(b"\n"):
                pass
            took = time.perf_counter() - began
        finally:
            process.terminate()
            process.wait(timeout=15)
    return took


def measure(quick: bool) -> list[dict[str, Any]]:
    count = 20_000 if quick else 200_000
    alerts = 20 if quick else 200
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        readings = _stream(count)
        pipeline_s = asyncio.run(_ingest(directory / "ingest.db", readings))
        bare_s = _bare_executemany(directory / "bare.db", readings)
        rows.append(
            {
                "figure": "pipeline: readings/s link output -> log -> rule (1 s durability)",
                "value": count / pipeline_s,
                "unit": "readings/s",
                "baseline": "one bare executemany + commit, same rows",
                "baseline_value": count / bare_s,
            }
        )
        end_to_end, from_durable, bare = asyncio.run(_latency(directory, alerts))
        for share, name in ((0.5, "p50"), (0.99, "p99")):
            rows.append(
                {
                    "figure": f"alert latency {name}: reading durable -> inbox stored it",
                    "value": _percentile(from_durable, share),
                    "unit": "ms",
                    "baseline": f"bare requests POST round trip {name}, loopback",
                    "baseline_value": _percentile(bare, share),
                }
            )
            rows.append(
                {
                    "figure": f"alert latency {name}: reading handed over -> inbox (end to end)",
                    "value": _percentile(end_to_end, share),
                    "unit": "ms",
                    "baseline": f"bare requests POST round trip {name}, loopback",
                    "baseline_value": _percentile(bare, share),
                }
            )
        sandbox = _daemon_process(directory)
        baseline = _bare(DAEMON_LIBRARIES)
        radio_share = _bare(DAEMON_LIBRARIES + ", bumble\nimport portwatch.sim.radio")["rss"]
        radio_share -= baseline["rss"]
        rows.append(
            {
                "figure": "memory: RSS after 10 simulated min at 1/s (daemon+virtual radio)",
                "value": sandbox["rss"] / 2**20,
                "unit": "MiB",
                "baseline": "bare interpreter importing the daemon's libraries",
                "baseline_value": baseline["rss"] / 2**20,
            }
        )
        rows.append(
            {
                "figure": (
                    "memory: of which the virtual radio (Bumble + portwatch.sim.radio imports)"
                ),
                "value": radio_share / 2**20,
                "unit": "MiB",
                "baseline": "the whole daemon+virtual radio process",
                "baseline_value": sandbox["rss"] / 2**20,
            }
        )
        rows.append(
            {
                "figure": "memory: daemon as on the Pi, less the radio (target < 60 MB = 57.2 MiB)",
                "value": (sandbox["rss"] - radio_share) / 2**20,
                "unit": "MiB",
                "baseline": "bare interpreter importing the daemon's libraries",
                "baseline_value": baseline["rss"] / 2**20,
            }
        )
        rows.append(
            {
                "figure": "CPU per simulated hour at 1/s (daemon+virtual radio, flat out)",
                "value": sandbox["cpu"] * 6,
                "unit": "s",
                "baseline": "target: 1 % of one core (36 s per hour)",
                "baseline_value": 36.0,
            }
        )
        rows.append(
            {
                "figure": "start-up: portwatch run (virtual radio) exec -> READY=1",
                "value": _startup_s(directory),
                "unit": "s",
                "baseline": "bare interpreter start + import of the same libraries",
                "baseline_value": _bare_start_s(),
            }
        )
    return rows


def _bare_start_s() -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", LIBRARIES], check=True, timeout=120)  # noqa: S603
    return time.perf_counter() - began
