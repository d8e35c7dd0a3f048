"""The daemon's memory of the fever episode (service/fever_state.py), from the rule's
decisions: what the status line says and when the silence watch speaks sooner."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from portwatch.model import Decision, DecisionType
from portwatch.service.fever_state import FeverState

AT = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)  # a Wednesday


def _decision(kind: DecisionType, time: datetime, due: datetime | None = None) -> Decision:
    return Decision(id=uuid.uuid4(), type=kind, time=time, summary="", due=due)


def _state() -> FeverState:
    return FeverState(timedelta(hours=24), timedelta(hours=4), UTC)


def test_first_high_reading_sets_recheck_text_and_pending_until_the_pair_window_ends() -> None:
    state = _state()
    state.track([_decision(DecisionType.ELEVATED_FIRST, AT, due=AT + timedelta(hours=4))])
    assert state.text == "recheck due Wed 13:30 UTC"
    assert state.pending(AT + timedelta(hours=23))
    assert not state.pending(AT + timedelta(hours=24))
    assert not state.open


def test_recheck_time_defaults_to_min_separation_when_the_decision_names_none() -> None:
    state = _state()
    state.track([_decision(DecisionType.ELEVATED_FIRST, AT)])
    assert state.text == "recheck due Wed 13:30 UTC"


def test_recheck_due_is_kept_for_the_watch_until_the_fever_is_confirmed() -> None:
    """Issue 19: a spot thermometer's watch waits for the recheck's due time, not 10 min."""
    state = _state()
    state.track([_decision(DecisionType.ELEVATED_FIRST, AT, due=AT + timedelta(hours=4))])
    assert state.recheck_due == AT + timedelta(hours=4)
    state.track([_decision(DecisionType.FEVER_CONFIRMED, AT + timedelta(hours=5))])
    assert state.recheck_due is None


def test_confirmed_fever_opens_the_episode_and_ends_the_wait_for_a_pair() -> None:
    state = _state()
    state.track(
        [
            _decision(DecisionType.ELEVATED_FIRST, AT),
            _decision(DecisionType.FEVER_CONFIRMED, AT + timedelta(hours=5)),
        ]
    )
    assert (state.text, state.open, state.pending(AT + timedelta(hours=6))) == (
        "fever confirmed",
        True,
        False,
    )


def test_resolved_fever_closes_the_episode_and_clears_the_text() -> None:
    state = _state()
    state.track([_decision(DecisionType.FEVER_CONFIRMED, AT)])
    state.track([_decision(DecisionType.FEVER_RESOLVED, AT + timedelta(days=1))])
    assert (state.text, state.open, state.pending_until) == (None, False, None)


def test_invalid_readings_and_recheck_reminders_change_nothing() -> None:
    state = _state()
    state.track([_decision(DecisionType.FEVER_CONFIRMED, AT)])
    state.track(
        [
            _decision(DecisionType.READING_INVALID, AT + timedelta(minutes=1)),
            _decision(DecisionType.RECHECK_DUE, AT + timedelta(minutes=2)),
        ]
    )
    assert (state.text, state.open) == ("fever confirmed", True)
