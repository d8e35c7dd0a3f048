"""The stale-data watch: 30 min, 10 min while a fever is pending, 'back', pauses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.service.watch import PauseError, StaleSay, make_pause, stale_state

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def test_nothing_said_when_silent_less_than_30_minutes() -> None:
    """29 minutes without a reading is normal; look again when 30 are up."""
    check = stale_state(T0, [], False, T0 + 29 * MIN)
    assert check.say is None
    assert check.next_check == T0 + 30 * MIN


def test_stale_said_once_when_silent_30_minutes() -> None:
    """The caregiver hears once, not every few minutes, while no fever is pending."""
    assert stale_state(T0, [], False, T0 + 30 * MIN).say is StaleSay.STALE
    again = stale_state(T0, [], False, T0 + 45 * MIN, last_notice=T0 + 30 * MIN)
    assert again.say is None


def test_stale_said_every_10_minutes_when_fever_is_pending() -> None:
    """Sooner and repeated while a recheck is due: this silence can hide a fever."""
    first = stale_state(T0, [], True, T0 + 10 * MIN)
    assert first.say is StaleSay.STALE_PENDING
    assert first.next_check == T0 + 20 * MIN
    quiet = stale_state(T0, [], True, T0 + 15 * MIN, last_notice=T0 + 10 * MIN)
    assert (quiet.say, quiet.next_check) == (None, T0 + 20 * MIN)
    assert stale_state(T0, [], True, T0 + 20 * MIN, last_notice=T0 + 10 * MIN).say is (
        StaleSay.STALE_PENDING
    )


def test_back_said_when_a_reading_arrives_after_a_stale_notice() -> None:
    """The caregiver who was warned is told the thermometer works again."""
    check = stale_state(T0 + 50 * MIN, [], False, T0 + 50 * MIN, last_notice=T0 + 30 * MIN)
    assert check.say is StaleSay.BACK


def test_nothing_said_when_pause_covers_the_silence() -> None:
    """A 30 min shower pause: no stale notice during it, the count resumes after it."""
    pause = make_pause(T0 + 5 * MIN, 30 * MIN, "shower")
    during = stale_state(T0, [pause], False, T0 + 34 * MIN)
    assert during.say is None
    assert during.paused_until == T0 + 35 * MIN
    assert during.next_check == T0 + 60 * MIN
    assert stale_state(T0, [pause], False, T0 + 59 * MIN).say is None
    assert stale_state(T0, [pause], False, T0 + 60 * MIN).say is StaleSay.STALE


def test_pause_is_ignored_when_fever_is_pending() -> None:
    """A pause never silences the fever path."""
    pause = make_pause(T0, timedelta(hours=2), "shower")
    assert stale_state(T0, [pause], True, T0 + 10 * MIN).say is StaleSay.STALE_PENDING


def test_pause_counts_at_most_2_hours_when_note_claims_longer() -> None:
    """A longer note read back from the log cannot silence the watch beyond the limit."""
    from portwatch.service.watch import Pause

    pause = Pause(T0, T0 + timedelta(hours=10), "forged")
    assert stale_state(T0, [pause], False, T0 + timedelta(hours=2, minutes=30)).say is (
        StaleSay.STALE
    )


@pytest.mark.parametrize("duration", [timedelta(0), timedelta(hours=2, seconds=1)])
def test_pause_is_refused_when_duration_is_out_of_range(duration: timedelta) -> None:
    """At most 2 h off the body (issue 7), and a pause of nothing is a mistake."""
    with pytest.raises(PauseError, match="at most 2:00:00"):
        make_pause(T0, duration, "shower")


@given(
    st.integers(min_value=0, max_value=600),
    st.lists(st.tuples(st.integers(0, 600), st.integers(1, 120)), max_size=4),
    st.booleans(),
)
def test_unpaused_silence_never_exceeds_limit_without_a_notice(
    minutes: int, spans: list[tuple[int, int]], pending: bool
) -> None:
    """Whatever the pauses, silence of limit or more (unpaused) always says something."""
    pauses = [make_pause(T0 + s * MIN, d * MIN, "test") for s, d in spans]
    check = stale_state(T0, pauses, pending, T0 + minutes * MIN)
    limit = 10 * MIN if pending else 30 * MIN
    assert (check.say is not None) == (check.silent_for >= limit)
    assert check.silent_for <= minutes * MIN
    assert check.next_check > T0 + minutes * MIN or check.say is not None
