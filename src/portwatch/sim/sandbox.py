"""Portwatch on its embedded default: everything ``portwatch demo`` starts, in one process.

A temporary state directory, a VirtualClock, the virtual radio with a CORE wearable playing
:data:`portwatch.sim.scenario.COURSE`, the daemon exactly as ``portwatch run`` wires it
(:class:`~portwatch.service.daemon.Daemon`, ``bluetooth.backend = "virtual"``), the reference clinic
inbox (:mod:`portwatch.sim.inbox`) on a free loopback port with a fresh secret, and the
caregiver page. The demo shows it; the end-to-end tests check it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from portwatch.alerts.notices import Notice
from portwatch.alerts.signing import parse_secret
from portwatch.clock import Clock, VirtualClock
from portwatch.config import Settings, clinic_endpoint
from portwatch.log.store import Channel, OutboxEntry, OutboxStatus, writers_idle
from portwatch.model import Decision, DecisionType, Reading
from portwatch.service.daemon import Daemon, DaemonHooks
from portwatch.sim.inbox import InboxStore, Message
from portwatch.sim.pacing import TrackingExecutor
from portwatch.sim.scenario import (
    COURSE,
    DEFAULT_PLACEMENT,
    MEASUREMENT_INTERVAL_S,
    Absence,
    Course,
    Happening,
    HappeningKind,
    core_celsius,
    wearable_absences,
)

if TYPE_CHECKING:
    from aiohttp import web

    from portwatch.sim.radio import VirtualCoreWearable, VirtualRadio

__all__ = ["Event", "Sandbox", "SandboxError", "Summary", "play_absences"]

_LOGGER = logging.getLogger(__name__)

PATIENT: Final = "Patient/demo"
CLINIC_REFERENCE: Final = "Organization/demo-clinic"
HEARTBEAT: Final = "gateway.heartbeat"
# After the course ends, how long (real seconds) to wait for the outbox to drain into the
# inbox before summarising; loopback answers in milliseconds.
DRAIN_TIMEOUT_S: Final = 20.0


class SandboxError(ValueError):
    """The sandbox was used out of order (not entered, course not played)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One notable thing, for the progress lines: when (simulated) and what."""

    at: datetime
    text: str


@dataclass(slots=True)
class _Inbox:
    """The reference inbox's store, counting what it receives (and its duplicates)."""

    store: InboxStore
    clock: VirtualClock
    on_message: Callable[[Message, bool], None]
    received: list[tuple[Message, bool, float]] = field(default_factory=list)

    def add(self, message: Message, received_at: datetime) -> bool:
        stored = self.store.add(message, received_at)
        self.received.append((message, stored, time.perf_counter()))
        self.on_message(message, stored)
        return stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@dataclass(frozen=True, slots=True)
class Summary:
    """What the course did: issue 9's summary, also printed as ``--json``."""

    readings: int
    decisions: tuple[str, ...]
    alerts_sent: int
    alerts_received: int
    alerts_received_kinds: tuple[str, ...]
    duplicates_received: int
    heartbeats_received: int
    notifications: int
    notification_kinds: tuple[str, ...]
    alert_latency_ms: float | None
    measurement_interval_s: float
    simulated_days: float
    real_seconds: float
    caregiver_url: str | None
    inbox_url: str

    def as_json(self) -> dict[str, object]:
        return {
            "readings": self.readings,
            "alerts_sent": self.alerts_sent,
            "alerts_received": self.alerts_received,
            "alerts_received_kinds": list(self.alerts_received_kinds),
            "duplicates_received": self.duplicates_received,
            "heartbeats_received": self.heartbeats_received,
            "notifications": self.notifications,
            "notification_kinds": list(self.notification_kinds),
            "decisions": list(self.decisions),
            "alert_latency_ms": self.alert_latency_ms,
            "measurement_interval_s": self.measurement_interval_s,
            "simulated_days": self.simulated_days,
            "real_seconds": self.real_seconds,
            "caregiver_url": self.caregiver_url,
            "inbox_url": self.inbox_url,
        }


