"""Whatever the link can emit, the log gives back exactly (Hypothesis)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from portwatch.log.store import Store
from portwatch.model import Reading, ReadingKind, Site, Special, Unit

_times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_readings = st.builds(
    Reading,
    device=st.text(min_size=1, max_size=20),
    kind=st.sampled_from(ReadingKind),
    value=st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=3)),
    unit=st.sampled_from(Unit),
    celsius=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    time=_times,
    received_at=_times,
    device_time=st.one_of(st.none(), st.datetimes(min_value=datetime(1971, 1, 1))),
    site=st.one_of(st.none(), st.sampled_from(Site)),
    interval_s=st.one_of(st.none(), st.floats(min_value=0, max_value=1e6)),
    special=st.one_of(st.none(), st.sampled_from(Special)),
    raw=st.binary(max_size=40),
    invalid_reason=st.one_of(st.none(), st.text(max_size=30)),
)


@settings(max_examples=30, deadline=None)
@given(readings=st.lists(_readings, min_size=1, max_size=8))
def test_readings_come_back_exactly_when_stored(readings: list[Reading]) -> None:
    """The clinic's record must hold every field as the link reported it, to the microsecond."""
    with tempfile.TemporaryDirectory() as directory, Store.open(Path(directory) / "l.db") as store:
        ids = store.add_readings(readings)
        by_id = {
            s.id: s.reading
            for s in store.readings(
                datetime(1970, 1, 1, tzinfo=UTC), datetime(2101, 1, 1, tzinfo=UTC)
            )
        }
    assert [by_id[i] for i in ids] == readings
