"""An unclosed quote in a CSV file is reported where it opens (found by the input campaign)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portwatch.log.csvio import CsvFormatError, read_readings

HEADER = "time,temperature,unit,kind"


def test_read_readings_names_the_quote_line_when_a_quote_is_not_closed() -> None:
    """The csv module reports the file's last line; a person must be sent to the quote."""
    text = "\n".join(
        [
            HEADER,
            "2026-11-04T07:00:00Z,37.0,C,spot",
            '2026-11-04T07:30:00Z,"37.1,C,spot',
            "2026-11-04T08:00:00Z,37.2,C,spot",
            "2026-11-04T08:30:00Z,37.3,C,spot",
        ]
    )
    with pytest.raises(CsvFormatError) as info:
        read_readings(text, now=datetime(2026, 11, 5, tzinfo=UTC))
    assert info.value.line == 3
