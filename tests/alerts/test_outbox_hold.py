"""The outbox's not-before time and notice routing, below the HTTP level (issue 7).

The queue policy (delivery.py) on rows, the routing table and the hold (outbound.py) on
decisions, the store's migration 3 on a real SQLite file of schema 2, and the timed work's
sink on the real log. The same behaviour over real HTTP is in test_notify_routes.py.
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from portwatch.alerts.delivery import Channel, held, next_due, next_wake
from portwatch.alerts.notices import Audience, NoticeKind, QuietHours, render
from portwatch.alerts.outbound import Outbound, notice_channels
from portwatch.alerts.payloads import AlertContext, ClinicFormat, Thermometer
from portwatch.log.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    OutboxEntry,
    OutboxRow,
    OutboxStatus,
    Store,
)
from portwatch.model import Decision, DecisionType, Observation, Unit
from portwatch.service.timed import outbox_sink

from .conftest import ADDRESS, make_row

ZONE = ZoneInfo("Europe/Berlin")
QUIET = QuietHours(time(22, 0), time(7, 0), ZONE)
NIGHT = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
QUIET_END = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
ESCALATE = timedelta(minutes=15)

CAREGIVER, PATIENT, BOTH = (
    frozenset({Audience.CAREGIVER}),
    frozenset({Audience.PATIENT}),
    frozenset({Audience.CAREGIVER, Audience.PATIENT}),
)
N, P = Channel.NOTIFY, Channel.PATIENT


# --- routing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("audiences", "patient_channel", "channels"),
    [
        (CAREGIVER, False, (N,)),
        (CAREGIVER, True, (N,)),
        (PATIENT, False, (N,)),
        (PATIENT, True, (P,)),
        (BOTH, False, (N,)),
        (BOTH, True, (N, P)),
    ],
)
def test_notice_channels_follow_alerts_md_when_patient_url_is_or_is_not_set(
    audiences: frozenset[Audience], patient_channel: bool, channels: tuple[Channel, ...]
) -> None:
    """Each reader's notices go to their URL; without the patient's, to the caregiver's."""
    assert notice_channels(audiences, patient_channel=patient_channel) == channels


# --- the hold on decisions ----------------------------------------------------------------


def _context() -> AlertContext:
    return AlertContext(
        patient="Patient/p-17",
        clinic="Organization/c",
        gateway_id="gw",
        gateway_version="0",
        thermometer=Thermometer(address=ADDRESS),
    )


def _decision(kind: DecisionType, *values: str) -> Decision:
    observations = tuple(
        Observation(
            time=NIGHT - timedelta(hours=4) * (len(values) - 1 - i),
            celsius=(float(v) - 32) * 5 / 9,
            value=Decimal(v),
            unit=Unit.FAHRENHEIT,
            device=ADDRESS,
        )
        for i, v in enumerate(values)
    )
    return Decision(
        id=uuid.uuid5(uuid.NAMESPACE_URL, kind.value),
        type=kind,
        time=NIGHT,
        summary="s",
        observations=observations,
        due=NIGHT + timedelta(hours=4) if kind is DecisionType.ELEVATED_FIRST else None,
    )


def _outbound(*, patient_channel: bool = True) -> Outbound:
    return Outbound(
        _context(), ClinicFormat.JSON, ZONE, quiet=QUIET, patient_channel=patient_channel
    )


def test_non_urgent_decision_notice_is_held_to_quiet_end_when_decided_at_night() -> None:
    """The hold is written into the row itself, so it is as durable as the decision."""
    (entry,) = _outbound().for_decisions([_decision(DecisionType.ELEVATED_FIRST, "100.6")], NIGHT)
    assert (entry.kind, entry.not_before) == (NoticeKind.ELEVATED_FIRST.value, QUIET_END)


