"""The daemon as `portwatch run` wires it, on issue 9's course, in one process on a VirtualClock.

Real parts only: the Bumble virtual radio with a CORE wearable, the real link, the log in
SQLite, the fever rule, delivery over HTTP on loopback to the reference clinic inbox.
Simulated days take seconds, so each course is played once per module and its facts
checked one test at a time.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from portwatch.log.store import OutboxEntry, OutboxRow, Store
from portwatch.sim.inbox import Message
from portwatch.sim.sandbox import Sandbox
from portwatch.sim.scenario import DEFAULT_PLACEMENT

P = DEFAULT_PLACEMENT  # Mon 2026-03-02 08:00 UTC


@dataclass(frozen=True)
class Played:
    entries: list[OutboxEntry]  # in the order the daemon queued them
    outbox: list[OutboxRow]
    received: list[tuple[Message, bool]]
    decisions: list[tuple[str, str, datetime]]  # (type, id, decided at)
    pairs: list[tuple[datetime, ...]]  # the observation times each confirmation cites
    readings_logged: int
    readings_received: int


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    """Day N of the course (day 1 starts at the placement), at a UTC time of day."""
    return datetime(2026, 3, 1 + day, hour, minute, tzinfo=UTC)


async def _play(
    days: float,
    *,
    start: float = 0.0,
    restart_at: float | None = None,
    interval_s: float = 60.0,
) -> Played:
    began = P + timedelta(days=start)
    async with Sandbox(page=False, interval_s=interval_s, start=began) as sandbox:
        received = 0
        if restart_at is not None:
            await sandbox.play(speed=None, until=P + timedelta(days=restart_at))
            received += sandbox.daemon.readings_received if sandbox.daemon else 0
            await sandbox.restart_daemon()
        await sandbox.play(speed=None, until=P + timedelta(days=days))
        daemon = sandbox.daemon
        assert daemon is not None
        await sandbox.stop_daemon()
        received += daemon.readings_received
        with Store.open_reader(daemon.db_path) as store:
            outbox = store.outbox_all()
            logged = store.reading_count()
            made = store.decisions(P - timedelta(days=1), P + timedelta(days=30))
            decisions = [(d.type.value, str(d.id), d.time) for d in made]
            pairs = [
                tuple(o.time for o in d.observations)
                for d in made
                if d.type.value == "fever.confirmed"
            ]
        assert sandbox.inbox is not None
        return Played(
            entries=list(sandbox.entries),
            outbox=outbox,
            received=[(m, stored) for m, stored, _ in sandbox.inbox.received],
            decisions=decisions,
            pairs=pairs,
            readings_logged=logged,
            readings_received=received,
        )


@pytest.fixture(scope="module")
def fever_course() -> Played:
    """Days 1-5 of the course: shower, link drop, the day-4 fever, the day-5 symptom report."""
    return asyncio.run(_play(4.6))


def _created(played: Played, kind: str) -> list[datetime]:
    return [row.created_at for row in played.outbox if row.kind == kind]


def test_course_alerts_the_clinic_once_when_the_day_four_fever_is_confirmed(
    fever_course: Played,
) -> None:
    """The promise of the product: one fever, exactly one "confirmed" alert in the inbox."""
    confirmed = [m for m, stored in fever_course.received if m.type == "fever.confirmed"]
    assert len(confirmed) == 1


def test_course_confirms_the_fever_four_hours_after_the_first_elevated_window(
    fever_course: Played,
) -> None:
    """The rise crosses 38.28 °C about 11:35 on day 4; the pair completes 4 h later."""
    first = [t for kind, _, t in fever_course.decisions if kind == "elevated.first"]
    assert len(first) == 1
    assert _at(4, 11, 30) <= first[0] <= _at(4, 11, 45)
    assert len(fever_course.pairs) == 1
    a, b = fever_course.pairs[0]
    assert _at(4, 11, 30) <= a <= _at(4, 11, 45)
    assert timedelta(hours=4) <= b - a <= timedelta(hours=4, minutes=5)


def test_course_inbox_sees_no_duplicate_when_every_alert_is_delivered(fever_course: Played) -> None:
    """Same identifier on every resend: the inbox never stores an alert twice."""
    assert [m.webhook_id for m, stored in fever_course.received if not stored] == []


def test_course_sends_a_stale_notice_when_the_link_drops_for_45_minutes(
    fever_course: Played,
) -> None:
    """Day 3, 14:00: out of range 45 min with no pause; the caregiver hears at 30 min."""
    stale = _created(fever_course, "watch.stale")
    assert len(stale) == 1
    assert _at(3, 14, 29) <= stale[0] <= _at(3, 14, 32)


def test_course_sends_no_stale_notice_when_the_thermometer_is_off_for_a_paused_shower(
    fever_course: Played,
) -> None:
    """Day 2, 07:00: 40 min off the body under a 45-min pause is silence, not trouble."""
    stale = _created(fever_course, "watch.stale")
    assert not [t for t in stale if _at(2, 7) <= t <= _at(2, 9)]


def test_course_summary_says_fever_confirmed_when_the_episode_is_still_open(
    fever_course: Played,
) -> None:
    """Issue 9: the evening after a confirmed fever the caregiver must not read "no fever"."""
    (confirmed_at,) = [t for kind, _, t in fever_course.decisions if kind == "fever.confirmed"]
    resolved = [t for kind, _, t in fever_course.decisions if kind == "fever.resolved"]
    until = min(resolved, default=P + timedelta(days=30))
    titles = [
        json.loads(row.body)["title"]
        for row in fever_course.outbox
        if row.kind == "summary.daily" and confirmed_at < row.created_at < until
    ]
    assert titles
    assert all("fever confirmed" in title for title in titles), titles


def test_course_sends_care_reminders_on_their_days_when_days_pass(fever_course: Played) -> None:
    """The care sheet: keep the site dry (day 2), dressing off (day 3, the placement's date
    being day 1 as on the status screen)."""
    assert _created(fever_course, "care.keep_dry") == [_at(2, 9)]
    assert _created(fever_course, "care.dressing_off") == [_at(3, 9)]


def test_course_alerts_the_clinic_urgently_when_symptoms_are_reported(fever_course: Played) -> None:
    """Day 5, 10:00: redness reported on the page reaches the clinic as its own alert."""
    symptoms = [m for m, ok in fever_course.received if m.type == "symptoms.reported" and ok]
    assert len(symptoms) == 1
    assert symptoms[0].priority == "urgent"


def test_course_logs_every_reading_when_the_daemon_runs(fever_course: Played) -> None:
    """Nothing is lost: every reading the link delivered is in the log at the stop."""
    assert fever_course.readings_logged == fever_course.readings_received
    # About one a minute for 4.6 days, less the shower and the outage.
    assert fever_course.readings_logged > 6_300


@pytest.fixture(scope="module")
def restarted_course() -> Played:
    """Day 4, the daemon stopped and started between the first elevated reading and its pair."""
    return asyncio.run(_play(3.5, start=3.0, restart_at=3.25))


def test_restart_loses_no_reading_when_stopped_between_elevated_and_confirmed(
    restarted_course: Played,
) -> None:
    """SIGTERM's path: waiting readings are written before the stop completes."""
    assert restarted_course.readings_logged == restarted_course.readings_received


