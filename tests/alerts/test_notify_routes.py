"""Decision notices through quiet hours and to each reader's URL (issue 7, alerts.md).

Real parts end to end: the rule's decisions become outbox rows (outbound.py) committed in
the real log (store.py) with their decisions, and the Deliverer POSTs them over real HTTP
on loopback to two notification receivers, the caregiver's and the patient's, which note
the virtual time each notice arrives at. No test sleeps to let time pass: the VirtualClock
is advanced; the short real waits only let HTTP in worker threads finish.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from portwatch.alerts.delivery import (
    Channel,
    ClinicEndpoint,
    ClinicSender,
    Deliverer,
    NotifyEndpoint,
    NotifySender,
)
from portwatch.alerts.notices import QuietHours
from portwatch.alerts.outbound import Outbound
from portwatch.alerts.payloads import AlertContext, ClinicFormat
from portwatch.clock import VirtualClock
from portwatch.log.store import OutboxRow, Store
from portwatch.model import Decision, DecisionType, Observation, Site, Unit

from .conftest import ADDRESS, Inbox, serve

ZONE = ZoneInfo("Europe/Berlin")
QUIET = QuietHours(time(22, 0), time(7, 0), ZONE)
# 23:30 in Berlin (UTC+1 in November): inside quiet hours, which end at 07:00 local.
NIGHT = datetime(2026, 11, 20, 23, 30, tzinfo=ZONE).astimezone(UTC)
QUIET_END = datetime(2026, 11, 21, 7, 0, tzinfo=ZONE).astimezone(UTC)
# 15:00 in Berlin: outside quiet hours.
AFTERNOON = datetime(2026, 11, 20, 15, 0, tzinfo=ZONE).astimezone(UTC)


@dataclass
class Receiver:
    """A notification URL on loopback (an ntfy topic stand-in): what arrived, and when."""

    url: str
    got: list[tuple[datetime, str]] = field(default_factory=list)  # (virtual time, Title)
    status: int = 200  # what it answers


@dataclass
class Receivers:
    caregiver: Receiver
    patient: Receiver


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(NIGHT)


@pytest.fixture
async def receivers(clock: VirtualClock) -> AsyncIterator[Receivers]:
    runners: list[web.AppRunner] = []
    made: list[Receiver] = []
    for _ in range(2):
        receiver = Receiver(url="")

        async def take(request: web.Request, receiver: Receiver = receiver) -> web.Response:
            await request.read()
            receiver.got.append((clock.now(), request.headers.get("Title", "")))
            return web.Response(status=receiver.status, text="ok")

        app = web.Application()
        app.router.add_post("/", take)
        runner, url = await serve(app)
        runners.append(runner)
        receiver.url = f"{url}/"
        made.append(receiver)
    try:
        yield Receivers(caregiver=made[0], patient=made[1])
    finally:
        for runner in runners:
            await runner.cleanup()


@asynccontextmanager
async def _running(
    outbox: Store, clock: VirtualClock, receivers: Receivers, senders: list[NotifySender]
) -> AsyncIterator[Deliverer]:
    """A Deliverer running as the daemon runs it, with one sender per reader's URL."""
    caregiver = NotifySender(NotifyEndpoint(receivers.caregiver.url))
    patient = NotifySender(NotifyEndpoint(receivers.patient.url))
    senders.extend((caregiver, patient))
    deliverer = Deliverer(
        outbox,
        {Channel.NOTIFY.value: caregiver, Channel.PATIENT.value: patient},
        clock,
        lambda *_: None,
        rng=random.Random(3),
    )
    task = asyncio.create_task(deliverer.run())
    try:
        await _asleep(clock)
        yield deliverer
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _observation(at: datetime, value: str) -> Observation:
    return Observation(
        time=at,
        celsius=(float(value) - 32.0) * 5.0 / 9.0,
        value=Decimal(value),
        unit=Unit.FAHRENHEIT,
        device=ADDRESS,
        site=Site.MOUTH,
    )


def _decision(kind: DecisionType, at: datetime, *values: str) -> Decision:
    observations = tuple(
        _observation(at - timedelta(hours=4) * (len(values) - 1 - i), v)
        for i, v in enumerate(values)
    )
    return Decision(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"{kind.value}@{at.isoformat()}"),
        type=kind,
        time=at,
        summary=f"{kind.value} for a test",
        observations=observations,
        due=at + timedelta(hours=4) if kind is DecisionType.ELEVATED_FIRST else None,
        settings=(("threshold", "101.0 F"),),
    )