def test_fever_rows_are_never_held_when_decided_at_night() -> None:
    """Quiet hours hold back only non-urgent notices; the clinic alert never waits."""
    entries = _outbound().for_decisions(
        [_decision(DecisionType.FEVER_CONFIRMED, "101.2", "101.4")], NIGHT
    )
    assert [(e.channel, e.not_before) for e in entries] == [("clinic", None), (N, None), (P, None)]


def test_resolved_clinic_alert_goes_at_once_while_its_notice_waits_when_decided_at_night() -> None:
    """The clinic hears of the end of a fever now; only the caregiver's notice waits."""
    entries = _outbound().for_decisions([_decision(DecisionType.FEVER_RESOLVED, "98.6")], NIGHT)
    assert [(e.channel, e.not_before) for e in entries] == [("clinic", None), (N, QUIET_END)]


def test_caregiver_row_keeps_its_id_when_patient_url_is_added() -> None:
    """A log queued before the patient URL existed must not get a second caregiver copy."""
    fever = [_decision(DecisionType.FEVER_CONFIRMED, "101.2", "101.4")]
    before = _outbound(patient_channel=False).for_decisions(fever, NIGHT)
    after = _outbound(patient_channel=True).for_decisions(fever, NIGHT)
    assert [e.id for e in before] == [e.id for e in after]


# --- the queue policy ------------------------------------------------------------------------


def _held(id: str, priority: str = "routine") -> OutboxRow:
    return make_row(
        id=id, channel=N.value, priority=priority, created_at=NIGHT,
        next_attempt_at=QUIET_END, not_before=QUIET_END,
    )  # fmt: skip


def test_next_due_skips_held_row_when_routine_row_behind_it_is_due() -> None:
    """A notice waiting for morning is out of the queue; it does not block the rows behind."""
    later = make_row(id="later", channel=N.value, priority="routine", created_at=NIGHT)
    row = next_due([_held("held"), later], NIGHT + timedelta(minutes=1))
    assert row is not None
    assert row.id == "later"


def test_next_due_never_forces_held_row_when_urgent_row_is_due() -> None:
    """An urgent row tries the head at once, but a held row is not the head before its time."""
    urgent = make_row(id="urgent", channel=N.value, priority="urgent", created_at=NIGHT)
    rows = [_held("held"), urgent]
    first = next_due(rows, NIGHT, ())
    second = next_due(rows, NIGHT, ("urgent",))
    assert (first and first.id, second) == ("urgent", None)


def test_next_due_sends_held_row_when_its_hold_ends() -> None:
    """At the end of quiet hours the row is an ordinary due row again."""
    row = next_due([_held("held")], QUIET_END)
    assert row is not None
    assert row.id == "held"


def test_next_wake_is_end_of_hold_when_only_held_rows_wait() -> None:
    """The deliverer wakes for the end of quiet hours, not before and not a minute late."""
    assert next_wake([_held("a"), _held("b")], ESCALATE, NIGHT) == QUIET_END


def test_next_wake_escalates_from_end_of_hold_when_first_attempt_after_it_fails() -> None:
    """Eight hours on hold are not eight hours of trying: escalation counts from 07:00."""
    failed = make_row(
        id="n", channel=N.value, priority="routine", created_at=NIGHT, not_before=QUIET_END,
        attempts=1, next_attempt_at=QUIET_END + timedelta(hours=1),
    )  # fmt: skip
    assert next_wake([failed], ESCALATE, QUIET_END) == QUIET_END + ESCALATE


# --- the log ---------------------------------------------------------------------------------


def _entry(id: str, not_before: datetime | None) -> OutboxEntry:
    return OutboxEntry(
        id=id, channel=N.value, kind="fever.resolved", priority="routine", created_at=NIGHT,
        body="{}", content_type="text/plain", not_before=not_before,
    )  # fmt: skip