class Sandbox:
    """Everything the demo runs, entered as an async context manager.

    Args:
        placement: when the port was placed; the course starts there.
        course: what happens (default: issue 9's ten days).
        state_dir: where the log lives (default: a fresh temporary directory).
        on_event: called with each notable event as it happens.
        interval_s: the wearable's measurement interval.
        page: whether to start the caregiver page.
        start: when the daemon starts (default: at the placement).
        clinic: an inbox already running elsewhere, as (its webhook URL, the file holding
            its whsec_ secret), instead of one in this process: so that a benchmark
            measures the daemon as the Pi runs it. :meth:`summary` needs the inbox here.
    """

    def __init__(
        self,
        *,
        placement: datetime = DEFAULT_PLACEMENT,
        course: Course = COURSE,
        state_dir: Path | None = None,
        on_event: Callable[[Event], None] | None = None,
        interval_s: float = MEASUREMENT_INTERVAL_S,
        page: bool = True,
        start: datetime | None = None,
        clinic: tuple[str, Path] | None = None,
    ) -> None:
        self.placement = placement
        self.course = course
        self.clock = VirtualClock(start or placement)
        self.interval_s = interval_s
        self._on_event = on_event
        self._web = page
        # The page's port: 0 picks a free one (a test may give a port that is taken).
        self.page_port = 0
        self._clinic = clinic
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._state_dir = state_dir
        self.events: list[Event] = []
        self.decisions: list[Decision] = []
        self.entries: list[OutboxEntry] = []
        self.recorded_at: dict[str, float] = {}  # alert id -> perf_counter when recorded
        self.readings_seen = 0
        self.real_seconds = 0.0
        self.daemon: Daemon | None = None
        self.radio: VirtualRadio | None = None
        self.wearable: VirtualCoreWearable | None = None
        self.inbox: _Inbox | None = None
        self.inbox_url = ""
        self._inbox_runner: web.AppRunner | None = None
        self._daemon_task: asyncio.Task[None] | None = None
        self._happenings: set[asyncio.Task[None]] = set()
        self._absences_played = False
        self._secret_path: Path | None = None
        self._web_token: str | None = None
        self._key = b""
        self._threads = TrackingExecutor(1)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        if self._state_dir is None:
            raise SandboxError("enter the sandbox first")
        return self._state_dir

    async def __aenter__(self) -> Self:
        try:
            await self._enter()
        except BaseException:
            await self._exit()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._exit()

    async def _enter(self) -> None:
        if self._state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="portwatch-demo-", dir=_scratch())
            self._state_dir = Path(self._tmp.name)
        self._state_dir.mkdir(parents=True, exist_ok=True)
        if self._clinic is None:
            secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
            self._secret_path = self._state_dir / "clinic-secret"
            self._secret_path.write_text(secret + "\n", encoding="utf-8")
            self._secret_path.chmod(0o600)
        else:
            self.inbox_url, self._secret_path = self._clinic
            secret = self._secret_path.read_text(encoding="utf-8").strip()
        key = parse_secret(secret)
        # Every thread the program uses is tracked, so that simulated time waits for it.
        self._threads = TrackingExecutor(4, thread_name_prefix="portwatch-io")
        asyncio.get_running_loop().set_default_executor(self._threads)
        if self._clinic is None:
            await self._start_inbox(key)
        await self._start_radio()
        self._key = key
        self._web_token = secrets.token_urlsafe(24) if self._web else None
        await self.start_daemon()
        self._event(self.clock.now(), "portwatch running; thermometer on the virtual radio")

    async def start_daemon(self) -> None:
        """Start the daemon exactly as `portwatch run` wires it; returns once it is READY."""
        self.daemon = Daemon(
            self.settings(),
            clock=self.clock,
            radio=self._radio(),
            signing_clock=self.clock,  # the sandbox's inbox checks signatures on virtual time
            clinic=clinic_endpoint(self.settings(), {}),
            web_token=self._web_token,
            web_port=self.page_port,
            gateway_id="demo-gateway",
            hooks=DaemonHooks(
                on_recorded=self._recorded, on_received=self._received, on_notice=self._notice
            ),
        )
        self._daemon_task = asyncio.create_task(self.daemon.run(), name="portwatch-daemon")
        ready = asyncio.create_task(self.daemon.ready.wait())
        await asyncio.wait({ready, self._daemon_task}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            await self._daemon_task  # raises what stopped it

    async def restart_daemon(self) -> None:
        """Stop the daemon as SIGTERM does and start a new one on the same log."""
        await self.stop_daemon()
        await self.start_daemon()  # on the same store thread: the sandbox's, not the daemon's

    def settings(self) -> Settings:
        """The settings the demo's daemon runs with (what a portwatch.toml would say)."""
        return Settings.model_validate(
            {
                "patient": {"reference": PATIENT, "placement": self.placement, "timezone": "UTC"},
                "bluetooth": {"backend": "virtual", "address": self._wearable().address},
                "clinic": {
                    "url": self.inbox_url,
                    "recipient": CLINIC_REFERENCE,
                    "format": "json",
                    "secret_file": self._secret_path,
                },
                "store": {"state_directory": self.state_dir},
            }
        )

    async def _start_inbox(self, key: bytes) -> None:
        from portwatch.serving import serve
        from portwatch.sim.inbox import inbox_limits, make_app

        store = InboxStore(self.state_dir / "inbox.db")
        self.inbox = _Inbox(store, self.clock, self._inbox_message)
        app = make_app(key, self.inbox, self.clock)  # type: ignore[arg-type]
        served = await serve(app, "127.0.0.1", 0, inbox_limits())  # bounded, as `portwatch inbox`
        self._inbox_runner = served.runner
        self.inbox_url = f"http://127.0.0.1:{served.port}/webhook"

    async def _start_radio(self) -> None:
        from portwatch.ble.pin import Pin, save_pin
        from portwatch.sim.radio import VirtualCoreWearable, VirtualRadio

        self.radio = VirtualRadio(self.clock)
        await self.radio.__aenter__()
        placement, fevers = self.placement, self.course.fevers
        self.wearable = await self.radio.add(
            VirtualCoreWearable(
                self.clock,
                interval_s=self.interval_s,
                temperature_at=lambda when: core_celsius(placement, when, fevers),
            )
        )
        save_pin(
            self.state_dir,
            Pin(address=self.wearable.address, name=self.wearable.name, driver="core"),
        )

    async def stop_daemon(self) -> None:
        """Stop the daemon as SIGTERM would, and wait for it to finish."""
        if self.daemon is not None and self._daemon_task is not None:
            self.daemon.stop()
            await self._daemon_task
            self._daemon_task = None

    async def _exit(self) -> None:
        for task in self._happenings:
            task.cancel()
        await asyncio.gather(*self._happenings, return_exceptions=True)
        try:
            await self.stop_daemon()
        finally:
            if self.radio is not None:
                await self.radio.__aexit__(None, None, None)
            if self._inbox_runner is not None:
                await self._inbox_runner.cleanup()
            if self.inbox is not None:
                self.inbox.store.close()
            if self._tmp is not None:
                self._tmp.cleanup()

    # -- playing the course ---------------------------------------------------------------

    async def play(
        self,
        *,
        speed: float | None,
        until: datetime | None = None,
        on_step: Callable[[datetime], None] | None = None,
    ) -> None:
        """Play the course from now to ``until`` (default: its end) at ``speed``x."""
        from portwatch.sim.pacing import pace

        end = until or self.placement + self.course.length
        for happening in self.course.happenings:
            when = self.placement + happening.at
            if self.clock.now() <= when < end:
                self._own(self._happen(when, happening))
        if not self._absences_played:
            # The wearable lives across plays and restarts: its absences are played once.
            self._absences_played = True
            absences = wearable_absences(self.course, self.placement, self.clock.now())
            self._own(play_absences(self.clock, self._wearable(), absences))
        self.real_seconds += await pace(
            self.clock, end, speed=speed, on_step=on_step, settled=self.settled
        )
        await self.drain()

    def _own(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._happenings.add(task)
        task.add_done_callback(self._happenings.discard)

    def settled(self) -> bool:
        """No real work in flight: simulated time may move on."""
        return self._threads.idle and writers_idle()

    async def _happen(self, when: datetime, happening: Happening) -> None:
        """A person's part of a happening (the wearable's part is :func:`play_absences`)."""
        await self.clock.sleep((when - self.clock.now()).total_seconds())
        daemon = self._daemon()
        self._event(self.clock.now(), happening.text)
        if happening.kind is HappeningKind.SHOWER:
            daemon.pause(happening.pause, happening.reason)
        elif happening.kind is HappeningKind.SYMPTOMS:
            await daemon.report_symptoms(happening.symptoms, "")

    async def drain(self) -> None:
        """Wait (real time) until every clinic alert is delivered or the timeout passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_TIMEOUT_S
        while loop.time() < deadline:
            rows = self._daemon().store.outbox_all(OutboxStatus.PENDING)
            pending = [r for r in rows if r.channel == Channel.CLINIC]
            if not pending:
                return
            await self.clock.advance(1.0)
            await asyncio.sleep(0.01)
        _LOGGER.warning("sandbox: %s clinic alerts still pending", len(pending))

    # -- observing ------------------------------------------------------------------------

    def _event(self, at: datetime, text: str) -> None:
        event = Event(at, text)
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)

    def _received(self, reading: Reading) -> None:
        del reading
        self.readings_seen += 1

    def _recorded(self, decisions: Sequence[Decision], entries: Sequence[OutboxEntry]) -> None:
        now = self.clock.now()
        for decision in decisions:
            if decision.type is DecisionType.READING_INVALID:
                continue
            self.decisions.append(decision)
            self._event(now, f"rule: {decision.type.value} ({decision.summary})")
        for entry in entries:
            self.entries.append(entry)
            self.recorded_at.setdefault(entry.id, time.perf_counter())
            if entry.channel == Channel.NOTIFY:
                title = _title(entry.body)
                self._event(now, f"notice {entry.kind}: {title}")
            elif entry.kind != HEARTBEAT:
                self._event(now, f"clinic alert queued: {entry.kind}")

    def _notice(self, notice: Notice) -> None:
        self._event(self.clock.now(), f"notice {notice.kind.value}: {notice.title}")

    def _inbox_message(self, message: Message, stored: bool) -> None:
        if message.type == HEARTBEAT:
            return
        what = "received" if stored else "received a DUPLICATE of"
        self._event(self.clock.now(), f"clinic inbox {what} {message.type}")

    # -- the summary ----------------------------------------------------------------------

    def summary(self) -> Summary:
        daemon, inbox = self._daemon(), self._inbox()
        store = daemon.store
        rows = store.outbox_all()
        clinic = [r for r in rows if r.channel == Channel.CLINIC and r.kind != HEARTBEAT]
        notify = [r for r in rows if r.channel == Channel.NOTIFY]
        alerts = [(m, s, t) for m, s, t in inbox.received if m.type != HEARTBEAT]
        latency = None
        for message, stored, at in alerts:
            if stored and message.type == DecisionType.FEVER_CONFIRMED.value:
                began = self.recorded_at.get(message.webhook_id)
                if began is not None:
                    latency = round((at - began) * 1000, 1)
                break
        caregiver = daemon.web_url
        return Summary(
            readings=store.reading_count(),
            decisions=tuple(d.type.value for d in self.decisions),
            alerts_sent=sum(1 for r in clinic if r.status == OutboxStatus.DELIVERED),
            alerts_received=sum(1 for _, stored, _ in alerts if stored),
            alerts_received_kinds=tuple(m.type for m, stored, _ in alerts if stored),
            duplicates_received=sum(1 for _, stored, _ in inbox.received if not stored),
            heartbeats_received=sum(
                1 for m, stored, _ in inbox.received if stored and m.type == HEARTBEAT
            ),
            notifications=len(notify),
            notification_kinds=tuple(r.kind for r in notify),
            alert_latency_ms=latency,
            measurement_interval_s=self.interval_s,
            simulated_days=round((self.clock.now() - self.placement) / timedelta(days=1), 2),
            real_seconds=round(self.real_seconds, 1),
            caregiver_url=None if caregiver is None else self._login_link(caregiver),
            inbox_url=self.inbox_url.removesuffix("webhook"),
        )

    # -- helpers --------------------------------------------------------------------------

    def _login_link(self, page: str) -> str:
        """A one-time link to the page (issue 19: the token never travels in a URL); each
        summary has its own, valid for as long as a link may be."""
        from portwatch.web.login import MAX_VALID, CodeStore

        code = CodeStore(self.state_dir).issue(self.clock.now(), MAX_VALID)
        return f"{page.rstrip('/')}/login?code={code}"

    def _daemon(self) -> Daemon:
        if self.daemon is None:
            raise SandboxError("enter the sandbox first")
        return self.daemon

    def _radio(self) -> VirtualRadio:
        if self.radio is None:
            raise SandboxError("enter the sandbox first")
        return self.radio

    def _wearable(self) -> VirtualCoreWearable:
        if self.wearable is None:
            raise SandboxError("enter the sandbox first")
        return self.wearable

    def _inbox(self) -> _Inbox:
        if self.inbox is None:
            raise SandboxError("enter the sandbox first")
        return self.inbox


async def play_absences(
    clock: Clock, wearable: VirtualCoreWearable, absences: Sequence[Absence]
) -> None:
    """Take the virtual wearable away for each absence in turn, on ``clock``.

    The course's shower and link drop as the thermometer plays them: the demo's Sandbox
    and ``portwatch run --virtual-clock`` both use this (see
    :func:`portwatch.sim.scenario.wearable_absences`).
    """
    for absence in absences:
        await clock.sleep((absence.start - clock.now()).total_seconds())
        _LOGGER.debug("virtual wearable away (%s) until %s", absence.kind.value, absence.end)
        await wearable.out_of_range((absence.end - clock.now()).total_seconds())


def _title(body: str) -> str:
    import json

    try:
        return str(json.loads(body)["title"])
    except (ValueError, KeyError, TypeError):
        return body[:60]


def _scratch() -> str | None:
    """A memory-backed directory for the demo's throwaway log when the system has one.

    The demo's log lives for a minute; on a RAM disk its thousands of durable commits
    cost nothing, so the minute goes to showing portwatch work rather than to an SD
    card's fsync. (``portwatch run`` and the benchmarks keep the real durability.)
    """
    import os

    shm = Path("/dev/shm")  # noqa: S108 (a private subdirectory is created in it)
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
