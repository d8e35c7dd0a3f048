"""`portwatch add`, `import` and `purge` against a real log file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from portwatch.cli import main as cli
from portwatch.cli.commands._log import parse_when
from portwatch.log.store import Store
from portwatch.model import Reading, ReadingKind, Site, Unit

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def _all(db: Path) -> list[Reading]:
    with Store.open(db) as store:
        return [s.reading for s in store.readings(EPOCH, FAR)]


def test_add_records_manual_spot_reading_when_given_fahrenheit(db_path: Path) -> None:
    """A patient whose Bluetooth thermometer failed must still be counted by the rule."""
    status = cli.main(
        [
            "add",
            "101.2F",
            "--at",
            "2026-11-04T08:30:00+01:00",
            "--site",
            "mouth",
            "--db",
            str(db_path),
        ]
    )
    assert status == 0
    (reading,) = _all(db_path)
    assert reading.kind is ReadingKind.SPOT
    assert reading.device == "manual"
    assert (reading.value, reading.unit) == (Decimal("101.2"), Unit.FAHRENHEIT)
    assert reading.site is Site.MOUTH
    assert reading.time == datetime(2026, 11, 4, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize("typed", ["101.2C", "38.4", "warm"])
def test_add_refuses_and_writes_nothing_when_temperature_is_implausible(
    db_path: Path, typed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A unit mix-up must be caught at the keyboard, not reach the clinic (status 2 for bad
    input, issue 21)."""
    assert cli.main(["add", typed, "--db", str(db_path)]) == 2
    assert capsys.readouterr().err.startswith("portwatch add:")
    assert not db_path.exists()


def test_add_refuses_when_time_is_in_the_future(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reading from tomorrow is a typing error (fever-rule.md §1, 5 minutes ahead)."""
    assert cli.main(["add", "38.0C", "--at", "2099-01-01T00:00Z", "--db", str(db_path)]) == 2
    assert "future" in capsys.readouterr().err


def test_import_adds_every_row_when_file_is_good(tmp_path: Path, db_path: Path) -> None:
    """A day's readings from another thermometer's app land in the log at their own times,
    as manual readings that count for the rule (fever-rule.md §8; "import:day1.csv" before)."""
    csv = tmp_path / "day1.csv"
    csv.write_text(
        "time,temperature,unit,kind,site\n"
        "2026-11-04T08:30:00+01:00,37.2,C,spot,armpit\n"
        "2026-11-04T12:30:00+01:00,100.1,F,spot,\n"
    )
    assert cli.main(["import", str(csv), "--db", str(db_path)]) == 0
    readings = _all(db_path)
    assert [r.device for r in readings] == ["manual"] * 2


def test_import_stores_nothing_again_and_says_so_when_same_file_imported_twice(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Importing a file twice must not double readings (the rule would count them twice)."""
    csv = tmp_path / "day1.csv"
    csv.write_text(
        "time,temperature,unit,kind\n"
        "2026-11-04T08:30:00+01:00,37.2,C,spot\n"
        "2026-11-04T12:30:00+01:00,100.1,F,spot\n"
    )
    assert cli.main(["import", str(csv), "--db", str(db_path)]) == 0
    assert "imported 2 new readings" in capsys.readouterr().out
    csv.write_text(csv.read_text() + "2026-11-04T16:30:00+01:00,100.1,F,spot\n")
    assert cli.main(["import", str(csv), "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert "imported 1 new readings" in out
    assert "2 already present" in out
    assert len(_all(db_path)) == 3


def test_import_imports_nothing_and_names_line_when_one_row_is_bad(
    tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """All or nothing: a half-imported file would be worse than none."""
    csv = tmp_path / "bad.csv"
    csv.write_text(
        "time,temperature,unit,kind\n"
        "2026-11-04T08:30:00+01:00,37.2,C,spot\n"
        "2026-11-04T09:30:00+01:00,37.2,C,final\n"
    )
    assert cli.main(["import", str(csv), "--db", str(db_path)]) == 2
    assert "line 3" in capsys.readouterr().err
    assert not db_path.exists()


def test_purge_asks_and_removes_nothing_when_not_confirmed(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deleting health records needs a yes from a person (stdin is not a terminal here)."""
    cli.main(["add", "37.0C", "--at", "2026-01-01T08:00Z", "--db", str(db_path)])
    assert cli.main(["purge", "--before", "2026-02-01", "--db", str(db_path)]) == 1
    assert "1 readings" in capsys.readouterr().out
    assert len(_all(db_path)) == 1


def test_purge_removes_and_counts_when_confirmed_with_yes(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--yes` is for scripts: it removes and reports the count."""
    cli.main(["add", "37.0C", "--at", "2026-01-01T08:00Z", "--db", str(db_path)])
    cli.main(["add", "37.1C", "--at", "2026-03-01T08:00Z", "--db", str(db_path)])
    assert cli.main(["purge", "--before", "2026-02-01T00:00Z", "--yes", "--db", str(db_path)]) == 0
    assert "removed 1 rows" in capsys.readouterr().out
    assert len(_all(db_path)) == 1


def test_parse_when_reads_hh_mm_as_today_when_no_date_given() -> None:
    """`--at 08:30` is how a person says "this morning"."""
    now = datetime(2026, 11, 4, 15, 0, tzinfo=UTC)
    local = parse_when("08:30", now).astimezone(now.astimezone().tzinfo)
    assert (local.date(), local.hour, local.minute) == (now.astimezone().date(), 8, 30)
    assert parse_when("2026-11-04T08:30+01:00", now) == datetime(2026, 11, 4, 7, 30, tzinfo=UTC)
    assert parse_when("2026-11-04T08:30Z", now) - now == timedelta(hours=-6, minutes=-30)
