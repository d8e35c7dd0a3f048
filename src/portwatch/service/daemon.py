"""`portwatch run`: the stages wired into one asyncio event loop. A wiring module only.

thermometer → :class:`~portwatch.ble.link.Link` → :class:`~portwatch.log.writer.ReadingWriter`
(durable) → :class:`~portwatch.fever.rule.FeverRule` (durable readings only) →
``Store.record_decisions`` (the decision and its outbox rows in one transaction,
:mod:`portwatch.alerts.outbound`) → :class:`~portwatch.alerts.delivery.Deliverer` (clinic and
notify channels). Timed work (:mod:`portwatch.service.schedule`) advances the rule, watches for
silence (:mod:`portwatch.service.watch`), sends care reminders (:mod:`portwatch.service.care`), the
heartbeat and the daily summary. Everything reads one :class:`~portwatch.clock.Clock`, so
the demo and the tests run this same code on a VirtualClock.

Two connections to the log: the reading writer's own thread writes readings; the event
loop's connection writes decisions, events and the outbox (the Deliverer's interface is
synchronous). SQLite's write lock and busy timeout serialise the two.

Every stage runs under :meth:`Daemon._supervise`: a failure is logged and the stage
restarted after a backoff, never taking the daemon down. :meth:`Daemon.stop` (SIGTERM)
ends it cleanly: the link first, then every waiting reading written and decided, then
delivery, the scheduler and the page.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Final, TypeVar

from portwatch import __version__
from portwatch.alerts import payloads
from portwatch.alerts.delivery import (
    ClinicEndpoint,
    ClinicSender,
    Deliverer,
    NotifyEndpoint,
    NotifySender,
    Outcome,
    Sender,
    StuckReason,
    backoff_for,
    classify,
)
from portwatch.alerts.notices import Notice, NoticeKind, QuietHours
from portwatch.alerts.outbound import Outbound, clock_text, notice_entry
from portwatch.alerts.outbox import clinic_entry
from portwatch.ble.pin import PinError, load_pin
from portwatch.clock import Clock, ClockTrust
from portwatch.config import Settings, alert_context
from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.log.store import (
    DB_FILE_NAME,
    Channel,
    OutboxEntry,
    OutboxRow,
    Store,
    StoredReading,
    StoreError,
)
from portwatch.log.writer import ReadingWriter, StoreTrouble
from portwatch.model import Decision, DecisionType, LinkEvent, LinkEventKind, Reading, Symptom
from portwatch.service.care import next_reminder_time
from portwatch.service.schedule import Scheduler, every
from portwatch.service.status import StatusFacts, status_line
from portwatch.service.systemd import Notifier
from portwatch.service.timed import NoticeSink, TimedWork, outbox_sink

if TYPE_CHECKING:
    from aiohttp import web

    from portwatch.ble.radio import Radio

__all__ = ["Daemon", "DaemonError", "DaemonHooks", "rule_settings"]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

# How often the rule is advanced (fever-rule.md §2, §5): a stream window closes, a recheck
# falls due or an episode resolves at most this late.
TICK: Final = timedelta(minutes=1)
# Who the alerts are addressed to when the settings name no clinic (no clinic URL: only
# possible outside the monitored period, when nothing is sent anyway).
NO_RECIPIENT: Final = "Organization/unset"
# A failed stage is restarted after 1, 2, 4 ... s, at most a minute (issue 7: "caught,
# logged and retried at that stage").
RESTART_FIRST_S: Final = 1.0
RESTART_MAX_S: Final = 60.0
# Issue 7: SIGTERM stops cleanly within 10 s; each shutdown step gets a share of it.
STOP_STEP_S: Final = 3.0
# How long a symptom report from the page may wait for the event loop (web/app.py's
# PAGE_TIMEOUT_S is 15 s; answer before it gives up).
REPORT_TIMEOUT_S: Final = 10.0
# Readings are replayed into the rule at start a day at a time, to bound memory.
REBUILD_CHUNK: Final = timedelta(days=1)
# fever-rule.md §1: readings before the placement less one day are invalid; the replay
# starts a day earlier still, so it sees every reading the rule may have judged.
REBUILD_BEFORE_PLACEMENT: Final = timedelta(days=2)
# A storage notice sent straight to the caregiver (issue 4: "the caregiver is told", and a
# full disk cannot queue it) is logged afterwards held this far ahead, then marked
# delivered: if the second write never lands, the row still never leaves the outbox again.
SENT_DIRECTLY_HOLD: Final = timedelta(days=365 * 100)


class DaemonError(ValueError):
    """The daemon cannot start with what it was given (the message says what to fix)."""


@dataclass(slots=True)
class DaemonHooks:
    """Optional observers, for the demo's progress lines and for tests; they decide nothing."""

    on_recorded: Callable[[Sequence[Decision], Sequence[OutboxEntry]], None] | None = None
    on_durable: Callable[[Sequence[StoredReading]], None] | None = None
    on_received: Callable[[Reading], None] | None = None
    on_notice: Callable[[Notice], None] | None = None
    on_ready: Callable[[], None] | None = None


