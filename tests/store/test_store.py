"""The log's contract with the rest of portwatch, on a real SQLite file."""

from __future__ import annotations

import os
import sqlite3
import stat
import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from portwatch.log.store import (
    SCHEMA_VERSION,
    Channel,
    OutboxEntry,
    OutboxRow,
    OutboxStatus,
    Priority,
    Store,
    StoreDamagedError,
    StoreError,
    StoreInputError,
    StoreTooNewError,
    check,
    default_db_path,
)
from portwatch.model import (
    Decision,
    DecisionType,
    LinkEvent,
    LinkEventKind,
    Observation,
    ReadingKind,
    Symptom,
    Unit,
)

from .conftest import T0, make_reading

DAY = timedelta(days=1)


def _decision(n: int) -> Decision:
    observation = Observation(
        time=T0 + timedelta(hours=n),
        celsius=38.4,
        value=Decimal("38.4"),
        unit=Unit.CELSIUS,
        device="AA:BB",
    )
    return Decision(
        id=uuid.UUID(int=n),
        type=DecisionType.FEVER_CONFIRMED,
        time=T0 + timedelta(hours=n),
        summary=f"fever {n}",
        observations=(observation,),
        settings=(("threshold_c", "38.33"),),
    )


def _entry(n: int, decision_id: str | None = None, *, seconds: int = 0) -> OutboxEntry:
    return OutboxEntry(
        id=str(uuid.UUID(int=1000 + n)),
        channel="clinic",
        kind="fever.confirmed",
        priority="urgent",
        created_at=T0 + timedelta(seconds=seconds),
        body=f'{{"n": {n}}}',
        content_type="application/json",
        decision_id=decision_id,
    )


def test_open_creates_private_file_and_directory_when_missing(db_path: Path) -> None:
    """Health data: only portwatch's user may read the log (issue 4)."""
    with Store.open(db_path):
        pass
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(db_path.parent).st_mode) == 0o700


def test_open_uses_wal_and_foreign_keys_when_opened(store: Store, db_path: Path) -> None:
    """WAL lets the caregiver page read while the daemon writes."""
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_add_readings_round_trips_every_field_when_read_back(store: Store) -> None:
    """The log is the clinic's record: what goes in must come out exactly."""
    reading = make_reading(5, 38.45, invalid_reason="outside 30.0-45.0 °C")
    (row_id,) = store.add_readings([reading])
    (stored,) = store.readings(T0, T0 + DAY)
    assert stored.id == row_id
    assert stored.reading == reading
    assert stored.invalid_reason == "outside 30.0-45.0 °C"


def test_add_readings_returns_consecutive_ids_when_batched(store: Store) -> None:
    """The writer hands row ids to the rule; they must match the readings given."""
    first = store.add_readings([make_reading(i) for i in range(3)])
    second = store.add_readings([make_reading(10)])
    assert first == [1, 2, 3]
    assert second == [4]


def test_readings_filters_by_device_and_kind_when_asked(store: Store) -> None:
    """The rule and the page ask for one device's final readings."""
    store.add_readings(
        [
            make_reading(1, device="a"),
            make_reading(2, device="b"),
            make_reading(3, device="a", kind=ReadingKind.PROVISIONAL),
        ]
    )
    found = store.readings(T0, T0 + DAY, device="a", kinds=[ReadingKind.STREAM])
    assert [s.reading.time for s in found] == [T0 + timedelta(seconds=1)]


def test_latest_reading_is_latest_in_time_when_arrivals_are_out_of_order(store: Store) -> None:
    """Stored measurements sent late must not pose as the newest."""
    store.add_readings([make_reading(100), make_reading(50)])
    latest = store.latest_reading()
    assert latest is not None
    assert latest.reading.time == T0 + timedelta(seconds=100)


def test_downsample_gives_min_median_max_count_when_bucketed(store: Store) -> None:
    """The chart's points must show spikes (max) without being moved by them (median)."""
    store.add_readings(
        [
            make_reading(0, 37.0),
            make_reading(1, 37.2),
            make_reading(2, 39.9),
            make_reading(60, 36.5),
        ]
    )
    store.add_readings([make_reading(3, 38.0, invalid_reason="test")])
    buckets = store.downsample(T0, T0 + timedelta(seconds=120), 2)
    assert [(b.min_c, b.median_c, b.max_c, b.count) for b in buckets] == [
        (37.0, 37.2, 39.9, 3),
        (36.5, 36.5, 36.5, 1),
    ]
    assert buckets[1].start == T0 + timedelta(seconds=60)


