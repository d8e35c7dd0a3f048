"""The readings table: writing readings (live and imported) and reading them back.

Every write refreshes the chart's rollup for the minutes it touched, in the same
transaction (:func:`portwatch.log.rollup.refresh_minutes`).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from portwatch.log.database import Database
from portwatch.log.errors import StoreError
from portwatch.log.rollup import CHART_MINUTE_US, refresh_minutes
from portwatch.log.times import EPOCH, to_us
from portwatch.model import Reading, ReadingKind, Site, Special, Unit

__all__ = ["READING_COLUMNS", "ImportCount", "ImportResult", "Readings", "StoredReading"]

READING_COLUMNS: Final = (
    "id, device, kind, value, unit, celsius, time_us, received_us, device_time, site, "
    "interval_s, special, raw, invalid_reason"
)


@dataclass(frozen=True, slots=True)
class StoredReading:
    """A reading as the log holds it: its row id, the reading, and why it is invalid if so."""

    id: int
    reading: Reading

    @property
    def invalid_reason(self) -> str | None:
        return self.reading.invalid_reason


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What :meth:`Store.import_readings` did: the new rows' ids, and how many it skipped."""

    ids: tuple[int, ...]  # the readings stored now, in the order given
    already_present: int  # readings already in the log (or repeated in the same import)


@dataclass(frozen=True, slots=True)
class ImportCount:
    """What :meth:`Store.import_stream` did: how many readings it stored and skipped."""

    added: int
    already_present: int  # readings already in the log (or repeated in the same import)


