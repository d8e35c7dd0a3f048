"""Exports of the log: readings as CSV in the format `portwatch import` reads.

The log is read one day at a time so that ten days of a one-per-second stream never sit
in memory at once.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from typing import Final, TextIO

from portwatch.store import Store

# The import format (store/csvio.py): required columns, then the optional ones we know.
CSV_COLUMNS: Final = ("time", "temperature", "unit", "kind", "device", "site", "interval")
CHUNK: Final = timedelta(days=1)
# The log keeps the monitored period plus 90 days (issue 4, retention): "everything"
# reaches back this far.
ALL_SPAN: Final = timedelta(days=10 + 90)


def write_csv(store: Store, out: TextIO, since: datetime, until: datetime) -> tuple[int, int]:
    """Write the valid readings in [since, until) to `out`; returns (written, left out).

    Readings without a temperature or marked invalid are left out: the import format has
    no place for a reason, and `portwatch log` shows them with theirs.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    written = invalid = 0
    start = since
    while start < until:
        end = min(start + CHUNK, until)
        for stored in store.readings(start, end):
            r = stored.reading
            if r.invalid_reason is not None or r.value is None:
                invalid += 1
                continue
            writer.writerow(
                (
                    r.time.isoformat(),
                    str(r.value),
                    r.unit.value,
                    r.kind.value,
                    r.device,
                    r.site.value if r.site is not None else "",
                    f"{r.interval_s:g}" if r.interval_s is not None else "",
                )
            )
            written += 1
        start = end
    return written, invalid
