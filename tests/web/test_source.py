"""Stream samples as the log shows them (fever-rule.md §2), before any page is drawn."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from portwatch.fever.settings import RuleSettings
from portwatch.log.store import OutboxEntry, Store
from portwatch.model import ReadingKind, derived_id
from portwatch.web.export import observations
from portwatch.web.source import (
    ClinicTarget,
    StorePages,
    alert_rows,
    status_data,
    stream_observations,
)
from portwatch.web.text import status_text
from portwatch.web.view import DisplaySettings

from .conftest import NOW, PLACEMENT, reading


def test_stream_observations_list_slow_stream_samples_one_by_one_when_interval_over_100s() -> None:
    """A thermometer that measures every 10 min gives observations one by one (§2)."""
    samples = [
        replace(
            reading(PLACEMENT + timedelta(minutes=10 * i), 37.0, ReadingKind.STREAM),
            interval_s=600.0,
        )
        for i in range(6)
    ]
    observed = stream_observations(samples)
    assert [(o.time, o.samples) for o in observed] == [(s.time, 1) for s in samples]


def test_stream_observations_summarise_undeclared_dense_stream_when_spacing_is_a_minute() -> None:
    """An imported stream with no declared interval is dense by its median spacing (§2)."""
    samples = [
        replace(
            reading(PLACEMENT + timedelta(minutes=i), 37.0 + i / 10, ReadingKind.STREAM),
            interval_s=None,
        )
        for i in range(10)
    ]
    observed = stream_observations(samples)
    # windows aligned to the epoch: 09:00-09:05 and 09:05-09:10, five samples each
    assert [(o.time, o.samples) for o in observed] == [
        (PLACEMENT + timedelta(minutes=5), 5),
        (PLACEMENT + timedelta(minutes=10), 5),
    ]
    assert observed[0].celsius == 37.2  # the median of 37.0 .. 37.4


def test_stream_observations_use_the_rules_window_settings_when_they_are_not_the_defaults() -> None:
    """Issue 17: with `[rule] window = 2m, min_samples = 2` the page shows the observations
    the rule used, not 5-minute windows of 3 samples."""
    samples = [
        replace(
            reading(PLACEMENT + timedelta(seconds=30 * i), 37.0 + i / 10, ReadingKind.STREAM),
            interval_s=30.0,
        )
        for i in range(6)
    ]
    rule = RuleSettings(window=timedelta(minutes=2), min_samples=2)
    observed = stream_observations(samples, rule)
    assert [(o.time, o.samples) for o in observed] == [
        (PLACEMENT + timedelta(minutes=2), 4),
        (PLACEMENT + timedelta(minutes=4), 2),
    ]
    assert [o.samples for o in stream_observations(samples)] == [6]  # the defaults: one window


def test_stream_observations_count_a_repeated_sample_once_when_it_was_delivered_twice() -> None:
    """§2: 2 samples each delivered twice are a window cut short, on the page as in the rule."""
    two = [
        replace(
            reading(PLACEMENT + timedelta(seconds=s), 38.9, ReadingKind.STREAM), interval_s=10.0
        )
        for s in (0, 10)
    ]
    assert stream_observations(two + two) == []


def test_export_reads_each_window_whole_when_since_falls_inside_one(tmp_path: Path) -> None:
    """The export's observations are the rule's: a window cut by `since` is read whole."""
    samples = [
        replace(
            reading(PLACEMENT + timedelta(minutes=i), 37.0, ReadingKind.STREAM), interval_s=60.0
        )
        for i in range(5)
    ]
    with Store.open(tmp_path / "log.db") as store:
        store.import_readings(samples)
        found = observations(
            store, PLACEMENT + timedelta(minutes=3), PLACEMENT + timedelta(hours=1)
        )
    assert [(o.time, o.samples) for o in found] == [(PLACEMENT + timedelta(minutes=5), 5)]


def _outbox_of_a_quiet_night(path: Path) -> None:
    """The clinic has the fever alert; 20 notices wait for quiet hours; heartbeats went
    through until 03:00, then two failed (the clinic's server is down)."""
    with Store.open(path) as store:
        store.outbox_mark_delivered(str(derived_id("web-test", "confirmed")), NOW, 200)
        entries = [
            OutboxEntry(
                str(derived_id("notice", str(i))),
                "notify",
                "care.keep_dry",
                "routine",
                NOW,
                '{"message": "Keep it dry.", "title": "Keep the port site dry"}',
                "application/json",
                not_before=NOW + timedelta(hours=2),
            )
            for i in range(20)
        ]
        beats = [NOW + timedelta(minutes=15 * i) for i in range(4)]
        entries += [
            OutboxEntry(
                str(derived_id("beat", at.isoformat())),
                "clinic",
                "gateway.heartbeat",
                "routine",
                at,
                '{"data": {"summary": "Gateway gw-test alive; thermometer connected."}}',
                "application/json",
            )
            for at in beats
        ]
        store.enqueue(entries)
        for at in beats[:2]:
            store.outbox_mark_delivered(str(derived_id("beat", at.isoformat())), at, 204)
        for at in beats[2:]:
            ident = str(derived_id("beat", at.isoformat()))
            store.outbox_record_attempt(ident, at, 503, None, at + timedelta(minutes=1))


def test_status_counts_clinic_alerts_only_and_notices_apart_when_notices_wait(
    db_path: Path, display: DisplaySettings
) -> None:
    """Issue 18: "20 not yet received by the clinic" was false; the clinic had them all."""
    _outbox_of_a_quiet_night(db_path)
    now = NOW + timedelta(hours=1)
    with Store.open_reader(db_path) as store:
        status = status_data(store, display, now)
        rows = alert_rows(store)
    assert status.clinic_undelivered == []
    assert status.notices_waiting == 20
    assert status.notices_held_until == NOW + timedelta(hours=2)
    assert status.clinic_last_reached == NOW + timedelta(minutes=15)
    assert status.clinic_silent_since == NOW + timedelta(minutes=30)
    text = status_text(status)
    assert "every alert received by the clinic" in text
    assert "20 notices to the caregiver or patient wait to be sent" in text
    assert "gateway silent since" in text
    assert all(r.kind != "gateway.heartbeat" for r in rows)
    assert len(rows) == 21


async def test_alerts_page_lists_no_heartbeat_and_names_no_internal_kind(
    db_path: Path, display: DisplaySettings, target: ClinicTarget
) -> None:
    """The page shows the fever alert and the notices, says when the clinic was last
    reached, and never shows a heartbeat row or a name like gateway.heartbeat."""
    _outbox_of_a_quiet_night(db_path)
    page = StorePages(db_path, display, target).alerts(NOW + timedelta(hours=1))
    assert "The clinic has received every alert." in page
    assert "Gateway silent since Fri 20 Nov 05:30 UTC" in page
    assert "20 notices to the caregiver or patient wait to be sent" in page
    assert "alive" not in page
    assert "heartbeat" not in page
    assert "care.keep_dry" not in page
    assert page.count("Keep the port site dry") == 20


def test_chart_draws_only_what_the_rule_used_and_rings_the_rest_with_the_reason(
    db_path: Path, display: DisplaySettings
) -> None:
    """Issue 18: a reading the rule did not use (another thermometer, before the placement)
    is not a red dot; it is a grey ring whose title says why, and the log says so too."""
    from portwatch.web.chart import render_svg
    from portwatch.web.source import chart_data, log_lines

    other = replace(reading(PLACEMENT + timedelta(hours=12), 38.9), device="11:22:33:44:55:66")
    early = reading(PLACEMENT - timedelta(hours=2), 38.8)
    with Store.open(db_path) as store:
        store.add_readings([other, early])
    pinned = replace(display, thermometer="AA:BB:CC:DD:EE:FF")
    since = PLACEMENT - timedelta(hours=6)
    with Store.open_reader(db_path) as store:
        chart = chart_data(store, pinned, NOW, since, NOW)
        lines = log_lines(store, pinned, since, NOW, events=False)
    assert {u.reason for u in chart.unused} == {
        "from 11:22:33:44:55:66, not the pinned thermometer AA:BB:CC:DD:EE:FF",
        "outside the monitored period",
    }
    assert all(o.celsius < 38.7 for o in chart.observations)
    svg = render_svg(chart)
    assert svg.count('class="unused"') == 2
    assert "not used by the fever rule: 38.9 °C at Wed 18 Nov 21:00 UTC (from 11:22" in svg
    assert svg.count('class="elevated"') == 2  # the pair the rule confirmed, nothing else
    texts = [line.text for line in lines]
    assert any("not used: outside the monitored period" in t for t in texts)
    # The line names the device once: "from X (not used: not the pinned thermometer Y)".
    assert any(
        t.endswith(
            "spot from 11:22:33:44:55:66 (not used: not the pinned thermometer AA:BB:CC:DD:EE:FF)"
        )
        for t in texts
    )


def test_day_n_of_the_chart_and_log_is_the_calendar_day_status_calls_day_n() -> None:
    """Issue 18: one day number everywhere; a 10-day period from 09:00 spans 11 dates."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from portwatch.web.source import day_range, last_day

    berlin = ZoneInfo("Europe/Berlin")
    settings = DisplaySettings(placement=PLACEMENT, zone=berlin)  # 18 Nov 10:00 in Berlin
    start, end = day_range(settings, NOW, 3)
    assert start == datetime(2026, 11, 20, tzinfo=berlin)
    assert end == datetime(2026, 11, 21, tzinfo=berlin)
    assert settings.day_of_period(start) == 3
    assert settings.day_of_period(end - timedelta(microseconds=1)) == 3
    assert last_day(settings, NOW) == 11


def test_a_refused_alert_is_not_called_silence_when_the_clinic_answered_no(
    db_path: Path, display: DisplaySettings
) -> None:
    """A clinic that answers 422 is reachable: the alert waits for a person ("REFUSED"),
    and "gateway silent …; portwatch keeps trying" would be false twice over."""
    from portwatch.web.pages import alerts_page
    from portwatch.web.source import delivery

    with Store.open(db_path) as store:
        (pending,) = store.outbox_all()
        store.outbox_mark_failed(pending.id, NOW, 422, None)
        failed = store.outbox_all()
    told = delivery(failed, NOW + timedelta(minutes=5), display)
    assert [row.status for row in told.clinic_undelivered] == ["failed"]
    assert told.clinic_silent_since is None
    page = alerts_page([], display, told)
    assert "1 alert not yet received by the clinic (1 refused: a person must fix" in page
    assert "silent" not in page
    with Store.open(db_path) as store:
        store.outbox_requeue(pending.id, NOW)
        store.outbox_record_attempt(pending.id, NOW, 503, None, NOW + timedelta(minutes=1))
        retried = store.outbox_all()
    assert delivery(retried, NOW + timedelta(minutes=5), display).clinic_silent_since == (
        pending.created_at
    )
