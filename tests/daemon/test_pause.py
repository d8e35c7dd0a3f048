"""`portwatch pause`: a note in the real log, at most 2 h, never touching fever alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portwatch.cli import main as cli
from portwatch.log.store import Store

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def test_pause_writes_a_note_of_its_length_when_within_2_hours(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The note marks the gap in the log; the stale watch reads it as a pause."""
    db = tmp_path / "portwatch.db"
    assert cli.main(["pause", "30m", "--reason", "shower", "--db", str(db)]) == 0
    with Store.open(db) as store:
        (note,) = store.notes(EPOCH, FAR)
    assert note.reason == "shower"
    assert note.end - note.start == timedelta(minutes=30)
    out = capsys.readouterr().out
    assert "Fever alerts are not paused." in out


@pytest.mark.parametrize(
    ("duration", "message"),
    [("3h", "at most 2:00:00"), ("soon", "expected a duration"), ("0m", "more than zero")],
)
def test_pause_is_refused_and_nothing_written_when_duration_is_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], duration: str, message: str
) -> None:
    """Longer than 2 h off the body is refused (issue 7); a typo is not a pause."""
    db = tmp_path / "portwatch.db"
    assert cli.main(["pause", duration, "--reason", "shower", "--db", str(db)]) == 1
    assert message in capsys.readouterr().err
    assert not db.exists()
