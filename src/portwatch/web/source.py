"""Reading the log into what the pages and the terminal show (the I/O edge of :mod:`web`).

Each function takes an open :class:`~portwatch.log.store.Store` (a reader, except for
:func:`submit_symptom_report`) and a ``now``; nothing here reads the clock. The
:class:`StorePages` class opens a read-only connection per page, in the worker thread
that calls it, and closes it before returning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from portwatch.alerts.payloads import AlertKind
from portwatch.clock import ClockTrust
from portwatch.fever.settings import DEFAULTS, RuleSettings
from portwatch.fever.windows import summarise
from portwatch.log.store import (
    OutboxEntry,
    OutboxRow,
    OutboxStatus,
    Store,
    StoreError,
)
from portwatch.model import (
    Decision,
    DecisionType,
    LinkEvent,
    LinkEventKind,
    Observation,
    Reading,
    ReadingKind,
    Symptom,
)
from portwatch.period import day_start
from portwatch.web.chartdata import chart_data, unused_reason
from portwatch.web.text import (
    SYMPTOM_LABEL,
    decision_line,
    event_line,
    kind_words,
    reading_line,
)
from portwatch.web.view import (
    AlertRow,
    Delivery,
    DisplaySettings,
    LogLine,
    StatusData,
    SummaryData,
    SymptomReport,
    episodes_from,
    fever_state,
)

if TYPE_CHECKING:
    # The clinic's side (outbox rendering, signing, delivery) is imported where a report
    # is made, not at import time (issue 20: `portwatch status` reads the log only).
    from portwatch.alerts.payloads import AlertContext, ClinicFormat

__all__ = [
    "ClinicTarget",
    "StorePages",
    "alert_rows",
    "chart_data",
    "day_range",
    "delivery",
    "is_alert",
    "log_lines",
    "status_data",
    "stream_observations",
    "submit_symptom_report",
    "summary_data",
]

# The log page shows one day unless asked otherwise (ten days of a stream is too long to read).
DEFAULT_LOG_SPAN: Final = timedelta(days=1)
_TICK: Final = timedelta(microseconds=1)


def day_range(
    settings: DisplaySettings, now: datetime, day: int | None
) -> tuple[datetime, datetime]:
    """[since, until) of day N of the monitored period (its local calendar day, the
    placement's date being day 1: :mod:`portwatch.period`), or the whole period for None."""
    since, until = settings.period(now)
    if day is None:
        return since, until
    if settings.placement is None:
        start = since + timedelta(days=day - 1)
        return start, start + timedelta(days=1)
    start = day_start(settings.placement, day, settings.zone)
    return start.astimezone(UTC), day_start(settings.placement, day + 1, settings.zone).astimezone(
        UTC
    )


def last_day(settings: DisplaySettings, now: datetime) -> int:
    """The number of the period's last (partial) calendar day: 11 for a 10-day period that
    did not start at midnight."""
    _, until = settings.period(now)
    return settings.day_of_period(until) or settings.healing_days


def _alert_summary(row: OutboxRow) -> str:
    """The alert's one-line summary from its body: the JSON channel's ``data.summary``, the
    FHIR Communication's first payload, or a notice's title; the kind in words otherwise."""
    fallback = kind_words(row.kind, row.channel)
    try:
        body = json.loads(row.body)
    except ValueError:
        return fallback
    if not isinstance(body, dict):
        return fallback
    if isinstance(body.get("title"), str):  # a notice (alerts/delivery.notification_body)
        return str(body["title"])
    data = body.get("data")  # the Standard Webhooks envelope of the JSON channel
    if isinstance(data, dict) and isinstance(data.get("summary"), str):
        return str(data["summary"])
    if isinstance(body.get("summary"), str):
        return str(body["summary"])
    for entry in body.get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Communication":
            payload = resource.get("payload") or [{}]
            text = payload[0].get("contentString") if isinstance(payload[0], dict) else None
            if isinstance(text, str):
                return text
    return fallback


def _alert_row(row: OutboxRow) -> AlertRow:
    return AlertRow(
        id=row.id,
        channel=row.channel,
        kind=row.kind,
        priority=row.priority,
        created_at=row.created_at,
        status=row.status.value,
        attempts=row.attempts,
        last_status=row.last_status,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        summary=_alert_summary(row),
    )


# alerts.md: the gateway heartbeat tells the clinic the gateway is alive. It is not an
# alert: no list shows it; the status says when the clinic was last reached instead.
HEARTBEAT_KIND: Final = AlertKind.HEARTBEAT.value
CLINIC_CHANNEL: Final = "clinic"


def is_alert(row: OutboxRow) -> bool:
    """Whether a row is something a person was told or the clinic alerted (not a heartbeat)."""
    return row.kind != HEARTBEAT_KIND


def alert_rows(store: Store) -> list[AlertRow]:
    """Every outbox entry but heartbeats, newest first."""
    rows = [r for r in store.outbox_all() if is_alert(r)]
    return [_alert_row(r) for r in sorted(rows, key=lambda r: r.created_at, reverse=True)]


def delivery(
    rows: Sequence[OutboxRow], now: datetime, settings: DisplaySettings | None = None
) -> Delivery:
    """The outbox read for people at `now` (:class:`Delivery`); `settings` says which
    notice channels have an address (without it, all are taken as set up)."""
    addressed = settings.addressed if settings is not None else (lambda channel: True)
    open_statuses = (OutboxStatus.PENDING, OutboxStatus.FAILED)
    clinic = [r for r in rows if r.channel == CLINIC_CHANNEL]
    reached = max((r.delivered_at for r in clinic if r.delivered_at is not None), default=None)
    # Silent: tried and still being retried. A refused row had an answer (the clinic is
    # reachable, it said no) and is not retried: it is "REFUSED", never "silent".
    tried = [
        r.created_at
        for r in clinic
        if r.status is OutboxStatus.PENDING
        and r.attempts > 0
        and (reached is None or r.created_at > reached)
    ]
    notices = [r for r in rows if r.channel != CLINIC_CHANNEL and r.status in open_statuses]
    waiting = [r for r in notices if addressed(r.channel)]
    held = [r.not_before for r in waiting if r.not_before is not None and r.not_before > now]
    return Delivery(
        clinic_undelivered=[
            _alert_row(r)
            for r in sorted(clinic, key=lambda r: r.created_at)
            if r.status in open_statuses and is_alert(r)
        ],
        notices_waiting=len(waiting),
        notices_held_until=max(held, default=None),
        clinic_last_reached=reached,
        clinic_silent_since=min(tried, default=None),
        notices_unaddressed=len(notices) - len(waiting),
    )


def status_data(
    store: Store,
    settings: DisplaySettings,
    now: datetime,
    next_reminder: tuple[datetime, str] | None = None,
) -> StatusData:
    """The one-screen status at `now`."""
    since, _ = settings.period(now)
    latest = store.latest_reading()
    link: LinkEvent | None = None
    battery: LinkEvent | None = None
    for event in store.events(since - timedelta(days=1), now + _TICK):
        if event.kind in (LinkEventKind.CONNECTED, LinkEventKind.DISCONNECTED):
            link = event
        elif event.kind is LinkEventKind.BATTERY:
            battery = event
    decisions = store.decisions(since - settings.pair_window, now + _TICK)
    state, episode_since, due = fever_state(decisions, now, settings.pair_window)
    told = delivery(store.outbox_all(), now, settings)
    return StatusData(
        now=now,
        settings=settings,
        latest=latest.reading if latest is not None else None,
        link=link,
        battery=battery,
        episode_state=state,
        episode_since=episode_since,
        recheck_due=due,
        clinic_undelivered=told.clinic_undelivered,
        next_reminder=next_reminder,
        notices_waiting=told.notices_waiting,
        notices_held_until=told.notices_held_until,
        clinic_last_reached=told.clinic_last_reached,
        clinic_silent_since=told.clinic_silent_since,
        notices_unaddressed=told.notices_unaddressed,
    )


def stream_observations(
    stream: Sequence[Reading], rule: RuleSettings = DEFAULTS
) -> list[Observation]:
    """Stream samples as observations (fever-rule.md §2), for display and export.

    The rule's own windowing (:func:`portwatch.fever.windows.summarise`) with the clinic's
    ``window`` and ``min_samples``: dense windows give the median of all their samples
    (each exact repeat once), a slower stream's samples are observations one by one. The
    rule's own observations, with the site offset, are what alert.
    """
    return summarise(stream, rule)


def log_lines(
    store: Store,
    settings: DisplaySettings,
    since: datetime,
    until: datetime,
    *,
    events: bool,
) -> list[LogLine]:
    """Readings (observations for streams), and link events and decisions when asked, in order.

    Spot and provisional readings are listed one by one, invalid ones with their reason.
    Stream samples are listed per window as the rule sees them (fever-rule.md §2, with the
    settings in force): the median of at least ``min_samples``; invalid ones one by one.
    """
    threshold_c, unit = settings.threshold_c, settings.unit
    lines: list[LogLine] = []
    stream: list[Reading] = []
    for stored in store.readings(since, until):
        reading = stored.reading
        if reading.kind is ReadingKind.STREAM and reading.invalid_reason is None:
            stream.append(reading)
            continue
        text, elevated = reading_line(reading, threshold_c, unit)
        elevated = elevated and reading.kind is not ReadingKind.PROVISIONAL
        reason = unused_reason(reading, settings, until)
        if reason is not None and reading.invalid_reason is None:
            # The line names the device already: "from X, not the pinned ..." says it twice.
            said = reason.removeprefix(f"from {reading.device}, ")
            text += f" (not used: {said})"
        lines.append(LogLine(reading.time, "reading", text, elevated and reason is None))
    for obs in stream_observations(stream, RuleSettings.from_pairs(settings.rule_settings)):
        as_reading = Reading(
            device=obs.device,
            kind=ReadingKind.STREAM,
            value=obs.value,
            unit=obs.unit,
            celsius=obs.celsius,
            time=obs.time,
            received_at=obs.time,
            site=obs.site,
        )
        text, elevated = reading_line(as_reading, threshold_c, unit)
        if obs.samples > 1:
            text += f" (median of {obs.samples} samples)"
        lines.append(LogLine(obs.time, "observation", text, elevated))
    if events:
        lines.extend(LogLine(e.time, "event", event_line(e)) for e in store.events(since, until))
        lines.extend(
            LogLine(
                d.time,
                "decision",
                decision_line(d, settings.zone, settings.unit),
                d.type in (DecisionType.FEVER_CONFIRMED, DecisionType.FEVER_ONGOING),
            )
            for d in store.decisions(since, until)
        )
    lines.sort(key=lambda line: line.time)
    return lines


def summary_data(store: Store, settings: DisplaySettings, now: datetime) -> SummaryData:
    """The visit summary of the whole monitored period, as of `now`."""
    since, until = settings.period(now)
    chart = chart_data(store, settings, now, since, until, exact_gaps=True)
    decisions: Sequence[Decision] = chart.decisions
    devices: dict[tuple[str, str], None] = {}
    latest = store.latest_reading()
    for o in [o for d in decisions for o in d.observations]:
        devices[(o.device, o.site.value if o.site else "site not reported")] = None
    if latest is not None:
        r = latest.reading
        devices[(r.device, r.site.value if r.site else "site not reported")] = None
    return SummaryData(
        now=now,
        settings=settings,
        chart=chart,
        episodes=episodes_from(decisions),
        decisions=[d for d in decisions if d.type is not DecisionType.READING_INVALID],
        symptoms=[
            SymptomReport(s.time, tuple(SYMPTOM_LABEL[x] for x in s.symptoms), s.note)
            for s in store.symptom_reports(since - timedelta(days=1), until + timedelta(days=1))
        ],
        alerts=[_alert_row(r) for r in store.alerts(since - timedelta(days=1), now + _TICK)],
        gaps=chart.gaps,
        devices=list(devices),
        reading_count=store.reading_count(),
    )


@dataclass(frozen=True, slots=True)
class ClinicTarget:
    """Who a symptom report is about and in which format the clinic takes it (alerts.md)."""

    context: AlertContext
    format: ClinicFormat


def symptom_entry(
    symptoms: Sequence[Symptom], note: str, now: datetime, target: ClinicTarget
) -> OutboxEntry:
    """The urgent clinic alert for a symptom report, rendered as the clinic takes it.

    Its identifier derives from the patient, the time and the symptoms, so submitting the
    same report twice (a double tap) queues one alert.

    Raises:
        PayloadError: no symptom, or "other" without a note.
    """
    from portwatch.alerts.outbox import clinic_entry
    from portwatch.alerts.payloads import symptom_alert

    alert = symptom_alert(target.context, symptoms, note, now)
    return clinic_entry(alert, target.context, target.format, now)


def submit_symptom_report(
    store: Store,
    symptoms: Sequence[Symptom],
    note: str,
    now: datetime,
    *,
    target: ClinicTarget,
) -> OutboxEntry:
    """Queue the clinic's urgent alert, then log the report; returns the queued entry.

    The alert goes in first: if power fails between the two writes, the clinic still hears.

    Raises:
        PayloadError: no symptom, or "other" without a note.
        StoreError: the log cannot be written.
    """
    entry = symptom_entry(symptoms, note, now, target)
    store.enqueue([entry])
    store.add_symptom_report(now, symptoms, note)
    return entry


class StorePages:
    """:class:`~portwatch.web.app.Pages` over the log at `path`.

    One read-only connection is opened on the first page and kept (opening runs
    ``PRAGMA quick_check``, which costs about 0.4 s on ten days of a 1/s stream); pages
    take turns on it under a lock, from whichever worker thread builds them. A store error
    drops the connection so that the next page opens (and checks) it afresh.
    """

    def __init__(
        self,
        path: Path,
        settings: DisplaySettings,
        target: ClinicTarget,
        *,
        submit: Callable[[Sequence[Symptom], str, datetime], str] | None = None,
        next_reminder: Callable[[datetime], tuple[datetime, str] | None] | None = None,
        clock_trust: Callable[[], ClockTrust] = lambda: ClockTrust.SYNCHRONISED,
    ) -> None:
        self._path = path
        self._settings = settings
        self._target = target
        self._submit = submit
        self._next_reminder = next_reminder
        self._clock_trust = clock_trust  # the now page says when times are not the wall's
        self._lock = threading.Lock()
        self._store: Store | None = None

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Store]:
        with self._lock:
            if self._store is None:
                self._store = Store.open_reader(self._path)
            try:
                yield self._store
            except StoreError:
                self._store.close()
                self._store = None
                raise

    def close(self) -> None:
        """Close the kept connection (the app calls this on shutdown)."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def now(self, now: datetime) -> str:
        from portwatch.web import pages  # the HTML: only when a page is asked for

        reminder = self._next_reminder(now) if self._next_reminder else None
        with self._reader() as store:
            status = status_data(store, self._settings, now, reminder)
        return pages.now_page(dataclasses.replace(status, clock=self._clock_trust()))

    def chart(self, now: datetime, day: int | None) -> str:
        from portwatch.web import pages

        settings = self._settings
        since, until = day_range(settings, now, day)
        with self._reader() as store:
            data = chart_data(store, settings, now, since, until)
        zoom = [("Whole period", "/chart")] + [
            (f"Day {n}", f"/chart?day={n}") for n in range(1, last_day(settings, now) + 1)
        ]
        heading = "Whole monitored period" if day is None else f"Day {day}"
        return pages.chart_page(data, zoom, settings, heading)

    def log(self, now: datetime, day: int | None, events: bool) -> str:
        from portwatch.web import pages

        settings = self._settings
        if day is None:
            since, until = now - DEFAULT_LOG_SPAN, now + _TICK
            heading = "Last 24 hours"
        else:
            since, until = day_range(settings, now, day)
            heading = f"Day {day}"
        with self._reader() as store:
            lines = log_lines(store, settings, since, until, events=events)
        days = [("Last 24 hours", "/log")] + [
            (f"Day {n}", f"/log?day={n}") for n in range(1, last_day(settings, now) + 1)
        ]
        return pages.log_page(lines, settings, heading, days)

    def alerts(self, now: datetime) -> str:
        from portwatch.web import pages

        with self._reader() as store:
            rows = store.outbox_all()
        listed = [_alert_row(r) for r in sorted(rows, key=lambda r: r.created_at, reverse=True)]
        alerts = [row for row in listed if row.kind != HEARTBEAT_KIND]
        return pages.alerts_page(alerts, self._settings, delivery(rows, now, self._settings))

    def summary(self, now: datetime) -> str:
        from portwatch.web import pages

        with self._reader() as store:
            return pages.summary_page(summary_data(store, self._settings, now))

    def report_form(
        self, done: str | None, error: str | None, ticked: Sequence[str] = (), note: str = ""
    ) -> str:
        from portwatch.web import pages

        return pages.report_page(self._settings, done=done, error=error, ticked=ticked, note=note)

    def submit_report(self, symptoms: Sequence[Symptom], note: str, now: datetime) -> str:
        if self._submit is not None:
            return self._submit(symptoms, note, now)
        with Store.open(self._path) as store:
            entry = submit_symptom_report(store, symptoms, note, now, target=self._target)
        return entry.id
