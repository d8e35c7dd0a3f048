"""A clinic alert while a notification URL hangs: one delivery loop per channel, against one
loop over all channels (how ``Deliverer.run`` worked before the patient's URL was added).

A phone push server that accepts the connection and then says nothing (an outage, a captive
network) keeps each attempt busy until its timeouts: up to 30 s with the defaults. The
figure is the real time from a clinic alert being queued (and delivery woken) to its
arrival at a loopback clinic, while the notification URL holds every request for
``hang_s``. The baseline runs the same Deliverer, same senders and same log, driven by
one loop that calls ``flush()`` (every channel in turn) and sleeps until woken, which is
what ``run()`` did; it waits for the hanging attempt to end first.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from aiohttp import web

from portwatch.alerts.delivery import (
    Channel,
    ClinicEndpoint,
    ClinicSender,
    Deliverer,
    NotifyEndpoint,
    NotifySender,
)
from portwatch.alerts.outbox import notify_entry
from portwatch.alerts.payloads import ClinicFormat, Priority
from portwatch.alerts.signing import parse_secret
from portwatch.clock import SystemClock
from portwatch.log.store import OutboxEntry, Store

KEY = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")  # a benchmark-only key
WAIT_S = 60.0  # bounds every wait below; loopback answers in milliseconds


class _Receivers:
    """A clinic that answers at once and a notification URL that hangs before a 503."""

    def __init__(self, hang_s: float) -> None:
        self.hang_s = hang_s
        self.clinic_arrived: dict[str, float] = {}
        self.hung = 0
        self._changed = asyncio.Event()
        self._runners: list[web.AppRunner] = []
        self.urls: list[str] = []

    async def start(self) -> None:
        for handler in (self._clinic, self._notify):
            app = web.Application()
            app.router.add_post("/", handler)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self._runners.append(runner)
            self.urls.append(f"http://127.0.0.1:{runner.addresses[0][1]}/")

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()

    async def _clinic(self, request: web.Request) -> web.Response:
        await request.read()
        self.clinic_arrived[request.headers["webhook-id"]] = time.perf_counter()
        self._changed.set()
        return web.Response(status=200)

    async def _notify(self, request: web.Request) -> web.Response:
        await request.read()
        self.hung += 1
        self._changed.set()
        await asyncio.sleep(self.hang_s)
        return web.Response(status=503)

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


def _clinic_row(index: int, now: datetime) -> OutboxEntry:
    return OutboxEntry(
        id=f"clinic-{index}",
        channel=Channel.CLINIC.value,
        kind="fever.confirmed",
        priority="urgent",
        created_at=now,
        body="{}",
        content_type="application/json",
    )


def _notify_row(index: int, now: datetime) -> OutboxEntry:
    return notify_entry(
        f"notify-{index}",
        "fever.confirmed.patient",
        Priority.URGENT,
        "Fever: your clinic has been told",
        "text",
        now,
        channel=Channel.PATIENT,
    )


async def _one_loop(deliverer: Deliverer, woken: asyncio.Event) -> None:
    """The baseline: every channel flushed in turn by one loop, as run() used to."""
    while True:
        woken.clear()
        await deliverer.flush()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await woken.wait()


async def _latencies(hang_s: float, rounds: int, per_channel: bool) -> list[float]:
    receivers = _Receivers(hang_s)
    await receivers.start()
    clinic_url, notify_url = receivers.urls
    clinic = ClinicSender(
        ClinicEndpoint(clinic_url, ClinicFormat.JSON, KEY), signing_time=SystemClock().now
    )
    notify = NotifySender(NotifyEndpoint(notify_url, read_timeout_s=hang_s + 30.0))
    woken = asyncio.Event()
    with tempfile.TemporaryDirectory(prefix="bench-notices-") as tmp:
        log = Store.open(Path(tmp) / "portwatch.db")
        clock = SystemClock()
        deliverer = Deliverer(
            log,
            {Channel.CLINIC.value: clinic, Channel.PATIENT.value: notify},
            clock,
            lambda *_: None,
        )

        def wake() -> None:
            deliverer.wake()
            woken.set()

        runner: Awaitable[None] = deliverer.run() if per_channel else _one_loop(deliverer, woken)
        task = asyncio.ensure_future(runner)
        took: list[float] = []
        try:
            for index in range(rounds):
                hung = receivers.hung
                log.enqueue([_notify_row(index, clock.now())])
                wake()
                await receivers.until(lambda hung=hung: receivers.hung > hung)
                row = _clinic_row(index, clock.now())
                began = time.perf_counter()
                log.enqueue([row])
                wake()
                await receivers.until(lambda row=row: row.id in receivers.clinic_arrived)
                took.append((receivers.clinic_arrived[row.id] - began) * 1000)
                await asyncio.sleep(hang_s)  # let the hanging attempt end before the next round
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            clinic.close()
            notify.close()
            log.close()
            await receivers.stop()
    return took


def measure(quick: bool) -> list[dict[str, object]]:
    hang_s, rounds = (0.5, 3) if quick else (3.0, 10)
    ours = asyncio.run(_latencies(hang_s, rounds, per_channel=True))
    before = asyncio.run(_latencies(hang_s, rounds, per_channel=False))
    return [
        {
            "figure": f"clinic alert latency, median, while a notify URL hangs {hang_s:g} s",
            "value": round(statistics.median(ours), 1),
            "unit": "ms",
            "baseline": "one loop over all channels (run() before this change)",
            "baseline_value": round(statistics.median(before), 1),
        }
    ]
