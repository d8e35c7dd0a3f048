"""The terminal chart, the status screen and the log lines (issue 8, `portwatch status|log`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portwatch.clock import ClockTrust
from portwatch.model import (
    Bucket,
    Decision,
    DecisionType,
    LinkEvent,
    LinkEventKind,
    Reading,
    ReadingKind,
    Unit,
    derived_id,
)
from portwatch.sim.sample import sample_chart
from portwatch.web.termchart import render_text
from portwatch.web.text import status_text
from portwatch.web.view import (
    AlertRow,
    ChartData,
    DisplaySettings,
    EpisodeState,
    StatusData,
    episodes_from,
    f_to_c,
    fever_state,
)

START = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


def _reading(when: datetime, celsius: float) -> Reading:
    return Reading(
        device="AA:BB:CC:DD:EE:FF",
        kind=ReadingKind.SPOT,
        value=Decimal(f"{celsius:.1f}"),
        unit=Unit.CELSIUS,
        celsius=celsius,
        time=when,
        received_at=when,
    )


def _decision(kind: DecisionType, when: datetime, due: datetime | None = None) -> Decision:
    return Decision(derived_id(kind.value, when.isoformat()), kind, when, kind.value, due=due)


def _status(**changes: object) -> StatusData:
    now = START + timedelta(days=4, hours=2)
    base = StatusData(
        now=now,
        settings=DisplaySettings(placement=START),
        latest=_reading(now - timedelta(minutes=7), 37.1),
        link=LinkEvent(LinkEventKind.CONNECTED, "AA:BB:CC:DD:EE:FF", now - timedelta(hours=1)),
        battery=LinkEvent(
            LinkEventKind.BATTERY, "AA:BB:CC:DD:EE:FF", now - timedelta(hours=1), battery_percent=81
        ),
        episode_state=EpisodeState.NONE,
        episode_since=None,
        recheck_due=None,
        clinic_undelivered=(),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_terminal_chart_draws_threshold_row_and_marks_when_fever_in_period() -> None:
    """The curve, the threshold and the fever must all be visible in a plain terminal."""
    text = render_text(sample_chart(START), width=80, height=14)
    lines = text.splitlines()
    assert any(line.startswith("101.0°F ") and "╌" in line for line in lines)
    assert "▲" in text
    assert {"e", "F", "R"} <= set(lines[0].strip())


def test_terminal_chart_leaves_columns_blank_when_log_has_a_gap() -> None:
    """A hole in the log must show as a hole, never as readings."""
    data = sample_chart(START)
    text = render_text(replace(data, until=START + timedelta(days=4)), width=88, height=10)
    plot = [line[8:] for line in text.splitlines()[1:11]]
    columns = max(len(row) for row in plot)
    blank = [c for c in range(columns) if all(c >= len(row) or row[c] in " ╌" for row in plot)]
    # the sample's gap is 6 h of 96 h: about 5 of 80 columns hold no reading
    assert 4 <= len(blank) <= 6


def test_terminal_chart_raises_value_error_when_terminal_too_narrow() -> None:
    """A useless chart is worse than a clear message."""
    with pytest.raises(ValueError, match="at least"):
        render_text(sample_chart(START), width=12)


def test_status_shows_day_of_period_when_placement_known() -> None:
    """'Day N of 10' tells the caregiver where they are in the healing period."""
    assert "day 5 of 10" in status_text(_status())


def test_status_shows_last_reading_age_and_battery_when_connected() -> None:
    """How fresh the last temperature is matters as much as its value."""
    text = status_text(_status())
    assert "98.8 °F, 7 min ago" in text
    assert "battery 81 %" in text


def test_status_shows_recheck_time_when_fever_pending() -> None:
    """A first elevated reading needs a recheck at T + 4 h (fever-rule.md §5)."""
    due = START + timedelta(days=4, hours=5)
    text = status_text(_status(episode_state=EpisodeState.PENDING, recheck_due=due))
    assert "recheck due Sun 22 Nov 14:00 UTC" in text


def test_status_counts_undelivered_and_refused_alerts_when_outbox_not_empty() -> None:
    """An alert the clinic has not received is something a person must know about."""
    row = AlertRow("id", "clinic", "fever.confirmed", "urgent", START, "failed", 3, 400, None, None)
    text = status_text(_status(clinic_undelivered=(row, replace(row, status="pending"))))
    assert "2 alerts not yet received by the clinic (1 refused" in text


def test_status_says_notices_wait_on_their_own_line_when_clinic_has_everything() -> None:
    """Issue 18: notices held for quiet hours are not "not yet received by the clinic"."""
    held = START + timedelta(days=5)
    text = status_text(_status(notices_waiting=20, notices_held_until=held))
    assert "every alert received by the clinic" in text
    assert "not yet received" not in text
    assert "20 notices to the caregiver or patient wait to be sent (quiet hours" in text


def test_status_says_when_the_clinic_was_last_reached_or_since_when_not() -> None:
    """Heartbeats are not alerts; what they tell is whether the clinic can be reached."""
    reached = START + timedelta(days=4, hours=1, minutes=45)
    text = status_text(_status(clinic_last_reached=reached))
    assert "Clinic        last reached at Sun 22 Nov 10:45 UTC" in text
    silent = status_text(_status(clinic_last_reached=reached, clinic_silent_since=reached))
    assert "gateway silent since Sun 22 Nov 10:45 UTC; portwatch keeps trying" in silent


def test_fever_state_is_pending_then_open_then_none_when_decisions_follow_rule() -> None:
    """The status follows the rule's decisions: first elevated, confirmed, resolved (§5);
    "resolved" stays until something is elevated again (status --json names it)."""
    first = _decision(DecisionType.ELEVATED_FIRST, START, due=START + timedelta(hours=4))
    confirmed = _decision(DecisionType.FEVER_CONFIRMED, START + timedelta(hours=4))
    resolved = _decision(DecisionType.FEVER_RESOLVED, START + timedelta(days=2))
    decisions = (first, confirmed, resolved)
    window = timedelta(hours=24)
    assert fever_state(decisions, START + timedelta(hours=1), window)[0] is EpisodeState.PENDING
    assert fever_state(decisions, START + timedelta(hours=5), window)[0] is EpisodeState.OPEN
    assert fever_state(decisions, START + timedelta(days=3), window)[0] is EpisodeState.RESOLVED
    assert [s.word for s in EpisodeState] == ["none", "elevated", "confirmed", "resolved"]


def test_fever_state_drops_pending_when_pair_window_passed_without_second_reading() -> None:
    """A lone elevated reading older than the pair window can no longer confirm (§4)."""
    first = _decision(DecisionType.ELEVATED_FIRST, START, due=START + timedelta(hours=4))
    state = fever_state((first,), START + timedelta(hours=25), timedelta(hours=24))
    assert state == (EpisodeState.NONE, None, None)


def test_episodes_group_ongoing_until_resolved_when_several_alerts() -> None:
    """The visit summary lists one episode per confirmation, with its follow-ups."""
    decisions = (
        _decision(DecisionType.FEVER_CONFIRMED, START),
        _decision(DecisionType.FEVER_ONGOING, START + timedelta(days=1)),
        _decision(DecisionType.FEVER_RESOLVED, START + timedelta(days=2)),
        _decision(DecisionType.FEVER_CONFIRMED, START + timedelta(days=5)),
    )
    episodes = episodes_from(decisions)
    assert [(len(e.decisions), e.closed is None) for e in episodes] == [(3, False), (1, True)]


@settings(max_examples=50, deadline=None)
@given(
    temps=st.lists(st.floats(25.0, 50.0), max_size=80),
    width=st.integers(18, 200),
    height=st.integers(4, 40),
)
def test_terminal_chart_fits_terminal_when_given_any_bands(
    temps: list[float], width: int, height: int
) -> None:
    """Whatever the log holds, the chart draws without error and no plot line overflows."""
    step = timedelta(minutes=7)
    bands = [
        Bucket(START + step * i, START + step * (i + 1), t - 0.1, t, t + 0.1, 3)
        for i, t in enumerate(temps)
    ]
    data = ChartData(START, START + step * 80, bands, f_to_c(101.0))
    lines = render_text(data, width=width, height=height).splitlines()
    assert len(lines) == height + 4
    assert all(len(line) <= width for line in lines[: height + 2])


def test_kinds_are_named_in_words_by_channel_never_by_internal_name() -> None:
    """Issue 18: "gateway.heartbeat", "fever.confirmed" never reach a person; the same
    kind on the clinic's channel is an alert, on the caregiver's a notice."""
    from portwatch.web.text import kind_words, row_title

    assert kind_words("fever.resolved", "clinic") == "fever-resolved message"
    assert kind_words("fever.resolved", "notify") == "Fever over"
    assert kind_words("summary.daily", "notify") == "Day …: …"
    assert kind_words("gateway.heartbeat", "clinic") == "gateway heartbeat"
    assert row_title("summary.daily", '{"title": "Day 3: no fever"}', "notify") == (
        "Day 3: no fever"
    )
    assert row_title("fever.confirmed", '{"data": {}}', "clinic") == "fever alert"


def test_status_json_day_is_the_screen_day_while_monitoring() -> None:
    from portwatch.web.text import status_json

    facts = status_json(_status())
    assert (facts["day"], facts["period_state"], facts["period"]) == (
        5,
        "monitoring",
        "day 5 of 10",
    )
    assert facts["last_reading"]["age_s"] == 420  # type: ignore[index]


@pytest.mark.parametrize(
    ("trust", "said"),
    [
        (ClockTrust.SYNCHRONISED, None),
        (ClockTrust.ESTIMATED, "not synchronised: times, the day and reminders"),
        (ClockTrust.HELD, "held: the system clock jumped"),
    ],
)
def test_status_says_when_the_gateways_times_are_not_the_synchronised_clocks(
    trust: ClockTrust, said: str | None
) -> None:
    """Found by hand: with the clock never synchronised the service showed "day 1 of 10" on
    day 3 and a reminder from yesterday as the next, with nothing saying why."""
    text = status_text(_status(clock=trust))
    lines = [line.split(None, 1)[1] for line in text.splitlines() if line.startswith("Clock ")]
    assert lines == ([] if said is None else [lines[0]]), text
    if said is not None:
        assert lines[0].startswith(said), text
        assert text.splitlines()[1].startswith("Clock "), text  # right under the day number


def test_status_json_writes_a_value_sent_with_an_exponent_in_plain_digits() -> None:
    """40 °C sent as mantissa 4, exponent +1 is Decimal("4E+1"); `status --json` wrote
    "4E+1", which its schema (plain digits) refuses."""
    from portwatch.web.text import status_json

    sent = replace(_status().latest, value=Decimal("4E+1"), unit=Unit.CELSIUS, celsius=40.0)
    shown = status_json(_status(latest=sent))["last_reading"]
    assert isinstance(shown, dict)
    assert shown["value"] == "40"


def test_ages_never_say_zero_hours_after_the_days() -> None:
    """`status` on a log from months ago said "276 d 0 h ago"."""
    from portwatch.web.view import fmt_ago

    assert fmt_ago(timedelta(days=276)) == "276 d ago"
    assert fmt_ago(timedelta(days=1, hours=4)) == "1 d 4 h ago"
    assert fmt_ago(timedelta(hours=2, minutes=5)) == "2 h 5 min ago"
    assert fmt_ago(timedelta(seconds=30)) == "just now"