class Readings(Database):
    """The log's readings (one part of :class:`~portwatch.log.store.Store`)."""

    def add_readings(self, readings: Sequence[Reading]) -> list[int]:
        """Write readings in one transaction; durable when this returns.

        Returns:
            Their row ids, in the order given.

        Raises:
            StoreUnavailableError: nothing was written (disk full, read-only, failing).
            StoreInputError: a reading has a naive time; nothing was written.
        """
        if not readings:
            return []
        rows = [_reading_row(reading) for reading in readings]
        with self._write("adding readings") as db:
            return _insert_readings(db, rows)

    def import_readings(self, readings: Sequence[Reading]) -> ImportResult:
        """Write the readings not already in the log, in one transaction; idempotent.

        A reading is already in the log when one with the same device, kind, time (to the
        microsecond), unit and value (as a number: ``37.2`` and ``37.20`` are equal) is,
        or comes earlier in `readings`. Readings equal in all but time are different
        readings (a steady temperature), and all of them are kept.

        Raises:
            StoreUnavailableError: nothing was written (disk full, read-only, failing).
            StoreInputError: a reading has a naive time; nothing was written.
        """
        rows = [_reading_row(reading) for reading in readings]
        fresh: list[tuple[Any, ...]] = []
        seen: set[tuple[Any, ...]] = set()
        with self._write("importing readings") as db:
            for row in rows:
                identity = _identity(row[0], row[1], row[2], row[3], row[5])
                if identity in seen:
                    continue
                seen.add(identity)
                logged = db.execute(
                    "SELECT value FROM readings WHERE time_us = ? AND device = ? AND kind = ? "
                    "AND unit = ?",
                    (row[5], row[0], row[1], row[3]),
                ).fetchall()
                if any(_identity(row[0], row[1], v, row[3], row[5]) == identity for (v,) in logged):
                    continue
                fresh.append(row)
            ids = _insert_readings(db, fresh)
        return ImportResult(ids=tuple(ids), already_present=len(rows) - len(ids))

    def import_stream(self, readings: Iterable[Reading], *, batch: int = 5_000) -> ImportCount:
        """:meth:`import_readings` for a file of any length (issue 20): one transaction,
        all or nothing, holding at most `batch` readings in memory at a time.

        A reading repeated anywhere in `readings` is found in the log itself: the batches
        before it are already written, inside the same transaction.

        Raises:
            StoreUnavailableError: nothing was written (disk full, read-only, failing).
            StoreInputError: a reading has a naive time; nothing was written.
            Whatever iterating `readings` raises (a bad line): nothing was written.
        """
        added = present = 0
        remaining = iter(readings)
        with self._write("importing readings") as db:
            while chunk := list(itertools.islice(remaining, batch)):
                rows = [_reading_row(reading) for reading in chunk]
                seen = _logged_around(db, rows)
                fresh: list[tuple[Any, ...]] = []
                for row in rows:
                    identity = _identity(row[0], row[1], row[2], row[3], row[5])
                    if identity in seen or (seen.partial and _logged(db, row, identity)):
                        continue
                    seen.add(identity)
                    fresh.append(row)
                added += len(_insert_readings(db, fresh))
                present += len(chunk) - len(fresh)
        return ImportCount(added=added, already_present=present)

    def iter_readings(
        self, since: datetime | None, until: datetime, *, batch: int = 2_000
    ) -> Iterator[StoredReading]:
        """Readings timed in [since, until) (since None: from the first), in time order,
        read `batch` rows at a time: an export of any length in bounded memory (issue 20).

        Each page starts at a time (an index range); the readings at a page's last time
        come whole with the next page, so equal times are neither lost nor repeated.
        """
        start = to_us(since, "since") if since is not None else -(2**62)
        end = to_us(until, "until")
        page = f"SELECT {READING_COLUMNS} FROM readings WHERE time_us >= ? AND time_us < ? "  # noqa: S608
        while True:
            rows = self._read(page + "ORDER BY time_us, id LIMIT ?", (start, end, batch))
            if len(rows) < batch:
                yield from map(_stored_reading, rows)
                return
            last = rows[-1][6]  # time_us
            earlier = [row for row in rows if row[6] < last]
            if not earlier:  # more than a page at one time: that time alone, whole
                earlier = self._read(page + "ORDER BY id", (last, last + 1))
                last += 1
            yield from map(_stored_reading, earlier)
            start = last

    def readings(
        self,
        since: datetime,
        until: datetime,
        *,
        device: str | None = None,
        kinds: Iterable[ReadingKind] | None = None,
    ) -> list[StoredReading]:
        """Readings timed in [since, until), in time order (then row order)."""
        sql = f"SELECT {READING_COLUMNS} FROM readings WHERE time_us >= ? AND time_us < ?"  # noqa: S608
        params: list[Any] = [to_us(since, "since"), to_us(until, "until")]
        if device is not None:
            sql += " AND device = ?"
            params.append(device)
        if kinds is not None:
            kind_values = [ReadingKind(kind).value for kind in kinds]
            sql += f" AND kind IN ({', '.join('?' * len(kind_values))})"
            params.extend(kind_values)
        sql += " ORDER BY time_us, id"
        return [_stored_reading(row) for row in self._read(sql, params)]

    def readings_after(self, after_id: int, *, limit: int = 10_000) -> list[StoredReading]:
        """Readings with a row id above `after_id`, in id (arrival) order, at most `limit`.

        How the running service finds readings that another process wrote into the log
        (:mod:`portwatch.service.logwatch`, issue 16): remember the last id seen and ask for
        what follows.
        """
        return [
            _stored_reading(row)
            for row in self._read(
                f"SELECT {READING_COLUMNS} FROM readings WHERE id > ? ORDER BY id LIMIT ?",  # noqa: S608
                (after_id, limit),
            )
        ]

    def latest_reading(self) -> StoredReading | None:
        """The reading with the latest time, the last written of equals (None in an empty log).

        Index lookups, whatever the log's size: the latest time from the end of the time
        index (SQLite answers a MAX over an index's first column there), the highest row id
        among the few index entries at that time, then that row by its id. (``ORDER BY
        time_us DESC, id DESC`` matches no index and sorted the whole log.)
        """
        rows = self._read(
            f"SELECT {READING_COLUMNS} FROM readings WHERE id = ("  # noqa: S608
            "SELECT MAX(id) FROM readings WHERE time_us = (SELECT MAX(time_us) FROM readings))"
        )
        return _stored_reading(rows[0]) if rows else None

    def reading_count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM readings")[0][0])


# A batch of an import spanning at most this much time finds the readings already logged
# in its span with one query (a file in time order: a few thousand rows); a wider batch (a
# file out of order) asks per reading instead, so that memory stays bounded.
IMPORT_SPAN_US: Final = 2 * 3_600_000_000


class _Identities(set[tuple[Any, ...]]):
    """The identities of readings logged in a batch's span; ``partial``: only this batch's."""

    partial = False