def test_downsample_returns_at_most_buckets_points_when_data_is_dense(store: Store) -> None:
    """Ten days at 1/s must come back as a chart-sized answer."""
    store.add_readings([make_reading(i * 7) for i in range(5000)])
    assert len(store.downsample(T0, T0 + timedelta(seconds=35000), 100)) == 100


def test_gaps_finds_silences_including_edges_when_longer_than_min_gap(store: Store) -> None:
    """A thermometer that stopped reporting must show on the chart and in the report."""
    store.add_readings([make_reading(s) for s in (60, 70, 400, 410)])
    gaps = store.gaps(T0, T0 + timedelta(seconds=1000), timedelta(seconds=50))
    at = [(int((a - T0).total_seconds()), int((b - T0).total_seconds())) for a, b in gaps]
    assert at == [(0, 60), (70, 400), (410, 1000)]


def test_gaps_is_whole_range_when_no_readings(store: Store) -> None:
    """Silence is not recovery: no readings at all is one long gap."""
    assert store.gaps(T0, T0 + DAY, timedelta(minutes=30)) == [(T0, T0 + DAY)]


def test_events_round_trip_when_added(store: Store) -> None:
    """Link events explain gaps (disconnections, battery) in the clinic's record."""
    event = LinkEvent(LinkEventKind.BATTERY, "AA", T0, "low", 12, b"\x0c")
    store.add_event(event)
    assert store.events(T0, T0 + DAY) == [event]


def test_record_decisions_skips_known_decision_and_its_alert_when_replayed(store: Store) -> None:
    """A restart replays readings; the clinic must not get the alert twice (fever-rule.md §6)."""
    decision = _decision(1)
    store.record_decisions([decision], [_entry(1, str(decision.id))])
    store.outbox_mark_delivered(_entry(1).id, T0, 200)
    replayed = _entry(2, str(decision.id))  # same decision, alert rendered again
    store.record_decisions([decision], [replayed])
    assert [row.id for row in store.outbox_all()] == [_entry(1).id]
    assert store.decisions(T0, T0 + DAY) == [decision]


def test_record_decisions_writes_nothing_when_an_entry_is_bad(store: Store) -> None:
    """Decision and alert are one transaction: never a decision without its alert."""
    bad = OutboxEntry("x", "fax", "fever.confirmed", "urgent", T0, "{}", "application/json")
    with pytest.raises(StoreInputError, match="channel"):
        store.record_decisions([_decision(1)], [bad])
    assert store.decisions(T0, T0 + DAY) == []


def test_outbox_all_orders_by_decision_and_records_next_attempt_when_retrying(
    store: Store,
) -> None:
    """Alerts leave in the order decided; one waiting for its retry is not due yet."""
    store.enqueue([_entry(1, seconds=5), _entry(2, seconds=1), _entry(3, seconds=5)])
    store.enqueue([_entry(1, seconds=5)])  # idempotent
    now = T0 + timedelta(seconds=10)
    store.outbox_record_attempt(_entry(2).id, now, 503, "busy", now + timedelta(seconds=30))
    pending = store.outbox_all(OutboxStatus.PENDING)
    assert [row.id for row in pending] == [_entry(2).id, _entry(1).id, _entry(3).id]
    due = [row for row in pending if row.next_attempt_at is None or row.next_attempt_at <= now]
    assert [row.id for row in due] == [_entry(1).id, _entry(3).id]
    row = store.outbox_get(_entry(2).id)
    assert row is not None
    assert (row.attempts, row.last_status, row.last_error) == (1, 503, "busy")
    assert row.next_attempt_at == now + timedelta(seconds=30)