def _queue(
    log: Store, context: AlertContext, decision: Decision, now: datetime, *, patient: bool = True
) -> None:
    """What the daemon does with a decision: its rows committed with it, in one transaction."""
    outbound = Outbound(context, ClinicFormat.JSON, ZONE, quiet=QUIET, patient_channel=patient)
    log.record_decisions([decision], outbound.for_decisions([decision], now))


def _notify_rows(log: Store) -> list[OutboxRow]:
    return [r for r in log.outbox_all() if r.channel == Channel.NOTIFY.value]


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for real HTTP in worker threads to finish; never used to let time pass."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def _asleep(clock: VirtualClock) -> None:
    """Until a channel's delivery loop sleeps on the clock (each channel has its own loop, so
    another may still be busy: the tests assert arrival times, which an early send breaks)."""
    await _until(lambda: clock.next_deadline() is not None)


async def test_non_urgent_decision_notice_arrives_at_end_of_quiet_hours_when_decided_at_night(
    log: Store,
    context: AlertContext,
    clock: VirtualClock,
    receivers: Receivers,
    senders: list[NotifySender],
) -> None:
    """A first high reading at 23:30 must not wake the caregiver, nor be lost: it goes at 07:00."""
    _queue(log, context, _decision(DecisionType.ELEVATED_FIRST, NIGHT, "100.6"), clock.now())
    async with _running(log, clock, receivers, senders):
        await clock.advance_to(QUIET_END - timedelta(seconds=1))
        await _asleep(clock)
        assert receivers.caregiver.got == []
        await clock.advance_to(QUIET_END)
        await _until(lambda: len(receivers.caregiver.got) == 1)
        await clock.advance(3600)
        await _asleep(clock)
    assert receivers.caregiver.got == [(QUIET_END, "Temperature high: recheck at Sat 03:30 CET")]
    assert receivers.patient.got == []


async def test_held_notice_arrives_once_at_end_of_quiet_hours_when_delivery_restarts(
    log_path: Path,
    context: AlertContext,
    clock: VirtualClock,
    receivers: Receivers,
    senders: list[NotifySender],
) -> None:
    """The hold lives in the log: a restart at 03:00 neither sends it early nor forgets it."""
    with Store.open(log_path) as first_log:
        _queue(first_log, context, _decision(DecisionType.FEVER_RESOLVED, NIGHT, "98.6"), NIGHT)
        async with _running(first_log, clock, receivers, senders):
            await clock.advance(3.5 * 3600)
            await _asleep(clock)
    assert receivers.caregiver.got == []
    with Store.open(log_path) as second_log:  # the daemon started again
        async with _running(second_log, clock, receivers, senders):
            await clock.advance_to(QUIET_END - timedelta(seconds=1))
            await _asleep(clock)
            assert receivers.caregiver.got == []
            await clock.advance_to(QUIET_END)
            await _until(lambda: _notify_rows(second_log)[0].status == "delivered")
            await clock.advance(2 * 3600)
            await _asleep(clock)
        (row,) = [r for r in second_log.outbox_all() if r.channel == Channel.NOTIFY.value]
    assert receivers.caregiver.got == [(QUIET_END, "Fever over")]
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 1, QUIET_END)


async def test_urgent_decision_notices_arrive_at_once_when_decided_in_quiet_hours(
    log: Store,
    context: AlertContext,
    clock: VirtualClock,
    receivers: Receivers,
    senders: list[NotifySender],
) -> None:
    """Quiet hours never hold a confirmed fever: both people hear of it at 23:30."""
    fever = _decision(DecisionType.FEVER_CONFIRMED, NIGHT, "101.2", "101.4")
    _queue(log, context, fever, clock.now())
    async with _running(log, clock, receivers, senders):
        await _until(lambda: bool(receivers.caregiver.got and receivers.patient.got))
    assert receivers.caregiver.got == [(NIGHT, "Fever confirmed: clinic told")]
    assert receivers.patient.got == [(NIGHT, "Fever: your clinic has been told")]


async def test_patient_notice_reaches_patient_url_and_not_caregivers_when_patient_url_set(
    log: Store,
    context: AlertContext,
    clock: VirtualClock,
    receivers: Receivers,
    senders: list[NotifySender],
) -> None:
    """The recheck reminder is the patient's: with their own URL, it goes there alone."""
    _queue(log, context, _decision(DecisionType.RECHECK_DUE, NIGHT, "100.8"), clock.now())
    async with _running(log, clock, receivers, senders):
        await _until(lambda: len(receivers.patient.got) == 1)
        await clock.advance(60)
        await _asleep(clock)
    assert receivers.patient.got == [(NIGHT, "Time to take your temperature")]
    assert receivers.caregiver.got == []


