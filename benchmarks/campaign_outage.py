"""Campaign: the clinic's inbox fails in every way while a fever is being alerted.

Real parts throughout: the log (``Store``, its outbox) on a temporary file, the
``Deliverer`` with a real ``ClinicSender`` (requests, in a worker thread), and the reference
inbox (``portwatch.sim.inbox``) on 127.0.0.1, all on one ``VirtualClock``. In front of the
inbox sits a small switch that, by simulated time, lets requests through, answers 500,
answers 429 with Retry-After, answers only after the sender's read timeout (the inbox still
stores the alert: the sender must resend and the inbox de-duplicate), or is down (the
listening socket is closed: connection refused).

The course (hours from the start): heartbeats every 15 min throughout; a fever confirmed at
10 h, symptoms reported at 12 h, the fever ongoing at 34 h and 58 h, resolved at 84 h.
500s at 2 h, 429s at 4 h, slow answers at 6 h; the inbox down for 72 h from 9 h, flapping
(up 1 min, down 5 min) for 6 h after that, then up. The quick run shortens the outage to
12 h and the flapping to 2 h and shifts the course with it.

The driver does what ``Deliverer.run`` does: flush, then sleep until the deliverer's next
wake-up time, here by advancing the virtual clock; a wake-up that finds nothing to send is
counted (a daemon would spin on it).

Counts: ``lost`` = alerts never stored by the inbox; ``duplicated`` = alerts the inbox
stored more than once; ``crashed`` = exceptions out of the deliverer. The notes give the
order check (routine alerts among themselves and urgent ones among themselves arrive in the
order decided), the caregiver check (every alert held up longer than ``escalate_after``
plus one backoff had a caregiver notice, about itself or the alert holding it back, in that
time) and the attempts made.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from portwatch.alerts import delivery
from portwatch.alerts.delivery import ClinicEndpoint, ClinicSender, Deliverer, StuckReason
from portwatch.alerts.outbox import clinic_entry
from portwatch.alerts.payloads import (
    AlertContext,
    ClinicFormat,
    GatewayState,
    Thermometer,
    fever_alert,
    heartbeat_alert,
    symptom_alert,
)
from portwatch.alerts.signing import parse_secret
from portwatch.clock import VirtualClock
from portwatch.log.store import Store
from portwatch.model import Decision, DecisionType, Observation, Site, Symptom, Unit
from portwatch.sim.inbox import InboxStore, make_app

NAME = "clinic outage (72 h down, flapping, slow, 500, 429)"
START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
HEARTBEAT = timedelta(minutes=15)  # alerts.md: a gateway heartbeat every 15 min
READ_TIMEOUT_S = 0.2  # the sender's read timeout in this campaign (real seconds)
SLOW_ANSWER_S = 0.5  # how long a "slow" inbox takes to answer: past the read timeout
# A notice is "in time" if it comes within escalate_after plus one capped backoff.
TOLD_WITHIN = delivery.ESCALATE_AFTER + timedelta(seconds=delivery.MAX_BACKOFF_S + 60)
H = timedelta(hours=1)
M = timedelta(minutes=1)


@dataclass
class Plan:
    """When the inbox misbehaves and when alerts are decided, from START."""

    modes: list[tuple[timedelta, timedelta, str]]
    flapping: tuple[timedelta, timedelta]
    fever: list[tuple[timedelta, str]]
    end: timedelta

    def mode(self, now: datetime) -> str:
        at = now - START
        for start, stop, mode in self.modes:
            if start <= at < stop:
                return mode
        lo, hi = self.flapping
        if lo <= at < hi:
            return "up" if (at - lo) % (6 * M) < M else "down"
        return "up"

    def changes(self) -> list[timedelta]:
        times = {t for start, stop, _ in self.modes for t in (start, stop)}
        lo, hi = self.flapping
        step = lo
        while step < hi:
            times.update((step, step + M))
            step += 6 * M
        times.add(hi)
        return sorted(times)


def plan(quick: bool) -> Plan:
    outage = 12 * H if quick else 72 * H
    flap = 2 * H if quick else 6 * H
    down_at = 9 * H
    back = down_at + outage
    return Plan(
        modes=[
            (2 * H, 2 * H + 30 * M, "500"),
            (4 * H, 4 * H + 30 * M, "429"),
            (6 * H, 6 * H + 20 * M, "slow"),
            (down_at, back, "down"),
        ],
        flapping=(back, back + flap),
        fever=[
            (10 * H, "confirmed"),
            (12 * H, "symptoms"),
            (10 * H + outage * 1 // 3, "ongoing"),
            (10 * H + outage * 2 // 3, "ongoing"),
            (back + flap // 2, "resolved"),
        ],
        end=back + flap + 6 * H,
    )


@dataclass
class Front:
    """The switch in front of the inbox: records what reached it and what it stored."""

    plan: Plan
    clock: VirtualClock
    stored: list[str] = field(default_factory=list)  # ids, in the order first stored
    stored_again: dict[str, int] = field(default_factory=dict)
    resent_after_stored: int = 0
    requests: int = 0
    inflight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    def middleware(self) -> Callable[..., Awaitable[Any]]:
        from aiohttp import web

        @web.middleware
        async def front(request: web.Request, handler: Callable[..., Any]) -> Any:
            self.requests += 1
            self.inflight += 1
            self.idle.clear()
            try:
                mode = self.plan.mode(self.clock.now())
                if mode == "500":
                    response = web.Response(status=500, text="scripted outage")
                elif mode == "429":
                    response = web.Response(status=429, headers={"Retry-After": "120"})
                else:
                    if mode == "slow":  # has the request, answers after the read timeout
                        await request.read()
                        await asyncio.sleep(SLOW_ANSWER_S)
                    response = await handler(request)
                    self._note(response)
                response.force_close()  # no keep-alive: "down" must mean connection refused
                return response
            finally:
                self.inflight -= 1
                if not self.inflight:
                    self.idle.set()

        return front

    def _note(self, response: Any) -> None:
        if response.status != 200:
            return
        answer = json.loads(response.text)
        msg_id = str(answer["id"])
        if answer["stored"]:
            if msg_id in self.stored:
                self.stored_again[msg_id] = self.stored_again.get(msg_id, 0) + 1
            self.stored.append(msg_id)
        else:
            self.resent_after_stored += 1


def _context() -> AlertContext:
    return AlertContext(
        patient="Patient/p-17",
        clinic="Organization/port-clinic",
        gateway_id="pi-0042",
        gateway_version="0.1.0",
        thermometer=Thermometer(address="AA:BB:CC:DD:EE:01", model="TH-1"),
    )


def _observation(at: datetime, value: str) -> Observation:
    fahrenheit = Decimal(value)
    return Observation(
        time=at,
        celsius=float((fahrenheit - 32) * 5 / 9),
        value=fahrenheit,
        unit=Unit.FAHRENHEIT,
        device="AA:BB:CC:DD:EE:01",
        site=Site.MOUTH,
    )


def _enqueue(log: Store, context: AlertContext, what: str, at: datetime) -> str:
    """Write one alert to the outbox as the daemon does; return its id."""
    if what == "heartbeat":
        state = GatewayState(started_at=START, thermometer_connected=True, last_reading_at=at)
        alert = heartbeat_alert(context, state, at)
        log.enqueue([clinic_entry(alert, context, ClinicFormat.JSON, at)])
        return str(alert.id)
    if what == "symptoms":
        alert = symptom_alert(context, [Symptom.REDNESS, Symptom.WARMTH], "", at)
        log.enqueue([clinic_entry(alert, context, ClinicFormat.JSON, at)])
        return str(alert.id)
    types = {
        "confirmed": DecisionType.FEVER_CONFIRMED,
        "ongoing": DecisionType.FEVER_ONGOING,
        "resolved": DecisionType.FEVER_RESOLVED,
    }
    cited = (_observation(at - 4 * H, "101.2"), _observation(at, "101.4"))
    decision = Decision(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"campaign/{what}/{at.isoformat()}"),
        type=types[what],
        time=at,
        summary=f"Fever {what} at {at:%d %H:%M} UTC.",
        observations=() if what == "resolved" else cited,
    )
    alert = fever_alert(decision)
    log.record_decisions([decision], [clinic_entry(alert, context, ClinicFormat.JSON, at)])
    return str(alert.id)


def _schedule(p: Plan) -> list[tuple[datetime, str]]:
    due = [(START + k * HEARTBEAT, "heartbeat") for k in range(1, p.end // HEARTBEAT)]
    due += [(START + at, what) for at, what in p.fever]
    return sorted(due, key=lambda item: item[0])


async def _campaign(p: Plan, seed: int, directory: Path) -> dict[str, Any]:
    from aiohttp import web

    clock = VirtualClock(START)
    key = parse_secret("whsec_" + base64.b64encode(random.Random(seed).randbytes(24)).decode())
    log = Store.open(directory / "portwatch.db")
    inbox_store = InboxStore(directory / "inbox.db")
    front = Front(p, clock)
    front.idle.set()
    app = make_app(key, inbox_store, clock)
    app.middlewares.append(front.middleware())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site: web.TCPSite | None = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    endpoint = ClinicEndpoint(
        f"http://127.0.0.1:{port}/webhook",
        ClinicFormat.JSON,
        key,
        connect_timeout_s=1.0,
        read_timeout_s=READ_TIMEOUT_S,
    )
    sender = ClinicSender(endpoint, signing_time=clock.now)
    told: list[tuple[datetime, str, StuckReason]] = []
    deliverer = Deliverer(
        log,
        {"clinic": sender},
        clock,
        lambda row, reason, _answer: told.append((clock.now(), row.id, reason)),
        rng=random.Random(seed),
    )
    context = _context()
    pending = _schedule(p)
    changes = [START + t for t in p.changes()]
    end = START + p.end
    decided: list[str] = []
    attempts = crashed = idle_wakeups = 0
    try:
        while True:
            now = clock.now()
            while pending and pending[0][0] <= now:
                decided.append(_enqueue(log, context, pending[0][1], now))
                pending.pop(0)
            up = p.mode(now) != "down"
            if up and site is None:
                site = web.TCPSite(runner, "127.0.0.1", port)
                await site.start()
            elif not up and site is not None:
                await site.stop()
                site = None
            try:
                made = await deliverer.flush()
            except Exception:  # noqa: BLE001 - a crash of the deliverer is what is counted
                crashed += 1
                made = 0
            attempts += made
            await front.idle.wait()  # let a slow answer finish before time moves on
            rows = log.outbox_all("pending")
            wake = delivery.next_wake(rows, delivery.ESCALATE_AFTER)
            if wake is not None and wake <= now and made == 0:
                idle_wakeups += 1  # Deliverer.run would sleep 0 s and flush again: a spin
            candidates = [t for t in (wake, end) if t is not None and t > now]
            candidates += [t for t in changes if t > now][:1]
            candidates += [pending[0][0]] if pending else []
            if now >= end and not rows:
                break
            if now >= end + 24 * H:
                break
            await clock.advance_to(min(candidates) if candidates else now + M)
    finally:
        sender.close()
        await runner.cleanup()
        inbox_store.close()
    outbox = {row.id: row for row in log.outbox_all()}
    log.close()
    stored = set(front.stored)
    lost = [alert_id for alert_id in decided if alert_id not in stored]
    position = {alert_id: i for i, alert_id in enumerate(decided)}
    out_of_order = 0
    for priority in ("urgent", "routine"):
        arrived = [
            position[i] for i in dict.fromkeys(front.stored) if outbox[i].priority == priority
        ]
        out_of_order += sum(1 for a, b in itertools.pairwise(arrived) if a > b)
    untold = _untold(outbox, decided, told)
    notices = sum(1 for _, _, reason in told if reason is StuckReason.ESCALATED)
    return {
        "tried": len(decided),
        "lost": len(lost),
        "duplicated": sum(front.stored_again.values()),
        "crashed": crashed,
        "out_of_order": out_of_order,
        "untold": untold,
        "notices": notices,
        "attempts": attempts,
        "idle_wakeups": idle_wakeups,
        "resends_deduplicated": front.resent_after_stored,
        "urgent": sum(1 for i in decided if outbox[i].priority == "urgent"),
    }


def _untold(outbox: dict[str, Any], decided: list[str], told: list[Any]) -> int:
    """Alerts held up past TOLD_WITHIN without a notice about them or one holding them back."""
    untold = 0
    for index, alert_id in enumerate(decided):
        row = outbox[alert_id]
        deadline = row.created_at + TOLD_WITHIN
        if row.delivered_at is not None and row.delivered_at <= deadline:
            continue
        ahead = set(decided[: index + 1])
        if not any(at <= deadline and told_id in ahead for at, told_id, _ in told):
            untold += 1
    return untold


def run(quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Fail the clinic while a fever is alerted; count what is lost, duplicated, disordered."""
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    with tempfile.TemporaryDirectory(prefix="portwatch-outage-") as tmp:
        result = asyncio.run(_campaign(plan(quick), seed, Path(tmp)))
    passed = all(result[key] == 0 for key in ("lost", "duplicated", "crashed"))
    passed = passed and result["out_of_order"] == 0 and result["untold"] == 0
    passed = passed and result["idle_wakeups"] == 0
    notes = (
        f"seed={seed}; {result['urgent']} urgent alerts; out of order {result['out_of_order']}; "
        f"held up without a caregiver notice {result['untold']}; {result['notices']} caregiver "
        f"notices; {result['attempts']:,} attempts; {result['resends_deduplicated']} resends "
        f"dropped by the inbox; idle wake-ups {result['idle_wakeups']}"
    )
    return {"campaign": NAME, **result, "passed": passed, "seed": seed, "notes": notes}