def _logged_around(db: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> _Identities:
    found = _Identities()
    low, high = min(row[5] for row in rows), max(row[5] for row in rows)
    if high - low > IMPORT_SPAN_US:
        found.partial = True
        return found
    query = "SELECT device, kind, value, unit, time_us FROM readings WHERE time_us BETWEEN ? AND ?"
    found.update(_identity(*logged) for logged in db.execute(query, (low, high)))
    return found


def _logged(db: sqlite3.Connection, row: tuple[Any, ...], identity: tuple[Any, ...]) -> bool:
    """Whether the reading of `row` is in the log already (one index lookup)."""
    logged = db.execute(
        "SELECT value FROM readings WHERE time_us = ? AND device = ? AND kind = ? AND unit = ?",
        (row[5], row[0], row[1], row[3]),
    ).fetchall()
    return any(_identity(row[0], row[1], v, row[3], row[5]) == identity for (v,) in logged)


def _insert_readings(db: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> list[int]:
    """Insert reading rows (from :func:`_reading_row`) and their minutes' rollup; ids back.

    Call inside a write transaction: the rollup changes with its readings or not at all.
    """
    if not rows:
        return []
    # One writer inside BEGIN IMMEDIATE: the next ids are ours to assign.
    first = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM readings").fetchone()[0]
    ids = list(range(first, first + len(rows)))
    db.executemany(
        f"INSERT INTO readings ({READING_COLUMNS}) "  # noqa: S608 (constant columns)
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(row_id, *row) for row_id, row in zip(ids, rows, strict=True)],
    )
    refresh_minutes(db, {row[5] // CHART_MINUTE_US for row in rows})
    return ids


def _identity(
    device: str, kind: str, value: str | None, unit: str, time_us: int
) -> tuple[Any, ...]:
    """What makes two readings the same reading, for import (value compared as a number)."""
    return (device, kind, None if value is None else Decimal(value), unit, time_us)


def _reading_row(reading: Reading) -> tuple[Any, ...]:
    return (
        reading.device,
        ReadingKind(reading.kind).value,
        None if reading.value is None else str(reading.value),
        Unit(reading.unit).value,
        reading.celsius,
        to_us(reading.time, "reading time"),
        to_us(reading.received_at, "reading received_at"),
        None if reading.device_time is None else reading.device_time.isoformat(),
        None if reading.site is None else Site(reading.site).value,
        reading.interval_s,
        None if reading.special is None else Special(reading.special).value,
        reading.raw,
        reading.invalid_reason,
    )


# Rows to readings (issue 4 follow-up: a day of a 1/s stream read for the log page and the
# export). Enum members by value from a dict, not by calling the enum class (which goes
# through EnumType.__call__ and was a third of the time), and each temperature's text parsed
# once: a stream repeats the same few hundred values, and Decimals are immutable, so sharing
# one is invisible to callers.
_KIND_OF: Final = {member.value: member for member in ReadingKind}
_UNIT_OF: Final = {member.value: member for member in Unit}
_SITE_OF: Final = {member.value: member for member in Site}
_SPECIAL_OF: Final = {member.value: member for member in Special}
_DECIMAL_CACHE_SIZE: Final = 4_096  # distinct value texts kept; a 0.01 °C grid 30-45 °C is 1,501
_decimals: dict[str, Decimal] = {}


def _decimal(text: str) -> Decimal:
    value = _decimals.get(text)
    if value is None:
        if len(_decimals) >= _DECIMAL_CACHE_SIZE:
            _decimals.clear()
        value = _decimals[text] = Decimal(text)
    return value


def _stored_reading(row: Sequence[Any]) -> StoredReading:
    """A row of `READING_COLUMNS` as the reading it stores (the hot path of every read).

    Raises:
        StoreError: the row holds a kind, unit, site or special value this portwatch does
            not know (written by a newer one, or altered by hand).
    """
    (
        row_id,
        device,
        kind,
        value,
        unit,
        celsius,
        time_us,
        received_us,
        device_time,
        site,
        interval_s,
        special,
        raw,
        invalid_reason,
    ) = row
    try:
        kind_member = _KIND_OF[kind]
        unit_member = _UNIT_OF[unit]
        site_member = None if site is None else _SITE_OF[site]
        special_member = None if special is None else _SPECIAL_OF[special]
    except KeyError as exc:
        raise StoreError(
            f"the log's reading {row_id} holds {exc.args[0]!r}, which this portwatch does not "
            "know as a kind, unit, site or special value"
        ) from None
    time = EPOCH + timedelta(0, 0, time_us)
    # Positional, in Reading's field order: keywords cost a tenth of the time here. Equal
    # instants share one (immutable) datetime: most readings carry no time of their own.
    return StoredReading(
        row_id,
        Reading(
            device,
            kind_member,
            None if value is None else _decimal(value),
            unit_member,
            celsius,
            time,
            time if received_us == time_us else EPOCH + timedelta(0, 0, received_us),
            None if device_time is None else datetime.fromisoformat(device_time),
            site_member,
            interval_s,
            special_member,
            raw,
            invalid_reason,
        ),
    )