def test_outbox_requeue_makes_failed_alert_due_when_resent(store: Store) -> None:
    """A permanent failure waits for a person; `alerts resend` must bring it back."""
    store.enqueue([_entry(1)])
    store.outbox_mark_failed(_entry(1).id, T0, 401, "unauthorised")
    store.outbox_mark_escalated(_entry(1).id, T0)
    assert store.outbox_all(OutboxStatus.PENDING) == []
    store.outbox_requeue(_entry(1).id, T0 + DAY)
    (row,) = store.outbox_all(OutboxStatus.PENDING)
    assert (row.status, row.escalated_at, row.next_attempt_at) == (
        OutboxStatus.PENDING,
        None,
        T0 + DAY,
    )


def test_outbox_rows_come_back_as_enum_members_when_written_as_text(store: Store) -> None:
    """Channel, priority and status are one vocabulary: what goes in as text comes back typed."""
    store.enqueue([_entry(1)])
    (row,) = store.outbox_all()
    assert (row.channel, row.priority, row.status) == ("clinic", "urgent", "pending")
    assert row.channel is Channel.CLINIC
    assert row.priority is Priority.URGENT
    assert row.status is OutboxStatus.PENDING


@pytest.mark.parametrize(("field", "word"), [("channel", "fax"), ("priority", "soonish")])
def test_enqueue_refuses_a_channel_or_priority_when_it_is_not_ours(
    store: Store, field: str, word: str
) -> None:
    """A row on no channel would never be sent; one with no priority could not be ordered."""
    with pytest.raises(StoreInputError, match=f"{field} '{word}' is not one of"):
        store.enqueue([replace(_entry(1), **{field: word})])
    assert store.outbox_all() == []


def test_outbox_all_raises_store_error_when_a_row_holds_an_unknown_channel(store: Store) -> None:
    """A row written by a newer portwatch (or by hand) is named, not passed on as text."""
    store.enqueue([_entry(1)])
    store._db.execute("UPDATE outbox SET channel = 'fax'")
    with pytest.raises(StoreError, match="'fax', which this portwatch does not know"):
        store.outbox_all()


def test_unsent_row_is_pending_and_untried_when_made_from_an_entry() -> None:
    """A notice sent from memory (the log refusing writes) is the same row type as the log's."""
    entry = replace(_entry(1), not_before=T0 + DAY)
    row = OutboxRow.unsent(entry, attempts=2)
    assert (row.id, row.channel, row.priority, row.body) == (
        entry.id,
        Channel.CLINIC,
        Priority.URGENT,
        entry.body,
    )
    assert (row.status, row.attempts, row.next_attempt_at, row.not_before) == (
        OutboxStatus.PENDING,
        2,
        None,
        T0 + DAY,
    )


def test_outbox_update_raises_input_error_when_id_unknown(store: Store) -> None:
    """A typo in `alerts resend` must say so, not silently do nothing."""
    with pytest.raises(StoreInputError, match="no outbox entry"):
        store.outbox_requeue("nope", T0)


def test_reminders_sent_survive_reopen_when_recorded(db_path: Path) -> None:
    """A restart must never repeat a care reminder."""
    with Store.open(db_path) as store:
        store.reminder_sent("dressing:2026-11-04", T0)
        store.reminder_sent("dressing:2026-11-04", T0 + DAY)
    with Store.open(db_path) as store:
        assert store.reminders_sent() == {"dressing:2026-11-04"}


def test_symptoms_notes_and_meta_round_trip_when_stored(store: Store) -> None:
    """The clinic asks about reported symptoms and explained pauses at the check."""
    store.add_symptom_report(T0, [Symptom.REDNESS, Symptom.PUS], "since this morning")
    store.add_note(T0, T0 + timedelta(minutes=15), "shower")
    store.meta_set("placement", T0.isoformat())
    store.meta_set("placement", "changed")
    (report,) = store.symptom_reports(T0, T0 + DAY)
    assert report.symptoms == (Symptom.REDNESS, Symptom.PUS)
    assert [n.reason for n in store.notes(T0, T0 + DAY)] == ["shower"]
    assert store.meta_get("placement") == "changed"


def test_naive_datetime_raises_input_error_when_given(store: Store) -> None:
    """Every time inside portwatch is aware UTC; a naive one is a bug to catch early."""
    with pytest.raises(StoreInputError, match="time zone"):
        store.readings(T0.replace(tzinfo=None), T0 + DAY)