async def test_patient_notice_reaches_caregiver_url_when_patient_url_unset(
    log: Store,
    context: AlertContext,
    clock: VirtualClock,
    receivers: Receivers,
    senders: list[NotifySender],
) -> None:
    """Without a patient URL the recheck reminder must still reach someone: the caregiver."""
    decision = _decision(DecisionType.RECHECK_DUE, NIGHT, "100.8")
    _queue(log, context, decision, clock.now(), patient=False)
    async with _running(log, clock, receivers, senders):
        await _until(lambda: len(receivers.caregiver.got) == 1)
        await clock.advance(60)
        await _asleep(clock)
    assert receivers.caregiver.got == [(NIGHT, "Time to take your temperature")]
    assert receivers.patient.got == []


async def test_held_notice_does_not_hold_back_later_urgent_notice_when_both_queued(
    log: Store,
    context: AlertContext,
    clock: VirtualClock,
    receivers: Receivers,
    senders: list[NotifySender],
) -> None:
    """A notice waiting for morning is out of the queue: the fever behind it goes at once."""
    _queue(log, context, _decision(DecisionType.ELEVATED_FIRST, NIGHT, "100.6"), clock.now())
    await clock.advance(600)
    later = clock.now()
    fever = _decision(DecisionType.FEVER_CONFIRMED, later, "101.2", "101.4")
    _queue(log, context, fever, later)
    async with _running(log, clock, receivers, senders):
        await _until(lambda: len(receivers.caregiver.got) == 1)
        await clock.advance_to(QUIET_END)
        await _until(lambda: len(receivers.caregiver.got) == 2)
    assert receivers.caregiver.got == [
        (later, "Fever confirmed: clinic told"),
        (QUIET_END, "Temperature high: recheck at Sat 03:30 CET"),
    ]


async def test_held_notice_escalates_from_end_of_quiet_hours_when_its_url_fails(
    log: Store,
    context: AlertContext,
    clock: VirtualClock,
    receivers: Receivers,
    senders: list[NotifySender],
) -> None:
    """Eight hours on hold are not eight hours of trying: no "stuck" at the first failure."""
    receivers.caregiver.status = 503
    _queue(log, context, _decision(DecisionType.ELEVATED_FIRST, NIGHT, "100.6"), clock.now())
    async with _running(log, clock, receivers, senders):
        await clock.advance_to(QUIET_END)
        await _until(lambda: _notify_rows(log)[0].attempts == 1)
        await _asleep(clock)
        (first,) = _notify_rows(log)
        await clock.advance(15 * 60)
        await _until(lambda: _notify_rows(log)[0].escalated_at is not None)
        (later,) = _notify_rows(log)
    assert (first.status, first.escalated_at) == ("pending", None)
    assert later.escalated_at == QUIET_END + timedelta(minutes=15)


async def test_clinic_alert_goes_at_once_when_patient_url_hangs(
    log: Store,
    context: AlertContext,
    clock: VirtualClock,
    inbox: Inbox,
    secret_key: bytes,
    senders: list[NotifySender],
) -> None:
    """A push server that never answers must not hold back a fever alert to the clinic."""
    release = asyncio.Event()
    hung: list[datetime] = []

    async def hang(request: web.Request) -> web.Response:
        await request.read()
        hung.append(clock.now())
        await release.wait()
        return web.Response(status=503)

    app = web.Application()
    app.router.add_post("/", hang)
    runner, url = await serve(app)
    clinic = ClinicSender(
        ClinicEndpoint(inbox.url, ClinicFormat.JSON, secret_key), signing_time=inbox.clock.now
    )
    patient = NotifySender(NotifyEndpoint(f"{url}/", read_timeout_s=30.0))
    senders.append(patient)
    deliverer = Deliverer(
        log,
        {Channel.CLINIC.value: clinic, Channel.PATIENT.value: patient},
        clock,
        lambda *_: None,
    )
    _queue(log, context, _decision(DecisionType.RECHECK_DUE, NIGHT, "100.8"), clock.now())
    task = asyncio.create_task(deliverer.run())
    try:
        await _until(lambda: len(hung) == 1)  # the patient's notice is stuck in its POST
        fever = _decision(DecisionType.FEVER_CONFIRMED, NIGHT, "101.2", "101.4")
        _queue(log, context, fever, clock.now())
        deliverer.wake()
        await _until(lambda: inbox.store.count() == 1)
    finally:
        release.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        clinic.close()
        await runner.cleanup()