def test_restart_confirms_the_fever_once_when_the_rule_is_rebuilt_from_the_log(
    restarted_course: Played,
) -> None:
    """The rebuilt rule remembers the first elevated reading and confirms exactly once."""
    confirmed = [ok for m, ok in restarted_course.received if m.type == "fever.confirmed"]
    assert confirmed == [True]


def test_restart_repeats_no_notice_when_the_rule_is_rebuilt_from_the_log(
    restarted_course: Played,
) -> None:
    """The first-elevated notice and the decisions behind it are not made a second time."""
    assert len(_created(restarted_course, "fever.elevated_first")) == 1
    ids = [ident for _, ident, _ in restarted_course.decisions]
    assert len(ids) == len(set(ids))
    assert [kind for kind, _, _ in restarted_course.decisions if kind != "reading.invalid"] == [
        "elevated.first",
        "fever.confirmed",
    ]


def test_reminders_fall_on_their_days_when_the_whole_period_passes() -> None:
    """Day 7 and day 10 of the sheet: the check opens and its last day, at 09:00 local.

    The daemon starts on day 8 (reminders are derived from the log at start) and the wearable
    measures every 15 min (half the stale-data limit), to play the last days fast.
    """
    played = asyncio.run(_play(10.05, start=6.0, interval_s=900.0))
    assert _created(played, "care.check_opens") == [_at(7, 9)]
    assert _created(played, "care.check_last_day") == [_at(10, 9)]
