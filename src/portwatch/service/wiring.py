"""The daemon's parts, built once and wired: :func:`open_service` yields a running
:class:`Service` and stops it, in the order that loses nothing, on the way out.

Two connections to the log: the writer's, used only through its ``run`` (the log's own
writer thread), writes readings, delivery records and timed work; the event loop's
connection writes decisions, events and the outbox. SQLite's write lock and busy timeout
serialise the two. The writer's thread is the log's: closing the log ends it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from portwatch.alerts import payloads
from portwatch.alerts.apprise_sender import NotifyChannelSender, notify_sender
from portwatch.alerts.delivery import (
    ClinicEndpoint,
    ClinicSender,
    Deliverer,
    NotifyEndpoint,
    Sender,
)
from portwatch.alerts.notices import Notice, QuietHours
from portwatch.alerts.outbound import Outbound
from portwatch.ble.pin import PinError, load_pin
from portwatch.clock import Clock, ClockTrust
from portwatch.config import Settings, alert_context
from portwatch.fever.rule import FeverRule
from portwatch.log.store import DB_FILE_NAME, Channel, Store, StoredReading, StoreError
from portwatch.model import Symptom
from portwatch.service.fever_state import FeverState
from portwatch.service.hooks import DaemonHooks
from portwatch.service.lifecycle import close_parts, notify, start, stop
from portwatch.service.logwatch import LogWatch, SeenReadings
from portwatch.service.page import Page, page_entrance, page_for
from portwatch.service.readings import REBUILD_BEFORE_PLACEMENT, Facts, ReadingPath, rebuild_rule
from portwatch.service.recorder import Recorder
from portwatch.service.schedule import Scheduler
from portwatch.service.status import StatusFacts, status_line
from portwatch.service.storage_alarm import StorageAlarm
from portwatch.service.systemd import Notifier
from portwatch.service.timed import NoticeSink, TimedWork, outbox_sink
from portwatch.stages import RESTART_MAX_S, Chores, Stages

if TYPE_CHECKING:
    from portwatch.ble.link import Link
    from portwatch.ble.radio import Radio
    from portwatch.service.control_server import ControlServer
    from portwatch.service.entrances import Entrances

__all__ = [
    "DaemonError",
    "Launch",
    "Service",
    "new_fever_state",
    "open_service",
    "status_text",
]

_LOGGER = logging.getLogger("portwatch.service.daemon")
_T = TypeVar("_T")

# Who the alerts are addressed to when the settings name no clinic (no clinic URL: only
# possible outside the monitored period, when nothing is sent anyway).
NO_RECIPIENT: Final = "Organization/unset"


class DaemonError(ValueError):
    """The daemon cannot start with what it was given (the message says what to fix)."""


@dataclass(frozen=True, slots=True)
class Launch:
    """What the daemon is started with (see :class:`~portwatch.service.daemon.Daemon`)."""

    settings: Settings
    clock: Clock
    radio: Radio
    signing_clock: Clock  # the clinic's signatures' time (ClinicSender), not the rule's
    clinic: ClinicEndpoint | None = None
    web_token: str | None = None
    web_port: int | None = None
    notifier: Notifier = field(default_factory=lambda: Notifier({}))
    watchdog_s: float | None = None
    gateway_id: str = field(default_factory=socket.gethostname)
    hooks: DaemonHooks = field(default_factory=DaemonHooks)

    @property
    def db_path(self) -> Path:
        return self.settings.store.state_directory / DB_FILE_NAME


@dataclass(frozen=True, slots=True)
class Service:
    """The running daemon's parts, each made once (:func:`open_service`)."""

    launch: Launch
    store: Store  # the event loop's connection to the log
    writer_store: Store  # the writer's connection (use through its ``run`` only)
    facts: Facts
    fever: FeverState
    rule: FeverRule
    recorder: Recorder
    readings: ReadingPath
    deliverer: Deliverer
    alarm: StorageAlarm
    scheduler: Scheduler
    timed: TimedWork
    link: Link
    page: Page | None
    senders: tuple[ClinicSender | NotifyChannelSender, ...]
    stages: Stages
    chores: Chores
    logwatch: LogWatch  # rows other processes wrote, to the rule (issue 16)
    control: ControlServer  # the control socket the commands ask (issue 16)

    async def on_store_thread(self, work: Callable[[], _T]) -> _T:
        """Run one call on the log's writer connection, on its own thread."""
        return await self.writer_store.run(work)

    def status_text(self) -> str:
        return status_text(self.launch.settings, self.launch.clock, self.facts, self.fever)

    def tick(self, due: datetime) -> None:
        """Advance the rule to now (every :data:`TICK`) and record what it decides."""
        del due
        self.recorder.decide(self.rule.advance(self.launch.clock.now()))

    def update_status(self, due: datetime) -> None:
        del due
        notify(self.launch.notifier.status, self.status_text())

    def heartbeat(self, due: datetime) -> None:
        del due
        facts = self.facts
        self.recorder.heartbeat(
            payloads.GatewayState(
                started_at=facts.started_at,
                thermometer_connected=facts.link_up,
                last_reading_at=facts.last_valid_at,
                battery_percent=facts.battery_percent,
                monitoring_until=self.launch.settings.monitoring_ends,
            )
        )

    async def pet_watchdog(self) -> None:
        """WATCHDOG=1 every ``watchdog_s`` real seconds (systemd counts real time)."""
        interval = self.launch.watchdog_s or RESTART_MAX_S
        while True:
            notify(self.launch.notifier.watchdog)
            await asyncio.sleep(interval)


