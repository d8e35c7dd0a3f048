"""The CSV format shared by `portwatch import` and `portwatch replay`."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.log.csvio import CsvFormatError, parse_temperature, read_readings
from portwatch.model import MANUAL_DEVICE, ReadingKind, Site, Unit

HEADER = "time,temperature,unit,kind"


def test_read_readings_makes_rows_manual_readings_when_no_device_column(tmp_path: Path) -> None:
    """fever-rule.md §8: a row without a device is a manual reading, as `portwatch add`
    stores one, so that it counts (as "import:<file>" the rule ignored it, issue 16)."""
    path = tmp_path / "week1.csv"
    path.write_text(f"{HEADER}\n2026-11-04T08:30:00+01:00,101.2,F,spot\n")
    (reading,) = read_readings(path)
    assert reading.device == MANUAL_DEVICE == "manual"
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
        ("2026-11-04T07:30:00Z,37.1,K,spot", "neither C nor F"),
        ("2026-11-04T07:30:00Z,37.1,C,final", "kind"),
        ("2026-11-04T07:30:00Z,37.1,C", "fields"),
        ("0001-01-01T00:00:00+05:00,37.1,C,spot", "out of range"),
        ("0001-01-01T00:00:00Z,37.1,C,spot", "out of range"),
        ("9999-12-31T23:59:59-05:00,37.1,C,spot", "out of range"),
        ("2026-11-04T07:30:00Z,1E9999999,C,spot", "not a temperature"),
        ("2026-11-04T07:30:00Z,38,5,C,spot", "fields"),
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


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2026-11-04T07:30:00Z,101.2,C,spot", "101.20 °C is outside 30.0-45.0 °C"),
        ("2026-11-04T07:30:00Z,29.9,C,spot", "29.90 °C is outside 30.0-45.0 °C"),
        ("2030-01-01T00:00:00Z,37.1,C,spot", "ahead of the receiving clock"),
        ("2026-10-01T00:00:00Z,37.1,C,spot", "before the placement less one day"),
    ],
)
def test_read_readings_keeps_a_readable_implausible_row_as_invalid_with_its_reason(
    row: str, reason: str
) -> None:
    """fever-rule.md §8: only an unreadable line refuses a file; this one is kept, invalid."""
    text = f"{HEADER}\n2026-11-04T07:00:00Z,37.0,C,spot\n{row}\n"
    first, second = read_readings(
        text, now=datetime(2026, 11, 5, tzinfo=UTC), placement=datetime(2026, 11, 3, tzinfo=UTC)
    )
    assert first.invalid_reason is None
    assert second.invalid_reason is not None
    assert reason in second.invalid_reason


def test_read_readings_keeps_each_raw_line_on_its_row_when_a_cell_holds_u2028() -> None:
    """A line separator inside a cell is no line end for csv: str.splitlines said it was,
    and every later row was stored with the raw line before it (issue 21)."""
    rows = ("2026-11-04T07:00:00Z,37.0,C,spot,a\u2028b", "2026-11-04T07:01:00Z,37.5,C,spot,c")
    text = f"{HEADER},device\n{rows[0]}\n{rows[1]}\n"
    first, second = read_readings(text)
    assert first.raw == "2026-11-04T07:00:00Z,37.0,C,spot,a\u2028b".encode()
    assert second.raw == b"2026-11-04T07:01:00Z,37.5,C,spot,c"


def test_read_readings_names_the_line_when_the_file_is_not_utf8(tmp_path: Path) -> None:
    """A Latin-1 file was a UnicodeDecodeError traceback (issue 21)."""
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER},device\n2026-11-04T07:00:00Z,37.0,C,spot,J\xe9\n".encode("latin-1"))
    with pytest.raises(CsvFormatError, match="not UTF-8") as info:
        read_readings(path)
    assert info.value.line == 2


def test_parse_temperature_hints_at_the_decimal_point_when_typed_with_a_comma() -> None:
    """38,5C is how much of Europe writes it; say what to type instead."""
    with pytest.raises(ValueError, match=r"decimal point.*38\.5"):
        parse_temperature("38,5C")


@pytest.mark.parametrize("text", ["1E9999999F", f"{'9' * 400}F", "-1E-9999999C"])
def test_parse_temperature_raises_value_error_when_the_number_is_absurd(text: str) -> None:
    """1E9999999F raised decimal.Overflow (a traceback) before (issue 21)."""
    with pytest.raises(ValueError, match="temperature"):
        parse_temperature(text)


def test_read_readings_takes_a_list_typed_by_a_person_in_the_patients_zone() -> None:
    """A caregiver types `time,temperature,unit` and times as their own clock shows them:
    read in the patient's zone (summer and winter time alike), spot readings, manual."""
    from zoneinfo import ZoneInfo

    text = "time,temperature,unit\n2026-11-04 08:30,101.2,F\n2026-07-04 08:30,38.1,C\n"
    winter, summer = read_readings(text, zone=ZoneInfo("America/New_York"))
    assert winter.time == datetime(2026, 11, 4, 13, 30, tzinfo=UTC)  # EST, UTC-5
    assert summer.time == datetime(2026, 7, 4, 12, 30, tzinfo=UTC)  # EDT, UTC-4
    assert {winter.kind, summer.kind} == {ReadingKind.SPOT}
    assert {winter.device, summer.device} == {MANUAL_DEVICE}


def test_read_readings_refuses_a_time_without_offset_when_no_zone_is_known() -> None:
    """Without settings nobody knows whose clock a bare time is on: the line is refused,
    and the message says how to write it."""
    with pytest.raises(CsvFormatError, match=r"line 2: .*has no offset.*patient's time zone"):
        read_readings("time,temperature,unit\n2026-11-04 08:30,101.2,F\n")


def test_read_readings_refuses_an_empty_kind_cell_when_the_file_has_a_kind_column() -> None:
    """Without a kind column a typed list is spot readings; in a kind column, an empty cell
    is as unreadable as an unknown kind (fever-rule.md §8; the input campaign's case)."""
    with pytest.raises(CsvFormatError, match=r"line 2: kind '' is not one of"):
        read_readings(f"{HEADER}\n2026-11-04T08:30:00+01:00,101.2,F,\n")