@dataclass(slots=True)
class _State:
    """What the daemon knows between events (rebuilt from the log at start)."""

    started_at: datetime
    last_valid_at: datetime | None = None
    last_celsius: float | None = None
    link_up: bool = False
    battery_percent: int | None = None
    fever_pending_until: datetime | None = None  # a first elevated reading awaits its pair
    fever_text: str | None = None
    fever_open: bool = False  # a confirmed episode not yet resolved
    readings_received: int = 0
    readings_durable: int = 0
    readings_replayed: int = 0
    unrecorded: list[tuple[list[Decision], list[OutboxEntry]]] = field(default_factory=list)


def rule_settings(settings: Settings) -> RuleSettings:
    """The rule's settings from the ``[rule]`` section (same names, same units)."""
    return settings.rule.rule_settings()


class Daemon:
    """The whole product on one event loop; ``await Daemon(...).run()`` until :meth:`stop`.

    Args:
        settings: validated settings (:func:`portwatch.config.load_settings`).
        clock: the one clock every stage reads.
        radio: the radio (``SYSTEM_RADIO`` on the Pi; a ``VirtualRadio`` for the demo and
            the tests).
        clinic: where clinic alerts go (:func:`portwatch.config.clinic_endpoint`; None: no
            clinic URL, alerts wait in the outbox).
        web_token: the caregiver page's access token (None: no page).
        web_port: overrides the port of ``web.address`` (0 picks a free one).
        notifier: systemd's notify socket (a no-op outside systemd).
        watchdog_s: how often to send WATCHDOG=1 (None: systemd expects none).
        gateway_id: this gateway's identity in alerts (default: the host name).
        hooks: observers for the demo and the tests.

    Raises:
        DaemonError: at :meth:`run`, when the log cannot be opened.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        radio: Radio,
        clinic: ClinicEndpoint | None = None,
        web_token: str | None = None,
        web_port: int | None = None,
        notifier: Notifier | None = None,
        watchdog_s: float | None = None,
        gateway_id: str | None = None,
        hooks: DaemonHooks | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._radio = radio
        self._clinic = clinic
        self._web_token = web_token
        self._web_port = web_port
        self._notifier = notifier or Notifier({})
        self._watchdog_s = watchdog_s
        self._gateway_id = gateway_id or socket.gethostname()
        self._hooks = hooks or DaemonHooks()
        self.state_dir = settings.store.state_directory
        self.db_path = self.state_dir / DB_FILE_NAME
        self.web_url: str | None = None
        self._patient = settings.patient.reference
        self._placement = settings.patient.placement
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._state = _State(started_at=clock.now())
        self._store: Store | None = None
        self._writer_store: Store | None = None
        self._writer: ReadingWriter | None = None
        self._rule: FeverRule | None = None
        self._outbound: Outbound | None = None
        self._deliverer: Deliverer | None = None
        self._senders: list[ClinicSender | NotifySender] = []
        self._web_runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timed: TimedWork | None = None
        self._chores: set[asyncio.Task[None]] = set()
        self._notify_sender: Sender | None = None  # the caregiver's URL, for direct sends
        self._storage_told: set[str] = set()  # trouble episodes (their start) told or telling
        self._direct: set[asyncio.Task[None]] = set()  # storage notices being sent directly
        self._sent_directly: list[tuple[OutboxEntry, datetime, int]] = []  # not yet logged

    # -- public ---------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The event loop's connection to the log (open while running)."""
        if self._store is None:
            raise DaemonError("the daemon is not running")
        return self._store

    @property
    def ready(self) -> asyncio.Event:
        """Set once the log is open, the rule rebuilt and the link started."""
        return self._ready

    @property
    def readings_received(self) -> int:
        return self._state.readings_received

    @property
    def readings_durable(self) -> int:
        return self._state.readings_durable

    def stop(self) -> None:
        """Ask for a clean stop (what SIGTERM does); :meth:`run` returns when it is done."""
        self._stop.set()

    async def run(self) -> None:
        """Run until :meth:`stop` (or cancellation); always stops cleanly on the way out."""
        self._loop = asyncio.get_running_loop()
        try:
            await self._start()
            await self._stop.wait()
        finally:
            await self._shutdown()

    async def report_symptoms(self, symptoms: Sequence[Symptom], note: str) -> str:
        """Queue the clinic's urgent alert for a symptom report, then log it; returns its id.

        The alert goes in first: if power fails between the two writes, the clinic still hears.

        Raises:
            PayloadError: no symptom, or "other" without a note.
        """
        now = self._clock.now()
        outbound = self._require_outbound()
        alert = payloads.symptom_alert(outbound.context, symptoms, note, now)
        entry = clinic_entry(alert, outbound.context, outbound.clinic_format, now)
        self._enqueue([entry])
        self.store.add_symptom_report(now, alert.symptoms, alert.note)
        return entry.id

    def pause(self, duration: timedelta, reason: str) -> None:
        """Off the body on purpose from now (issue 7, ``portwatch pause``): a note in the log."""
        now = self._clock.now()
        self.store.add_note(now, now + duration, reason)

    # -- start ----------------------------------------------------------------------------

    async def _start(self) -> None:
        settings = self.settings
        try:
            self._store = await asyncio.to_thread(Store.open, self.db_path)
            self._writer_store = await asyncio.to_thread(Store.open, self.db_path)
        except StoreError as exc:
            raise DaemonError(f"cannot open the log: {exc}") from exc
        quiet = settings.notify.quiet_hours
        self._outbound = Outbound(
            context=self._context(),
            clinic_format=settings.clinic.format,
            zone=settings.zone,
            quiet=None if quiet is None else QuietHours(quiet.start, quiet.end, settings.zone),
            patient_channel=settings.notify.patient_url is not None,
        )
        await self._rebuild()
        self._writer = ReadingWriter(
            self._writer_store,
            self._clock,
            on_durable=self._on_durable,
            on_trouble=self._on_store_trouble,
            durable_within_s=settings.store.durable_within.total_seconds(),
        )
        # Delivery uses the writer's connection on its thread: no fsync blocks the loop.
        self._deliverer = Deliverer(
            self._writer_store,
            self._make_senders(),
            self._clock,
            self._on_stuck,
            escalate_after=settings.clinic.escalate_after,
        )
        from portwatch.ble.link import Link

        link = Link(
            clock=self._clock,
            radio=self._radio,
            state_dir=self.state_dir,
            sink=self._sink,
            zone=settings.zone,
            adapter=self._radio.adapter(settings.bluetooth.adapter, self._clock),
        )
        scheduler = self._make_scheduler()
        self._timed = TimedWork(
            settings,
            self._require_writer_store(),
            self._notice_sink(),
            scheduler,
            self._clock,
            fever_pending=self._fever_pending,
            fever_open=lambda: self._state.fever_open,
        )
        await self._timed.start()
        self._spawn("link", link.run)
        self._spawn("store", self._writer.run)
        self._spawn("delivery", self._deliverer.run)
        self._spawn("schedule", scheduler.run)
        if self._watchdog_s:
            self._spawn("watchdog", self._pet_watchdog)
        await self._start_web()
        self._notify(self._notifier.ready, self._status_text())
        _LOGGER.info("portwatch %s running; log at %s", __version__, self.db_path)
        self._ready.set()
        if self._hooks.on_ready is not None:
            self._hooks.on_ready()

    def _context(self) -> payloads.AlertContext:
        """Who alerts are about and for, naming the pinned thermometer when there is one."""
        settings = self.settings
        if settings.clinic.recipient is None:
            settings = settings.model_copy(
                update={"clinic": settings.clinic.model_copy(update={"recipient": NO_RECIPIENT})}
            )
        context = alert_context(settings, self._gateway_id)
        try:
            pin = load_pin(self.state_dir)
        except PinError:
            _LOGGER.debug("no pinned thermometer yet; alerts name the configured address")
            return context
        thermometer = payloads.Thermometer(address=pin.address, model=pin.name)
        return dataclasses.replace(context, thermometer=thermometer)

    async def _rebuild(self) -> None:
        """Replay the log into a new rule (fever-rule.md §6) and record what it decides.

        Decisions already in the log are skipped by ``record_decisions`` (idempotent on
        their ids), so nothing is sent twice; a decision lost to a crash between a
        reading's commit and its decision's commit is made and recorded now.
        """
        settings = rule_settings(self.settings)
        pinned = self.settings.bluetooth.address
        with_pin = None
        try:
            with_pin = load_pin(self.state_dir).address
        except PinError:
            with_pin = pinned
        rule = FeverRule(
            settings, patient=self._patient, placement=self._placement, pinned_device=with_pin
        )
        store = self._writer_store
        assert store is not None
        made = await store.run(partial(self._replay, store, rule))
        self._rule = rule
        made.extend(rule.advance(self._clock.now()))
        self._decide(made)
        _LOGGER.info("rule rebuilt from %s logged readings", self._state.readings_replayed)

    def _replay(self, store: Store, rule: FeverRule) -> list[Decision]:
        latest = store.latest_reading()
        made: list[Decision] = []
        if latest is None:
            return made
        start = self._placement - REBUILD_BEFORE_PLACEMENT
        end = latest.reading.time + timedelta(microseconds=1)
        while start < end:
            chunk = store.readings(start, min(start + REBUILD_CHUNK, end))
            chunk.sort(key=lambda stored: stored.id)  # the order they were received in
            for stored in chunk:
                made.extend(rule.feed(stored.reading, now=stored.reading.received_at))
                self._note_reading(stored.reading)
            self._state.readings_replayed += len(chunk)
            start += REBUILD_CHUNK
        return made

    def _make_senders(self) -> dict[str, Sender]:
        senders: dict[str, Sender] = {}
        if self._clinic is not None:
            clinic = ClinicSender(self._clinic)
            senders[Channel.CLINIC] = clinic
            self._senders.append(clinic)
        # One queue and sender per person (alerts.md, "Who is told what"), each retried like
        # clinic alerts; without a patient URL the patient's notices are queued for the
        # caregiver's (outbound.notice_channels).
        urls = {
            Channel.NOTIFY: self.settings.notify.caregiver_url,
            Channel.PATIENT: self.settings.notify.patient_url,
        }
        for channel, url in urls.items():
            if url is not None:
                notify = NotifySender(NotifyEndpoint(url=url))
                senders[channel] = notify
                self._senders.append(notify)
        caregiver_url = self.settings.notify.caregiver_url
        if caregiver_url is not None:
            # Its own session: the notify channel's loop may be POSTing on the other at once.
            direct = NotifySender(NotifyEndpoint(url=caregiver_url))
            self._notify_sender = direct
            self._senders.append(direct)
        return senders

    def _make_scheduler(self) -> Scheduler:
        """The daemon's own jobs; TimedWork adds reminders, the watch and the summary."""
        settings = self.settings
        now = self._clock.now()
        scheduler = Scheduler(self._clock)
        scheduler.add("rule", every(TICK, start=now + TICK), self._job(self._tick))
        scheduler.add("status", every(TICK, start=now + TICK), self._job(self._update_status))
        if self._clinic is not None and settings.clinic.format is payloads.ClinicFormat.JSON:
            # alerts.md: the heartbeat travels on the JSON channel only.
            beat = settings.clinic.heartbeat_every
            scheduler.add("heartbeat", every(beat, start=now + beat), self._job(self._heartbeat))
        return scheduler

    def _notice_sink(self) -> NoticeSink:
        """Timed notices into the outbox's notify channels; delivery is woken at once."""
        put = outbox_sink(
            self._require_writer_store(),
            patient_channel=self.settings.notify.patient_url is not None,
        )

        async def sink(notice: Notice, key: str, now: datetime) -> None:
            await put(notice, key, now)
            _LOGGER.info("notice %s", notice.kind.value)
            if self._hooks.on_notice is not None:
                self._hooks.on_notice(notice)
            if self._deliverer is not None:
                self._deliverer.wake()

        return sink

    def _fever_pending(self) -> bool:
        until = self._state.fever_pending_until
        return until is not None and self._clock.now() < until

    @staticmethod
    def _job(func: Callable[[datetime], None]) -> Callable[[datetime], Awaitable[None]]:
        async def job(due: datetime) -> None:
            func(due)

        return job

    async def _start_web(self) -> None:
        if self._web_token is None:
            return
        from aiohttp import web as aioweb

        from portwatch.web.app import WebSettings, make_app
        from portwatch.web.source import ClinicTarget
        from portwatch.web.view import DisplaySettings

        host = self.settings.web.host  # an IPv6 address without its brackets (issue 21)
        web_port = self.settings.web.port if self._web_port is None else self._web_port
        app = make_app(
            self.db_path,
            WebSettings(token=self._web_token, host=host, port=web_port),
            DisplaySettings(
                threshold_f=self.settings.rule.threshold_f,
                placement=self._placement,
                healing_days=self.settings.rule.healing_days,
                unit=self.settings.display.unit,
                zone=self.settings.zone,
                patient=self._patient,
                pair_window=self.settings.rule.pair_window,
                rule_settings=rule_settings(self.settings).as_pairs(),
            ),
            ClinicTarget(self._require_outbound().context, self._require_outbound().clinic_format),
            self._clock,
            submit=self._submit_from_page,
            next_reminder=self._next_reminder,
        )
        runner = aioweb.AppRunner(app, access_log=None)
        await runner.setup()
        site = aioweb.TCPSite(runner, host, web_port)
        await site.start()
        self._web_runner = runner
        bound = runner.addresses[0]
        self.web_url = f"http://{f'[{host}]' if ':' in host else host}:{bound[1]}/"
        _LOGGER.info("caregiver page at %s", self.web_url)

    # -- the reading path ------------------------------------------------------------------

    async def _sink(self, item: Reading | LinkEvent) -> None:
        """The link's sink: readings to the writer, events to the log."""
        if isinstance(item, Reading):
            self._state.readings_received += 1
            if self._hooks.on_received is not None:
                self._hooks.on_received(item)
            try:
                self._require_writer().submit(item)
            except StoreError as exc:
                _LOGGER.warning("store: a reading was not taken: %s", exc)
            return
        if item.kind is LinkEventKind.CONNECTED:
            self._state.link_up = True
        elif item.kind is LinkEventKind.DISCONNECTED:
            self._state.link_up = False
        elif item.kind is LinkEventKind.BATTERY and item.battery_percent is not None:
            self._state.battery_percent = item.battery_percent
        try:
            self.store.add_event(item)
        except StoreError as exc:
            _LOGGER.warning("store: link event %s not logged: %s", item.kind.value, exc)

    def _on_durable(self, batch: Sequence[StoredReading]) -> None:
        """A batch is durable: only now does the rule see it (design.md, "Nothing is lost")."""
        rule = self._require_rule()
        decisions: list[Decision] = []
        for stored in batch:
            decisions.extend(rule.feed(stored.reading, now=stored.reading.received_at))
            self._note_reading(stored.reading)
        self._state.readings_durable += len(batch)
        self._decide(decisions)
        timed = self._timed
        if timed is not None and batch:
            self._chore(timed.reading_arrived(batch[-1].reading))
        if self._hooks.on_durable is not None:
            self._hooks.on_durable(batch)

    def _note_reading(self, reading: Reading) -> None:
        if reading.invalid_reason is None and reading.celsius is not None:
            state = self._state
            if state.last_valid_at is None or reading.time > state.last_valid_at:
                state.last_valid_at = reading.time
                state.last_celsius = reading.celsius

    def _decide(self, decisions: list[Decision]) -> None:
        """Record decisions with their outbox rows in one transaction, then wake delivery.

        A log that cannot be written keeps them in memory and tries again on the next tick.
        """
        state = self._state
        if decisions:
            now = self._clock.now()
            entries = self._require_outbound().for_decisions(decisions, now)
            self._track_fever(decisions)
            state.unrecorded.append((decisions, entries))
        while state.unrecorded:
            batch, entries = state.unrecorded[0]
            try:
                self.store.record_decisions(batch, entries)
            except StoreError as exc:
                _LOGGER.warning("store: %s decisions wait to be recorded: %s", len(batch), exc)
                return
            state.unrecorded.pop(0)
            for decision in batch:
                if decision.type is not DecisionType.READING_INVALID:
                    _LOGGER.info("decided %s (%s)", decision.type.value, decision.id)
            if self._hooks.on_recorded is not None:
                self._hooks.on_recorded(batch, entries)
            if entries and self._deliverer is not None:
                self._deliverer.wake()

    def _track_fever(self, decisions: Sequence[Decision]) -> None:
        state = self._state
        for decision in decisions:
            if decision.type is DecisionType.ELEVATED_FIRST:
                # alerts.md: the stale-data watch speaks sooner while a fever awaits its pair.
                state.fever_pending_until = decision.time + self.settings.rule.pair_window
                due = decision.due or decision.time + self.settings.rule.min_separation
                state.fever_text = f"recheck due {clock_text(due, self.settings.zone)}"
            elif decision.type in (DecisionType.FEVER_CONFIRMED, DecisionType.FEVER_ONGOING):
                state.fever_pending_until = None
                state.fever_text = "fever confirmed"
                state.fever_open = True
            elif decision.type is DecisionType.FEVER_RESOLVED:
                state.fever_pending_until = None
                state.fever_text = None
                state.fever_open = False

    def _chore(self, work: Awaitable[None]) -> None:
        """A short piece of work started from a callback; owned here, its failure logged."""

        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("a chore failed; the next reading or tick tries again")

        task = asyncio.create_task(run())
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _enqueue(self, entries: Sequence[OutboxEntry]) -> None:
        self.store.enqueue(entries)
        if self._hooks.on_recorded is not None:
            self._hooks.on_recorded((), entries)
        if self._deliverer is not None:
            self._deliverer.wake()

    # -- timed work -----------------------------------------------------------------------

    def _tick(self, due: datetime) -> None:
        del due
        self._decide(self._require_rule().advance(self._clock.now()))

    def _next_reminder(self, now: datetime) -> tuple[datetime, str] | None:
        settings = self.settings
        when = next_reminder_time(
            self._placement,
            now,
            zone=settings.zone,
            at=settings.notify.reminders_at,
            port_in_regular_use=settings.patient.port_in_regular_use,
        )
        return None if when is None else (when, "care reminder")

    def _heartbeat(self, due: datetime) -> None:
        del due
        now = self._clock.now()
        outbound = self._require_outbound()
        state = payloads.GatewayState(
            started_at=self._state.started_at,
            thermometer_connected=self._state.link_up,
            last_reading_at=self._state.last_valid_at,
            battery_percent=self._state.battery_percent,
            monitoring_until=self.settings.monitoring_ends,
        )
        alert = payloads.heartbeat_alert(outbound.context, state, now)
        self._enqueue([clinic_entry(alert, outbound.context, payloads.ClinicFormat.JSON, now)])

    def _update_status(self, due: datetime) -> None:
        del due
        self._notify(self._notifier.status, self._status_text())

    def _status_text(self) -> str:
        state = self._state
        return status_line(
            StatusFacts(
                placement=self._placement,
                healing_days=self.settings.rule.healing_days,
                link_up=state.link_up,
                last_reading_time=state.last_valid_at,
                last_reading_celsius=state.last_celsius,
                fever=state.fever_text,
                clock_trusted=self._clock_trusted(),
            ),
            self._clock.now(),
        )

    def _clock_trusted(self) -> bool:
        """False while the clock only estimates the time or holds after a jump."""
        return self._clock.trust is ClockTrust.SYNCHRONISED

    async def _pet_watchdog(self) -> None:
        # systemd's watchdog counts real seconds, whatever clock the program runs on.
        interval = self._watchdog_s or RESTART_MAX_S
        while True:
            self._notify(self._notifier.watchdog)
            await asyncio.sleep(interval)

    # -- trouble --------------------------------------------------------------------------

    def _on_stuck(self, row: OutboxRow, reason: StuckReason, answer: str) -> None:
        """Tell the caregiver about a clinic alert that is rejected or stuck (alerts.md)."""
        if row.channel != Channel.CLINIC:
            return  # the caregiver's own channel cannot carry news of its own trouble
        now = self._clock.now()
        what = f"the {row.kind} alert"
        if reason is StuckReason.REJECTED:
            kind, facts = NoticeKind.ALERT_REFUSED, {"what": what, "why": answer}
        else:
            since = clock_text(row.created_at, self.settings.zone)
            kind, facts = NoticeKind.ALERT_STUCK, {"what": what, "since": since}
        self._enqueue([notice_entry(kind, facts, key=str(row.id), patient=self._patient, now=now)])

    def _on_store_trouble(self, trouble: StoreTrouble | None) -> None:
        """Tell the caregiver, once per episode, that the log cannot be written (issue 4).

        The outbox lives in that same log, so the notice does not go through it: it is
        POSTed straight to the caregiver's URL from memory (:meth:`_tell_directly`), retried
        as outbox rows are, and logged as delivered once the log takes writes again. The
        episode is keyed by its start (``trouble.since``); later reports of it add nothing.
        Without a caregiver URL there is no one to POST to: the notice is queued in the
        outbox if the log takes it (``portwatch alerts list`` shows it) and the journal
        carries the WARNING either way.
        """
        if trouble is None:
            if self._sent_directly:
                self._chore(self._record_sent_directly())
            return
        key = trouble.since.isoformat()
        if key in self._storage_told:
            return
        entry = notice_entry(
            NoticeKind.STORAGE_TROUBLE,
            {"what": trouble.error},
            key=key,
            patient=self._patient,
            now=self._clock.now(),
        )
        if self._notify_sender is not None:
            self._storage_told.add(key)
            task = asyncio.create_task(
                self._tell_directly(entry, self._notify_sender), name="portwatch-storage-notice"
            )
            self._direct.add(task)
            task.add_done_callback(self._direct.discard)
            return
        try:
            self._enqueue([entry])
        except StoreError as exc:
            _LOGGER.warning(
                "store: no caregiver URL is set and the log cannot queue the storage notice "
                "(%s): only this journal line tells anyone",
                exc,
            )
            return
        self._storage_told.add(key)

    async def _tell_directly(self, entry: OutboxEntry, sender: Sender) -> None:
        """POST one storage notice from memory until the caregiver's URL accepts it.

        Retried with the outbox's backoff (alerts.md, "Delivery"); a permanent refusal is a
        setting a person must fix, said at WARNING. Ends with the daemon (cancelled at stop).
        """
        rng = random.Random()
        attempts = 0
        while True:
            row = OutboxRow.unsent(entry, attempts)
            answer = await sender.send(row, self._clock.now())
            attempts += 1
            outcome = classify(answer)
            if outcome is Outcome.DELIVERED and answer.status_code is not None:
                _LOGGER.info("storage notice %s sent to the caregiver directly", entry.id)
                self._sent_directly.append((entry, self._clock.now(), answer.status_code))
                await self._record_sent_directly()
                return
            if outcome is Outcome.PERMANENT:
                _LOGGER.warning(
                    "the caregiver's URL refused the storage notice with HTTP %s; "
                    "check notify.caregiver_url",
                    answer.status_code,
                )
                return
            delay_s = backoff_for(attempts, answer.retry_after_s, rng)
            _LOGGER.debug(
                "storage notice attempt %d: %s; retry in %.1f s",
                attempts,
                answer.describe(),
                delay_s,
            )
            await self._clock.sleep(delay_s)

    async def _record_sent_directly(self) -> None:
        """Log the notices sent directly as delivered, if the log takes writes again.

        Each is queued held for :data:`SENT_DIRECTLY_HOLD`, then marked delivered: at no
        moment can the deliverer see it due, so it is never POSTed a second time.
        """
        waiting, self._sent_directly = self._sent_directly, []  # one recorder at a time
        for index, (entry, at, status_code) in enumerate(waiting):
            held_entry = dataclasses.replace(entry, not_before=at + SENT_DIRECTLY_HOLD)

            def record(e: OutboxEntry = held_entry, a: datetime = at, c: int = status_code) -> None:
                store = self._require_writer_store()
                store.enqueue([e])
                store.outbox_mark_delivered(e.id, a, c)

            try:
                await self._require_writer_store().run(record)
            except StoreError as exc:
                _LOGGER.debug("store: a storage notice sent directly waits to be logged: %s", exc)
                self._sent_directly[:0] = waiting[index:]
                return

    def _notify(self, send: Callable[..., bool], *args: str) -> None:
        try:
            send(*args)
        except OSError as exc:
            _LOGGER.debug("systemd notify failed: %s", exc)

    def _submit_from_page(self, symptoms: Sequence[Symptom], note: str, now: datetime) -> str:
        """The page's symptom form, called from a worker thread: run it on the event loop."""
        del now  # the daemon's clock times the report, as it times everything it logs
        loop = self._loop
        if loop is None:
            raise DaemonError("the daemon is not running")
        future = asyncio.run_coroutine_threadsafe(self.report_symptoms(symptoms, note), loop)
        return future.result(timeout=REPORT_TIMEOUT_S)

    # -- supervision and stop ---------------------------------------------------------------

    def _spawn(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        self._tasks[name] = asyncio.create_task(
            self._supervise(name, factory), name=f"portwatch-{name}"
        )

    async def _supervise(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        """Run one stage forever; a failure is logged and the stage restarted (issue 7)."""
        delay_s = RESTART_FIRST_S
        while True:
            try:
                await factory()
                _LOGGER.debug("%s: stage returned; starting it again", name)
            except asyncio.CancelledError:
                raise
            except Exception:
                if delay_s == RESTART_FIRST_S:
                    _LOGGER.exception("%s: stage failed; restarting it", name)
                else:
                    _LOGGER.debug("%s: stage failed again", name, exc_info=True)
            await self._clock.sleep(delay_s)
            delay_s = min(delay_s * 2, RESTART_MAX_S)

    async def _cancel(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_STEP_S)

    async def _shutdown(self) -> None:
        """Stop in the order that loses nothing: no new readings, waiting ones written."""
        self._notify(self._notifier.stopping)
        await self._cancel("link")
        await self._cancel("store")
        if self._writer is not None:
            try:
                async with asyncio.timeout(STOP_STEP_S):
                    await self._writer.close()
            except TimeoutError:
                _LOGGER.warning("store: %s readings not written at stop", self._writer.buffered)
        for task in self._direct:
            task.cancel()  # a storage notice not yet accepted: the next start tells again
        if self._chores or self._direct:
            await asyncio.wait(self._chores | self._direct, timeout=STOP_STEP_S)
        for name in list(self._tasks):
            await self._cancel(name)
        if self._web_runner is not None:
            await self._web_runner.cleanup()
        for sender in self._senders:
            sender.close()
        if self._writer_store is not None:
            self._writer_store.close()  # after the work in flight on its writer thread
        if self._store is not None:
            self._store.close()
            self._store = None
        _LOGGER.info(
            "stopped: %s readings received, %s written",
            self._state.readings_received,
            self._state.readings_durable,
        )

    # -- small helpers ------------------------------------------------------------------------

    def _require_writer(self) -> ReadingWriter:
        if self._writer is None:
            raise DaemonError("the daemon is not running")
        return self._writer

    def _require_writer_store(self) -> Store:
        if self._writer_store is None:
            raise DaemonError("the daemon is not running")
        return self._writer_store

    def _require_rule(self) -> FeverRule:
        if self._rule is None:
            raise DaemonError("the daemon is not running")
        return self._rule

    def _require_outbound(self) -> Outbound:
        if self._outbound is None:
            raise DaemonError("the daemon is not running")
        return self._outbound
