"""The link's pure parts: backoff, adapter health, clock offset, pin file."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.ble.pin import Pin, PinError, load_pin, save_pin
from portwatch.ble.timing import (
    ADAPTER_RESET_MIN_GAP_S,
    ADAPTER_SILENCE_S,
    AdapterWatch,
    ClockOffset,
    backoff_s,
)


def test_backoff_is_zero_when_link_was_lost_cleanly() -> None:
    """After a clean loss the link tries again at once: no reading is delayed needlessly."""
    assert backoff_s(0, random.Random(1)) == 0.0


@given(failures=st.integers(min_value=1, max_value=10_000), seed=st.integers(0, 2**32))
def test_backoff_stays_within_cap_when_failures_pile_up(failures: int, seed: int) -> None:
    """Reconnect forever, but never wait more than 60 s (issue 3)."""
    wait = backoff_s(failures, random.Random(seed))
    assert 0.5 <= wait <= 60.0


def test_backoff_grows_exponentially_when_failures_repeat() -> None:
    """1, 2, 4, 8 s ceilings (jittered down by at most half)."""
    rng = random.Random(5)
    waits = [backoff_s(n, rng) for n in (1, 2, 3, 4)]
    assert [w <= c for w, c in zip(waits, (1, 2, 4, 8), strict=True)] == [True] * 4
    assert [w >= c / 2 for w, c in zip(waits, (1, 2, 4, 8), strict=True)] == [True] * 4


def test_adapter_watch_is_due_when_silent_for_five_minutes() -> None:
    """Five silent minutes while the thermometer should be in range call for a reset."""
    watch = AdapterWatch(last_success=0.0)
    assert not watch.due(ADAPTER_SILENCE_S - 1)
    assert watch.due(ADAPTER_SILENCE_S)


def test_adapter_watch_is_not_due_when_reset_within_fifteen_minutes() -> None:
    """At most one power-cycle per 15 minutes, however long the silence lasts."""
    watch = AdapterWatch(last_success=0.0)
    watch.reset(ADAPTER_SILENCE_S)
    assert not watch.due(ADAPTER_SILENCE_S + ADAPTER_RESET_MIN_GAP_S - 1)
    assert watch.due(ADAPTER_SILENCE_S + ADAPTER_RESET_MIN_GAP_S)


def test_clock_offset_corrects_stored_stamp_when_learned_from_live_reading() -> None:
    """A clock 90 s slow is learned live; a stored stamp is then shifted by 90 s."""
    offset = ClockOffset(UTC)
    received = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    offset.observe(datetime(2026, 3, 2, 7, 58, 30), received, 100.0)
    assert offset.offset_s == -90
    assert offset.correct(datetime(2026, 3, 2, 5, 58, 30)) == received - timedelta(hours=2)


def test_clock_offset_ignores_delayed_reading_when_live_one_is_known() -> None:
    """A stored (late) measurement looks like a huge error; the least-delayed one wins."""
    offset = ClockOffset(UTC)
    received = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    offset.observe(datetime(2026, 3, 2, 8, 0, 0), received, 100.0)
    offset.observe(datetime(2026, 3, 2, 5, 0, 0), received, 101.0)
    assert offset.offset_s == 0


def test_clock_offset_reads_stamp_in_gateway_zone_when_zone_is_not_utc() -> None:
    """Device stamps carry no zone: they are read in the gateway's (fever-rule.md §1)."""
    offset = ClockOffset(timezone(timedelta(hours=-5)))
    assert offset.correct(datetime(2026, 3, 2, 3, 0)) == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_pin_round_trips_when_saved_and_loaded(tmp_path: Path) -> None:
    """What `portwatch pair` writes is what the link reads."""
    pin = Pin("D0:00:00:00:00:01", "Spot", "hts", {"serial": "VT-1"})
    save_pin(tmp_path, pin)
    assert load_pin(tmp_path) == pin


def test_pin_load_raises_with_advice_when_nothing_is_pinned(tmp_path: Path) -> None:
    """The daemon must tell a person to pair, not crash with a bare FileNotFoundError."""
    with pytest.raises(PinError, match="portwatch pair"):
        load_pin(tmp_path)


def test_pin_load_raises_when_file_lacks_address(tmp_path: Path) -> None:
    """A hand-edited pin file with a missing field is named as such."""
    (tmp_path / "pinned.json").write_text('{"driver": "hts"}')
    with pytest.raises(PinError, match="address"):
        load_pin(tmp_path)