def status_text(settings: Settings, clock: Clock, facts: Facts, fever: FeverState) -> str:
    """The line ``systemctl status`` shows (:func:`~portwatch.service.status.status_line`)."""
    return status_line(
        StatusFacts(
            placement=settings.patient.placement,
            healing_days=settings.rule.healing_days,
            link_up=facts.link_up,
            last_reading_time=facts.last_valid_at,
            last_reading_celsius=facts.last_celsius,
            fever=fever.text,
            clock_trusted=_clock_trusted(clock),
            zone=settings.zone,
            unit=settings.display.unit,
        ),
        clock.now(),
    )


def new_fever_state(settings: Settings) -> FeverState:
    rule = settings.rule
    return FeverState(rule.pair_window, rule.min_separation, settings.zone)


def _clock_trusted(clock: Clock) -> bool:
    """False while the clock only estimates the time or holds after a jump."""
    return clock.trust is ClockTrust.SYNCHRONISED


@asynccontextmanager
async def open_service(launch: Launch) -> AsyncIterator[Service]:
    """Open the log, build every part, start the stages; stop them all on the way out.

    Raises:
        DaemonError: the log cannot be opened.
    """
    async with AsyncExitStack() as stack:
        store, writer_store = await _open_log(stack, launch)
        service = await _build(launch, store, writer_store)
        stack.push_async_callback(close_parts, service)
        stack.push_async_callback(stop, service)
        await start(service)
        yield service


async def _open_log(stack: AsyncExitStack, launch: Launch) -> tuple[Store, Store]:
    """The event loop's connection and the writer's (closed after its work in flight)."""
    try:
        store = await asyncio.to_thread(Store.open, launch.db_path)
        stack.callback(store.close)
        writer_store = await asyncio.to_thread(Store.open, launch.db_path)
    except StoreError as exc:
        raise DaemonError(f"cannot open the log: {exc}") from exc
    stack.callback(writer_store.close)
    return store, writer_store


async def _build(launch: Launch, store: Store, writer_store: Store) -> Service:
    """Every part, in the order each needs the others; the rule rebuilt from the log."""
    settings, clock = launch.settings, launch.clock
    facts, fever, chores = Facts(started_at=clock.now()), new_fever_state(settings), Chores()
    # The deliverer is made next; the recorder wakes it only once the stages run.
    recorder = _recorder(launch, store, fever, lambda: deliverer.wake())
    deliverer, direct, senders = _delivery(launch, recorder, writer_store)
    seen = SeenReadings()  # which logged rows the rule has had, whoever wrote them
    logwatch = await _log_watch(
        launch, store, seen, lambda batch: readings.feed(batch), deliverer.wake
    )
    rule = await _rebuilt_rule(launch, recorder, writer_store, facts, seen)
    alarm = StorageAlarm(
        recorder,
        direct,
        clock,
        chores,
        patient=settings.patient.reference,
        writer_store=writer_store,
    )
    scheduler = Scheduler(clock)
    timed = _timed_work(launch, writer_store, deliverer, fever, scheduler)
    readings = ReadingPath(
        writer_store,
        store,
        rule=rule,
        recorder=recorder,
        timed=timed,
        facts=facts,
        hooks=launch.hooks,
        chores=chores,
        clock=clock,
        on_trouble=alarm.on_trouble,
        durable_within_s=settings.store.durable_within.total_seconds(),
        seen=seen,
    )
    entrances = _entrances(launch, writer_store, readings, recorder, deliverer.wake, facts, fever)
    return Service(
        launch=launch,
        store=store,
        writer_store=writer_store,
        facts=facts,
        fever=fever,
        rule=rule,
        recorder=recorder,
        readings=readings,
        deliverer=deliverer,
        alarm=alarm,
        scheduler=scheduler,
        timed=timed,
        link=_link(launch, readings),
        page=_page(launch, recorder, entrances),
        senders=senders,
        stages=Stages(clock, _LOGGER),
        chores=chores,
        logwatch=logwatch,
        control=_control(launch, entrances),
    )