def test_store_keeps_hold_and_defers_first_attempt_when_entry_has_not_before(
    tmp_path: Path,
) -> None:
    """The hold survives closing the log, and delivery does not offer the row before it."""
    path = tmp_path / "portwatch.db"
    with Store.open(path) as log:
        log.enqueue([_entry("held", QUIET_END), _entry("now", None)])
    with Store.open(path) as log:
        held_row = log.outbox_get("held")
        pending = log.outbox_all(OutboxStatus.PENDING)
    assert held_row is not None
    assert (held_row.not_before, held_row.next_attempt_at) == (QUIET_END, QUIET_END)
    due_at_night = [r.id for r in pending if not held(r, NIGHT)]
    due_at_end = [r.id for r in pending if not held(r, QUIET_END)]
    assert (due_at_night, due_at_end) == (["now"], ["held", "now"])
    first_at_night, first_at_end = next_due(pending, NIGHT), next_due(pending, QUIET_END)
    assert first_at_night is not None
    assert first_at_end is not None
    assert (first_at_night.id, first_at_end.id) == ("now", "held")


def test_migration_3_keeps_every_outbox_row_when_log_has_schema_2(tmp_path: Path) -> None:
    """An upgrade must not lose or alter a queued alert; old rows are simply not held."""
    path = tmp_path / "portwatch.db"
    raw = sqlite3.connect(path)
    raw.executescript(f"{MIGRATIONS[0]}\n{MIGRATIONS[1]}\nPRAGMA user_version = 2;")
    raw.execute(
        "INSERT INTO outbox (id, channel, kind, priority, created_us, body, content_type, "
        "status, attempts, next_attempt_us, last_status, escalated_us) "
        "VALUES ('a1', 'clinic', 'fever.confirmed', 'urgent', 1, 'b', 'application/json', "
        "'pending', 3, 5000000, 503, 4000000)"
    )
    raw.commit()
    raw.close()
    with Store.open(path) as log:
        (row,) = log.outbox_all()
        log.enqueue([_entry("new", QUIET_END)])
        held = log.outbox_get("new")
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert (version, SCHEMA_VERSION) == (3, 3)
    assert (row.id, row.status, row.attempts, row.last_status, row.not_before) == (
        "a1",
        "pending",
        3,
        503,
        None,
    )
    assert row.next_attempt_at == datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert held is not None
    assert held.not_before == QUIET_END


def test_migration_3_runs_again_without_losing_rows_when_version_is_set_back(
    tmp_path: Path,
) -> None:
    """A log whose version was set back (as the chart's back-fill test does) still opens."""
    path = tmp_path / "portwatch.db"
    with Store.open(path) as log:
        log.enqueue([_entry("kept", None)])
    raw = sqlite3.connect(path)
    raw.executescript("PRAGMA user_version = 2;")
    raw.close()
    with Store.open(path) as log:
        assert [r.id for r in log.outbox_all()] == ["kept"]


# --- the timed work's sink -------------------------------------------------------------------


async def test_care_reminder_enters_both_channels_when_patient_url_set(tmp_path: Path) -> None:
    """The care sheet is for both: with a patient URL each gets their own row, once."""
    notice = render(NoticeKind.CARE_DRESSING_OFF, {})
    with Store.open(tmp_path / "portwatch.db") as log:
        sink = outbox_sink(log, patient_channel=True)
        await sink(notice, "care:day3", NIGHT)
        await sink(notice, "care:day3", NIGHT)  # a restart between sending and recording
        rows = log.outbox_all()
    assert sorted(r.channel for r in rows) == [N.value, P.value]


async def test_care_reminder_enters_caregiver_channel_only_when_patient_url_unset(
    tmp_path: Path,
) -> None:
    """Without a patient URL nothing is queued for a channel that has no sender."""
    notice = render(NoticeKind.CARE_DRESSING_OFF, {})
    with Store.open(tmp_path / "portwatch.db") as log:
        await outbox_sink(log)(notice, "care:day3", NIGHT)
        rows = log.outbox_all()
    assert [r.channel for r in rows] == [N.value]