def test_purge_removes_old_rows_but_keeps_undelivered_alerts(store: Store) -> None:
    """Retention must never drop an alert that has not reached the clinic."""
    store.add_readings([make_reading(0), make_reading(2 * 86_400)])
    old, kept = _decision(0), _decision(1)
    store.record_decisions([old, kept], [_entry(1, str(old.id)), _entry(2, str(kept.id))])
    store.outbox_mark_delivered(_entry(1).id, T0, 200)
    cut = T0 + DAY
    assert store.purge(cut, dry_run=True) == store.purge(cut)
    assert store.reading_count() == 1
    assert [r.id for r in store.outbox_all()] == [_entry(2).id]
    assert store.decisions(T0 - DAY, T0 + DAY) == [kept]


def test_open_raises_too_new_and_leaves_file_alone_when_schema_is_newer(db_path: Path) -> None:
    """A downgrade must never alter a newer portwatch's log."""
    Store.open(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreTooNewError, match="newer portwatch"):
        Store.open(db_path)
    assert db_path.read_bytes() == before


def test_open_raises_damaged_and_leaves_file_alone_when_corrupt(db_path: Path) -> None:
    """A damaged log is evidence: never written, never deleted, and the message says how."""
    with Store.open(db_path) as store:
        store.add_readings([make_reading(i) for i in range(3000)])
    data = bytearray(db_path.read_bytes())
    page = 4096
    data[3 * page : 3 * page + 200] = b"\xa5" * 200  # scribble over a b-tree page
    db_path.write_bytes(bytes(data))
    with pytest.raises(StoreDamagedError) as info:
        Store.open(db_path)
    assert db_path.read_bytes() == bytes(data)
    assert "quick_check" in str(info.value) or "malformed" in str(info.value)
    assert ".recover" in str(info.value)
    with pytest.raises(StoreDamagedError):
        check(db_path)


def test_open_raises_damaged_when_file_is_not_a_database(db_path: Path) -> None:
    """Some other file in the log's place is found, reported and kept."""
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreDamagedError, match="not a database"):
        Store.open(db_path)
    assert db_path.read_bytes() == b"this is not sqlite" * 100


def test_open_reader_refuses_writes_when_reading(store: Store, db_path: Path) -> None:
    """The caregiver page reads; only the daemon writes."""
    reader = Store.open_reader(db_path)
    try:
        with pytest.raises(StoreError, match="read-only"):
            reader.add_readings([make_reading(0)])
    finally:
        reader.close()


def test_default_db_path_follows_state_directory_when_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """systemd's StateDirectory decides where the log lives."""
    monkeypatch.setenv("PORTWATCH_STATE_DIRECTORY", str(tmp_path))
    assert default_db_path() == tmp_path / "portwatch.db"


def test_import_readings_skips_only_the_same_reading_when_imported_again(store: Store) -> None:
    """A repeated import adds nothing; a steady temperature at other times is still new."""
    first = [make_reading(0, 37.0, kind=ReadingKind.SPOT), make_reading(60, 37.0)]
    assert len(store.import_readings(first).ids) == 2
    again = [
        *first,
        make_reading(0, 37.0, kind=ReadingKind.SPOT),  # repeated within this import too
        make_reading(120, 37.0),  # the same value two minutes on: another reading
        make_reading(0, 37.0, kind=ReadingKind.SPOT, device="other thermometer"),
        make_reading(0, 37.0, kind=ReadingKind.PROVISIONAL),
    ]
    result = store.import_readings(again)
    assert (len(result.ids), result.already_present) == (3, 3)
    assert store.reading_count() == 5
    stored = {s.id: s.reading for s in store.readings(T0, T0 + DAY)}
    assert [stored[row_id] for row_id in result.ids] == again[3:]


def test_import_readings_takes_equal_numbers_as_the_same_value_when_written_differently(
    store: Store,
) -> None:
    """37.2 and 37.20 are one reading, whichever program wrote the file."""
    reading = make_reading(0, 37.2)
    store.import_readings([reading])
    result = store.import_readings([replace(reading, value=Decimal("37.2"))])  # stored "37.20"
    assert (result.ids, result.already_present) == ((), 1)
    result = store.import_readings([replace(reading, value=Decimal("37.3"))])
    assert len(result.ids) == 1
