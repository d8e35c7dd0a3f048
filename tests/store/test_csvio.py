"""The CSV format shared by `portwatch import` and `portwatch replay`."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.log.csvio import CsvFormatError, parse_temperature, read_readings
from portwatch.model import ReadingKind, Site, Unit

HEADER = "time,temperature,unit,kind"


def test_read_readings_names_device_after_file_when_no_device_column(tmp_path: Path) -> None:
    """Imported readings must be traceable to the file they came from."""
    path = tmp_path / "week1.csv"
    path.write_text(f"{HEADER}\n2026-11-04T08:30:00+01:00,101.2,F,spot\n")
    (reading,) = read_readings(path)
    assert reading.device == "import:week1.csv"
    assert reading.time == datetime(2026, 11, 4, 7, 30, tzinfo=UTC)
    assert reading.value == Decimal("101.2")
    assert reading.unit is Unit.FAHRENHEIT
    assert reading.celsius == pytest.approx(38.444, abs=1e-3)


def test_read_readings_takes_optional_columns_when_in_any_order() -> None:
    """device, site and interval may follow the required columns in any order."""
    text = f"{HEADER},interval,site,device\n2026-11-04T07:30:00Z,37.1,C,stream,2,armpit,core-1\n"
    (reading,) = read_readings(text)
    assert (reading.device, reading.site, reading.interval_s) == ("core-1", Site.ARMPIT, 2.0)
    assert reading.kind is ReadingKind.STREAM


def test_read_readings_leaves_interval_none_when_stream_row_has_none() -> None:
    """The rule computes the median spacing itself (fever-rule.md §2) when nothing declares it."""
    (reading,) = read_readings(f"{HEADER}\n2026-11-04T07:30:00Z,37.1,C,stream\n")
    assert reading.interval_s is None


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("2026-11-04T07:30:00,37.1,C,spot", "no offset"),
        ("yesterday,37.1,C,spot", "ISO 8601"),
        ("2026-11-04T07:30:00Z,hot,C,spot", "not a number"),
        ("2026-11-04T07:30:00Z,NaN,C,spot", "not a number"),
        ("2026-11-04T07:30:00Z,101.2,C,spot", "impossible"),
        ("2026-11-04T07:30:00Z,37.1,K,spot", "neither C nor F"),
        ("2026-11-04T07:30:00Z,37.1,C,final", "kind"),
        ("2026-11-04T07:30:00Z,37.1,C", "fields"),
        ("2030-01-01T00:00:00Z,37.1,C,spot", "future"),
    ],
)
def test_read_readings_reports_line_number_when_a_line_is_bad(row: str, words: str) -> None:
    """A person must be able to find and fix the bad line; nothing is half-imported."""
    text = f"{HEADER}\n2026-11-04T07:00:00Z,37.0,C,spot\n\n{row}\n"
    with pytest.raises(CsvFormatError) as info:
        read_readings(text, now=datetime(2026, 11, 5, tzinfo=UTC))
    assert info.value.line == 4
    assert words in str(info.value)
    assert "line 4" in str(info.value)


def test_read_readings_refuses_interval_when_row_is_not_stream() -> None:
    """An interval on a spot row is a sign the file is not what its author thinks."""
    with pytest.raises(CsvFormatError, match="only stream rows"):
        read_readings(f"{HEADER},interval\n2026-11-04T07:30:00Z,37.1,C,spot,5\n")


@pytest.mark.parametrize(
    "header", ["temperature,time,unit,kind", "time,temperature,unit,kind,colour", ""]
)
def test_read_readings_reports_line_1_when_header_is_wrong(header: str) -> None:
    """A file in another format must be refused at once, not read as readings."""
    with pytest.raises(CsvFormatError) as info:
        read_readings(f"{header}\n")
    assert info.value.line == 1


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("101.2F", "101.2", Unit.FAHRENHEIT),
        ("38.4C", "38.4", Unit.CELSIUS),
        ("38.4 °c", "38.4", Unit.CELSIUS),
    ],
)
def test_parse_temperature_reads_value_and_unit_when_typed(
    text: str, value: str, unit: Unit
) -> None:
    """`portwatch add` takes what a person reads off an ordinary thermometer."""
    assert parse_temperature(text) == (Decimal(value), unit)


@pytest.mark.parametrize("text", ["38.4", "101.2C", "12F", "abcC"])
def test_parse_temperature_raises_when_unit_missing_or_value_impossible(text: str) -> None:
    """A unit mix-up (101.2 °C) must be caught before it reaches the log."""
    with pytest.raises(ValueError, match=r"\S"):
        parse_temperature(text)


@given(
    rows=st.lists(
        st.tuples(
            st.datetimes(
                min_value=datetime(2020, 1, 1),
                max_value=datetime(2035, 1, 1),
                timezones=st.just(UTC),
            ),
            st.decimals(min_value=Decimal("25.0"), max_value=Decimal("47.0"), places=2),
            st.sampled_from(list(ReadingKind)),
        ),
        max_size=20,
    )
)
def test_read_readings_gives_back_each_row_when_written_by_csv(
    rows: list[tuple[datetime, Decimal, ReadingKind]],
) -> None:
    """Any well-formed file reads back exactly: time, value and kind, in file order."""
    text = HEADER + "\n" + "".join(f"{t.isoformat()},{v},C,{k.value}\n" for t, v, k in rows)
    readings = read_readings(text)
    assert [(r.time, r.value, r.kind) for r in readings] == rows
    assert all(r.time.tzinfo is UTC for r in readings)


@given(text=st.text(max_size=200))
def test_read_readings_raises_only_csv_format_error_when_given_any_text(text: str) -> None:
    """Whatever a file holds, the answer is readings or CsvFormatError, never a crash."""
    line = None
    try:
        read_readings(HEADER + "\n" + text, now=datetime(2026, 1, 1, tzinfo=UTC))
    except CsvFormatError as exc:
        line = exc.line
    assert line is None or line >= 2