async def _log_watch(
    launch: Launch,
    store: Store,
    seen: SeenReadings,
    feed: Callable[[Sequence[StoredReading]], None],
    wake: Callable[[], None],
) -> LogWatch:
    """The net under the control socket (issue 16), opened before the replay: the replay
    has every row up to the highest id now; rows above it are the watch's to find. An
    outbox row another process queued or requeued wakes delivery (``wake``)."""
    watch = LogWatch(
        launch.db_path,
        lambda after, limit: store.readings_after(after, limit=limit),
        seen,
        feed,
        skip_before=launch.settings.patient.placement - REBUILD_BEFORE_PLACEMENT,
        outbox_changed=wake,
    )
    seen.start_at(await asyncio.to_thread(watch.open))
    return watch


def _control(launch: Launch, entrances: Entrances) -> ControlServer:
    """The control API over the service's entrances (issue 16)."""
    from portwatch.service.control_server import ControlServer
    from portwatch.service.control_socket import service_socket_path

    return ControlServer(entrances, service_socket_path(launch.settings.store.state_directory))


def _entrances(
    launch: Launch,
    writer_store: Store,
    readings: ReadingPath,
    recorder: Recorder,
    wake: Callable[[], None],
    facts: Facts,
    fever: FeverState,
) -> Entrances:
    """The service's entrances: hand readings, imports, reports, pauses, resends and purges
    take the path a Bluetooth reading takes (issue 16), from the control socket and from the
    caregiver page's forms alike (issue 19).
    """
    from portwatch.service.entrances import Entrances

    settings, clock = launch.settings, launch.clock

    async def report(symptoms: Sequence[Symptom], note: str) -> str:
        return recorder.report_symptoms(symptoms, note)

    return Entrances(
        clock=clock,
        on_store_thread=writer_store.run,
        store=lambda: writer_store,
        feed=readings.feed,
        report=report,
        wake=wake,
        status_line=lambda: status_text(settings, clock, facts, fever),
        status_screen=partial(_status_screen, settings, writer_store, clock),
    )


def _status_screen(settings: Settings, store: Store, clock: Clock, now: datetime) -> str:
    """`portwatch status`'s screen, as the command would show it with these settings, and
    a line saying so when the service's clock is not the synchronised wall clock."""
    from portwatch.web.settings import display_settings, next_reminder
    from portwatch.web.source import status_data
    from portwatch.web.text import status_text as screen_text

    reminder = next_reminder(settings)(now)
    status = status_data(store, display_settings(settings), now, reminder)
    return screen_text(dataclasses.replace(status, clock=clock.trust))


def _recorder(
    launch: Launch, store: Store, fever: FeverState, wake: Callable[[], None]
) -> Recorder:
    settings = launch.settings
    return Recorder(
        store,
        _outbound(launch),
        fever,
        launch.clock,
        wake,
        patient=settings.patient.reference,
        zone=settings.zone,
        hooks=launch.hooks,
    )


def _delivery(
    launch: Launch, recorder: Recorder, writer_store: Store
) -> tuple[Deliverer, Sender | None, tuple[ClinicSender | NotifyChannelSender, ...]]:
    """The Deliverer over the log's outbox, the caregiver's direct sender, every sender."""
    channels, direct, senders = _senders(launch)
    deliverer = Deliverer(  # the writer's connection on its thread: no fsync blocks the loop
        writer_store,
        channels,
        launch.clock,
        recorder.on_stuck,
        escalate_after=launch.settings.clinic.escalate_after,
    )
    return deliverer, direct, senders


def _timed_work(
    launch: Launch,
    writer_store: Store,
    deliverer: Deliverer,
    fever: FeverState,
    scheduler: Scheduler,
) -> TimedWork:
    """Reminders, the silence watch and the daily summary, on the writer's connection."""
    clock = launch.clock
    return TimedWork(
        launch.settings,
        writer_store,
        _notice_sink(launch, writer_store, deliverer),
        scheduler,
        clock,
        fever_pending=lambda: fever.pending(clock.now()),
        fever_open=lambda: fever.open,
        recheck_due=lambda: fever.recheck_due if fever.pending(clock.now()) else None,
    )


def _page(launch: Launch, recorder: Recorder, entrances: Entrances) -> Page | None:
    """The caregiver's page; its reading and pause forms use the control API's entrances."""
    if launch.web_token is None:
        return None
    return page_for(
        launch.settings,
        launch.clock,
        recorder,
        token=launch.web_token,
        port=launch.web_port,
        entrance=page_entrance(entrances),
    )


def _link(launch: Launch, readings: ReadingPath) -> Link:
    from portwatch.ble.link import Link

    settings, clock = launch.settings, launch.clock
    return Link(
        clock=clock,
        radio=launch.radio,
        state_dir=settings.store.state_directory,
        sink=readings.sink,
        zone=settings.zone,
        adapter=launch.radio.adapter(settings.bluetooth.adapter, clock),
    )


def _outbound(launch: Launch) -> Outbound:
    settings = launch.settings
    quiet = settings.notify.quiet_hours
    return Outbound(
        context=_context(launch),
        clinic_format=settings.clinic.format,
        zone=settings.zone,
        quiet=None if quiet is None else QuietHours(quiet.start, quiet.end, settings.zone),
        patient_channel=settings.notify.patient_url is not None,
    )


def _context(launch: Launch) -> payloads.AlertContext:
    """Who alerts are about and for, naming the pinned thermometer when there is one."""
    settings = launch.settings
    if settings.clinic.recipient is None:
        settings = settings.model_copy(
            update={"clinic": settings.clinic.model_copy(update={"recipient": NO_RECIPIENT})}
        )
    context = alert_context(settings, launch.gateway_id)
    try:
        pin = load_pin(settings.store.state_directory)
    except PinError:
        _LOGGER.debug("no pinned thermometer yet; alerts name the configured address")
        return context
    thermometer = payloads.Thermometer(address=pin.address, model=pin.name)
    return dataclasses.replace(context, thermometer=thermometer)


async def _rebuilt_rule(
    launch: Launch, recorder: Recorder, store: Store, facts: Facts, seen: SeenReadings
) -> FeverRule:
    """A new rule fed the log's readings (fever-rule.md §6); what it decides is recorded."""
    settings, clock = launch.settings, launch.clock
    pinned: str | None
    try:
        pinned = load_pin(settings.store.state_directory).address
    except PinError:
        pinned = settings.bluetooth.address
    placement = settings.patient.placement
    rule = FeverRule(
        settings.rule.rule_settings(),
        patient=settings.patient.reference,
        placement=placement,
        pinned_device=pinned,
    )
    made = await rebuild_rule(rule, store, facts, placement, seen)
    made.extend(rule.advance(clock.now()))
    recorder.decide(made)
    _LOGGER.info("rule rebuilt from %s logged readings", facts.readings_replayed)
    return rule


def _senders(
    launch: Launch,
) -> tuple[dict[str, Sender], Sender | None, tuple[ClinicSender | NotifyChannelSender, ...]]:
    """One sender per channel, the caregiver's direct one (storage notices), and all of
    them to close at stop."""
    made: list[ClinicSender | NotifyChannelSender] = []
    channels: dict[str, Sender] = {}
    if launch.clinic is not None:
        # Signed on the wall clock the clinic checks, not on the daemon's trusted clock,
        # which is counted from the placement or the log until the clock is synchronised.
        signing = launch.signing_clock.now
        channels[Channel.CLINIC] = clinic = ClinicSender(launch.clinic, signing_time=signing)
        made.append(clinic)
    # One queue and sender per person (alerts.md, "Who is told what"), each retried like
    # clinic alerts; without a patient URL the patient's notices are queued for the
    # caregiver's (outbound.notice_channels).
    notify_section = launch.settings.notify
    urls = {
        Channel.NOTIFY: notify_section.caregiver_url,
        Channel.PATIENT: notify_section.patient_url,
    }
    for channel, url in urls.items():
        if url is not None:
            channels[channel] = sender = notify_sender(NotifyEndpoint(url=url))
            made.append(sender)
    direct = None
    if notify_section.caregiver_url is not None:
        # Its own session: the notify channel's loop may be POSTing on the other at once.
        direct = notify_sender(NotifyEndpoint(url=notify_section.caregiver_url))
        made.append(direct)
    return channels, direct, tuple(made)


def _notice_sink(
    launch: Launch,
    writer_store: Store,
    deliverer: Deliverer,
) -> NoticeSink:
    """Timed notices into the outbox's notify channels; delivery is woken at once."""
    put = outbox_sink(
        writer_store,
        patient_channel=launch.settings.notify.patient_url is not None,
    )
    hooks = launch.hooks

    async def sink(notice: Notice, key: str, now: datetime) -> None:
        await put(notice, key, now)
        _LOGGER.info("notice %s", notice.kind.value)
        if hooks.on_notice is not None:
            hooks.on_notice(notice)
        deliverer.wake()

    return sink
