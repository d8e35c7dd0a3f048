"""The log: every reading, event, decision and alert, kept in one SQLite file.

One writer (:class:`Store`, synchronous; the daemon runs it on one dedicated thread, and
:class:`portwatch.log.writer.ReadingWriter` batches readings onto it) and any number of
readers (:meth:`Store.open_reader`, read-only connections; WAL lets them read while the
writer writes, each query seeing whole transactions only).

Times are stored as integer microseconds since the Unix epoch, UTC (columns ending in
``_us``): sortable, compact and exact. They are always bound parameters; SQL never reads
the clock. Every commit is durable on return (WAL with ``synchronous=FULL``: the write-ahead
log is flushed to the card before a commit returns, so a power cut loses nothing
acknowledged).

Errors: everything this module raises is a :class:`StoreError`. :class:`StoreDamagedError`
and :class:`StoreTooNewError` at open mean the file is left exactly as found;
:class:`StoreUnavailableError` means the disk is full, read-only or failing (retry later);
:class:`StoreInputError` (also a ``ValueError``) is a bad argument.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sqlite3
import stat
import statistics
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Self

from portwatch.log import files
from portwatch.model import (
    Decision,
    DecisionType,
    LinkEvent,
    LinkEventKind,
    Observation,
    Reading,
    ReadingKind,
    Site,
    Special,
    Symptom,
    Unit,
)

__all__ = [
    "SCHEMA_VERSION",
    "Bucket",
    "ImportResult",
    "Note",
    "OutboxEntry",
    "OutboxRow",
    "OutboxStatus",
    "Store",
    "StoreDamagedError",
    "StoreError",
    "StoreInputError",
    "StoreTooNewError",
    "StoreUnavailableError",
    "StoredReading",
    "SymptomReport",
    "check",
    "default_db_path",
]

DB_FILE_NAME: Final = "portwatch.db"
STATE_DIRECTORY_ENV: Final = "PORTWATCH_STATE_DIRECTORY"
DEFAULT_STATE_DIRECTORY: Final = Path("/var/lib/portwatch")

# How long a connection waits for another's lock before failing (issue 4: readers and the
# writer at the same time without "database is locked"). WAL readers never block the writer;
# this covers checkpoints and a second process opening the file.
BUSY_TIMEOUT_MS: Final = 10_000

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# SQLite primary result codes (https://sqlite.org/rescode.html) that mean "the disk cannot
# take this now": full, read-only, I/O error, cannot open, locked too long.
# FULL 13, READONLY 8, IOERR 10, CANTOPEN 14, BUSY 5, LOCKED 6.
_UNAVAILABLE_CODES: Final = frozenset({13, 8, 10, 14, 5, 6})
_DAMAGED_CODES: Final = frozenset({11, 26})  # CORRUPT NOTADB

RECOVERY_ADVICE: Final = (
    "portwatch has not written to it. To recover: stop portwatch; copy {path} and any "
    "{name}-wal and {name}-shm beside it to a safe place; then either salvage it with "
    "`sqlite3 {path} .recover > recovered.sql` or move the file aside so that portwatch "
    "starts a new log. `portwatch doctor` repeats this check."
)


class StoreError(Exception):
    """Something about the log that a person must know; the message says what and what to do."""


class StoreDamagedError(StoreError):
    """The file failed SQLite's check or is not a database; it is never written to."""


class StoreTooNewError(StoreError):
    """The file was written by a newer portwatch; it is never altered."""


class StoreUnavailableError(StoreError):
    """The disk is full, read-only or failing: the write did not happen; try again later."""


class StoreInputError(StoreError, ValueError):
    """A bad argument (a naive datetime, an unknown outbox id); the message names it."""


class OutboxStatus(StrEnum):
    """Where an alert is in its delivery (alerts.md, "Delivery")."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent: waits for a person to fix the setting and resend


# clinic alerts; the caregiver's notices ("notify"); the patient's own ("patient", used only
# when a patient URL is set, alerts.md "Who is told what").
CHANNELS: Final = frozenset({"clinic", "notify", "patient"})
PRIORITIES: Final = frozenset({"urgent", "routine"})


@dataclass(frozen=True, slots=True)
class StoredReading:
    """A reading as the log holds it: its row id, the reading, and why it is invalid if so."""

    id: int
    reading: Reading

    @property
    def invalid_reason(self) -> str | None:
        return self.reading.invalid_reason


@dataclass(frozen=True, slots=True)
class Bucket:
    """One point of the chart: the valid temperatures received in [start, end)."""

    start: datetime
    end: datetime
    min_c: float
    median_c: float
    max_c: float
    count: int


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


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An alert to send, as written next to the decision that caused it (alerts.md)."""

    id: str  # the alert's identifier (UUID string); resends carry the same one
    channel: str  # "clinic" | "notify" | "patient"
    kind: str  # "fever.confirmed", "heartbeat", "stale", "reminder.day3", ...
    priority: str  # "urgent" | "routine"
    created_at: datetime
    body: str  # the payload, already rendered
    content_type: str
    decision_id: str | None = None
    # Not sent before this time (a non-urgent notice held by quiet hours); None: at once.
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An outbox entry with its delivery state."""

    id: str
    channel: str
    kind: str
    priority: str
    created_at: datetime
    body: str
    content_type: str
    decision_id: str | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    escalated_at: datetime | None
    not_before: datetime | None = None  # held until then (quiet hours); None: never held


@dataclass(frozen=True, slots=True)
class SymptomReport:
    id: int
    time: datetime
    symptoms: tuple[Symptom, ...]
    note: str


@dataclass(frozen=True, slots=True)
class Note:
    """A period the caregiver explained, such as "off the body for a shower"."""

    id: int
    start: datetime
    end: datetime
    reason: str


def default_db_path() -> Path:
    """Where the log lives unless ``--db`` says otherwise.

    The one place that decides it: ``$PORTWATCH_STATE_DIRECTORY`` (systemd's
    ``StateDirectory``), else ``/var/lib/portwatch``. To be redirected to
    ``portwatch.config`` when settings land.
    """
    directory = os.environ.get(STATE_DIRECTORY_ENV) or str(DEFAULT_STATE_DIRECTORY)
    # systemd may pass several directories separated by ':'; the first is ours.
    return Path(directory.split(":")[0]) / DB_FILE_NAME


# The chart (issue 8: ten days at 1/s drawn in under 200 ms, query included) reads one
# rollup row per minute instead of one row per reading: ten days is 14,400 rows, not 864,000.
CHART_MINUTE_US: Final = 60_000_000

# What the chart shows: the readings the rule could use (fever-rule.md §1). Left out: special
# values (no temperature), readings the link marked invalid, provisional readings (shown while
# a measurement settles, never used by the rule), and temperatures outside the rule's validity
# range, 30.0-45.0 °C (fever-rule.md §1, "outside 30.0-45.0 °C"), which an import may carry.
CHART_MIN_CELSIUS: Final = 30.0
CHART_MAX_CELSIUS: Final = 45.0
_CHARTABLE: Final = (
    "celsius IS NOT NULL AND invalid_reason IS NULL "
    f"AND kind <> '{ReadingKind.PROVISIONAL.value}' "
    f"AND celsius >= {CHART_MIN_CELSIUS!r} AND celsius <= {CHART_MAX_CELSIUS!r}"
)
# floor(time_us / 1 min), also for times before 1970 (SQLite's / and % truncate toward zero).
_MINUTE_OF: Final = (
    f"((time_us - ((time_us % {CHART_MINUTE_US}) + {CHART_MINUTE_US}) % {CHART_MINUTE_US})"
    f" / {CHART_MINUTE_US})"
)
# One rollup row per minute holding chart readings: count, min, max, sum and the median
# (the middle value, or the mean of the two middle values for an even count, like
# statistics.median). `range` narrows it to some minutes (bound parameters :start, :end).
_MINUTE_ROLLUP: Final = (
    "INSERT INTO chart_minutes (minute, count, min_c, max_c, sum_c, median_c) "
    "SELECT minute, COUNT(*), MIN(celsius), MAX(celsius), SUM(celsius), "
    "AVG(CASE WHEN place IN ((n + 1) / 2, (n + 2) / 2) THEN celsius END) "
    "FROM (SELECT " + _MINUTE_OF + " AS minute, celsius, "
    "ROW_NUMBER() OVER (PARTITION BY " + _MINUTE_OF + " ORDER BY celsius) AS place, "
    "COUNT(*) OVER (PARTITION BY " + _MINUTE_OF + ") AS n "
    "FROM readings WHERE " + _CHARTABLE + "{range}) GROUP BY minute"
)
_MINUTE_RANGE: Final = " AND time_us >= :start AND time_us < :end"

# Forward migrations; user_version = how many have been applied. Append only, never edit.
MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE readings (
        id INTEGER PRIMARY KEY,
        device TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT,                -- exactly as reported, in `unit`; NULL for a special value
        unit TEXT NOT NULL,
        celsius REAL,
        time_us INTEGER NOT NULL,
        received_us INTEGER NOT NULL,
        device_time TEXT,          -- the device's own naive local time, ISO 8601
        site TEXT,
        interval_s REAL,
        special TEXT,
        raw BLOB NOT NULL,
        invalid_reason TEXT
    );
    CREATE INDEX readings_by_time ON readings (time_us, celsius);
    CREATE TABLE link_events (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        device TEXT NOT NULL,
        time_us INTEGER NOT NULL,
        detail TEXT NOT NULL,
        battery_percent INTEGER,
        raw BLOB NOT NULL
    );
    CREATE INDEX link_events_by_time ON link_events (time_us);
    CREATE TABLE decisions (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        time_us INTEGER NOT NULL,
        summary TEXT NOT NULL,
        observations TEXT NOT NULL,   -- JSON list
        late INTEGER NOT NULL,
        due_us INTEGER,
        reason TEXT,
        settings TEXT NOT NULL        -- JSON list of [name, value]
    );
    CREATE INDEX decisions_by_time ON decisions (time_us);
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        priority TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        body TEXT NOT NULL,
        content_type TEXT NOT NULL,
        decision_id TEXT REFERENCES decisions (id),
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_us INTEGER,
        last_attempt_us INTEGER,
        last_status INTEGER,
        last_error TEXT,
        delivered_us INTEGER,
        escalated_us INTEGER
    );
    CREATE INDEX outbox_due ON outbox (status, channel, created_us);
    CREATE TABLE symptom_reports (
        id INTEGER PRIMARY KEY,
        time_us INTEGER NOT NULL,
        symptoms TEXT NOT NULL,       -- comma-separated Symptom values
        note TEXT NOT NULL
    );
    CREATE TABLE reminders_sent (
        key TEXT PRIMARY KEY,
        sent_us INTEGER NOT NULL
    );
    CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        start_us INTEGER NOT NULL,
        end_us INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 2: the chart's per-minute rollup (issue 8), back-filled from the readings already
    # logged. Its rows are always what _MINUTE_ROLLUP computes from the readings of their
    # minute; should the chart's choice of readings ever change, a later migration
    # rebuilds the table with the same statement.
    f"""
    CREATE TABLE chart_minutes (
        minute INTEGER PRIMARY KEY,   -- floor(time_us / 60 s): the minute's number since 1970
        count INTEGER NOT NULL,       -- chart readings in the minute (always >= 1)
        min_c REAL NOT NULL,
        max_c REAL NOT NULL,
        sum_c REAL NOT NULL,          -- for a mean, should a chart want one
        median_c REAL NOT NULL        -- the median of the minute's readings
    );
    {_MINUTE_ROLLUP.format(range="")};
    """,
    # 3: a not-before time on outbox rows (issue 7): a non-urgent notice queued in quiet
    # hours waits for their end, and the hold survives a restart because it is in the row.
    # The table is rebuilt rather than altered so that the migration may run again over a
    # table that already has the column (it then only loses holds, never rows).
    """
    CREATE TABLE outbox_v3 (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        priority TEXT NOT NULL,
        created_us INTEGER NOT NULL,
        body TEXT NOT NULL,
        content_type TEXT NOT NULL,
        decision_id TEXT REFERENCES decisions (id),
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_us INTEGER,
        last_attempt_us INTEGER,
        last_status INTEGER,
        last_error TEXT,
        delivered_us INTEGER,
        escalated_us INTEGER,
        not_before_us INTEGER         -- not sent before this time (quiet hours); NULL: at once
    );
    INSERT INTO outbox_v3 (seq, id, channel, kind, priority, created_us, body, content_type,
        decision_id, status, attempts, next_attempt_us, last_attempt_us, last_status,
        last_error, delivered_us, escalated_us)
    SELECT seq, id, channel, kind, priority, created_us, body, content_type, decision_id,
        status, attempts, next_attempt_us, last_attempt_us, last_status, last_error,
        delivered_us, escalated_us
    FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v3 RENAME TO outbox;
    CREATE INDEX outbox_due ON outbox (status, channel, created_us);
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)

# Store.gaps walks the time index (index-only: readings_by_time starts with time_us).
_LAST_READING_IN: Final = (
    "SELECT time_us FROM readings WHERE time_us > ? AND time_us <= ? ORDER BY time_us DESC LIMIT 1"
)
_FIRST_READING_IN: Final = (
    "SELECT time_us FROM readings WHERE time_us > ? AND time_us < ? ORDER BY time_us LIMIT 1"
)
# Beyond this many index lookups, Store.gaps scans instead: one lookup costs about as much
# as reading some tens of rows, and a ten-day scan at 1/s is 864,000 rows.
GAP_WALK_MAX_STEPS: Final = 20_000

_READING_COLUMNS: Final = (
    "id, device, kind, value, unit, celsius, time_us, received_us, device_time, site, "
    "interval_s, special, raw, invalid_reason"
)
_OUTBOX_COLUMNS: Final = (
    "id, channel, kind, priority, created_us, body, content_type, decision_id, status, "
    "attempts, next_attempt_us, last_attempt_us, last_status, last_error, delivered_us, "
    "escalated_us, not_before_us"
)


def to_us(when: datetime, what: str = "time") -> int:
    """Microseconds since the epoch for an aware datetime.

    Raises:
        StoreInputError: for a naive datetime (every time inside portwatch is aware UTC).
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise StoreInputError(f"{what} {when!r} has no time zone; portwatch stores aware UTC")
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _opt_us(when: datetime | None, what: str) -> int | None:
    return None if when is None else to_us(when, what)


def _opt_dt(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def _classify(exc: sqlite3.Error, path: Path, doing: str) -> StoreError:
    """Turn a sqlite3 error into our type by SQLite's result code, never by its text."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    name = getattr(exc, "sqlite_errorname", type(exc).__name__)
    if primary in _DAMAGED_CODES:
        return StoreDamagedError(
            f"the log at {path} is damaged ({name}: {exc}) while {doing}. "
            + RECOVERY_ADVICE.format(path=path, name=path.name)
        )
    if primary in _UNAVAILABLE_CODES:
        return StoreUnavailableError(
            f"the log at {path} failed while {doing} ({name}: {exc}); "
            "the disk may be full, read-only or failing: free space or fix the disk"
        )
    return StoreError(f"the log at {path} failed while {doing} ({name}: {exc})")


class Store:
    """The log's one writer (or, from :meth:`open_reader`, a reader).

    Not thread-safe: use it from one thread at a time (the daemon gives it one dedicated
    thread). Methods that write commit before they return.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
        self._db = connection
        self.path = path
        self.readonly = readonly

    # -- opening ------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open (creating if missing) the log for writing, migrated to this version.

        Creates the directory (0700) and the file (0600) when missing, checks the file
        with ``PRAGMA quick_check`` through a read-only connection before anything writes,
        and applies forward migrations.

        Raises:
            StoreDamagedError: the file is not a sound SQLite database; it is left as found.
            StoreTooNewError: the file is from a newer portwatch; it is left as found.
            StoreUnavailableError: the file or directory cannot be created or written.
        """
        path = Path(path)
        _refuse_read_only_mount(path)
        try:  # modes repaired, symlinks and another user's files refused (issue 21)
            files.secure_log_path(path)
        except files.UnsafeLogFile as exc:
            raise StoreUnavailableError(str(exc)) from exc
        if path.exists():
            check(path)
        else:
            _create_file(path)
        try:
            connection = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except sqlite3.Error as exc:
            raise _classify(exc, path, "opening") from exc
        store = cls(connection, path, readonly=False)
        try:
            store._setup()
        except BaseException:
            connection.close()
            raise
        return store

    @classmethod
    def open_reader(cls, path: Path) -> Self:
        """A read-only view of the log for another thread or process (the caregiver page).

        Raises:
            StoreDamagedError, StoreTooNewError: as :meth:`open`.
            StoreError: the file does not exist yet or is from an older portwatch
                (the daemon creates and migrates it at start).
        """
        path = Path(path)
        connection = _connect_readonly(path)
        try:
            version = _check_connection(connection, path)
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"the log at {path} has schema version {version}, this portwatch reads "
                    f"{SCHEMA_VERSION}; start the portwatch service once so that it migrates it"
                )
            connection.execute("PRAGMA query_only = ON")
        except BaseException:
            connection.close()
            raise
        return cls(connection, path, readonly=True)

    def _setup(self) -> None:
        db = self._db
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:  # a race with check(): refuse all the same
                raise _too_new(self.path, version)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA foreign_keys = ON")
            for number in range(version, SCHEMA_VERSION):
                db.executescript(
                    f"BEGIN IMMEDIATE;\n{MIGRATIONS[number]}\n"
                    f"PRAGMA user_version = {number + 1};\nCOMMIT;"
                )
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.rollback()
            raise _classify(exc, self.path, "opening and migrating") from exc

    def close(self) -> None:
        """Close the connection; a clean close also checkpoints the write-ahead log."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (durably) on leaving, rolled back on error."""
        if self.readonly:
            raise StoreError(f"this connection to {self.path} is read-only ({doing} refused)")
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _classify(exc, self.path, doing) from exc
        try:
            yield db
            db.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            _rollback(db)
            raise StoreInputError(f"{doing}: {exc}") from exc
        except sqlite3.Error as exc:
            _rollback(db)
            raise _classify(exc, self.path, doing) from exc
        except BaseException:
            _rollback(db)
            raise

    def _read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _classify(exc, self.path, "reading") from exc

    # -- readings -----------------------------------------------------------------------

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
                fresh: list[tuple[Any, ...]] = []
                seen: set[tuple[Any, ...]] = set()
                for row in map(_reading_row, chunk):
                    identity = _identity(row[0], row[1], row[2], row[3], row[5])
                    logged = db.execute(
                        "SELECT value FROM readings WHERE time_us = ? AND device = ? "
                        "AND kind = ? AND unit = ?",
                        (row[5], row[0], row[1], row[3]),
                    ).fetchall()
                    same = (_identity(row[0], row[1], v, row[3], row[5]) for (v,) in logged)
                    if identity in seen or identity in same:
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
        page = f"SELECT {_READING_COLUMNS} FROM readings WHERE time_us >= ? AND time_us < ? "  # noqa: S608
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
        sql = f"SELECT {_READING_COLUMNS} FROM readings WHERE time_us >= ? AND time_us < ?"  # noqa: S608
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

        How a running daemon finds readings that another process (`portwatch add`,
        `portwatch import`) wrote: remember the last id seen and ask for what follows.
        """
        return [
            _stored_reading(row)
            for row in self._read(
                f"SELECT {_READING_COLUMNS} FROM readings WHERE id > ? ORDER BY id LIMIT ?",  # noqa: S608
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
            f"SELECT {_READING_COLUMNS} FROM readings WHERE id = ("  # noqa: S608
            "SELECT MAX(id) FROM readings WHERE time_us = (SELECT MAX(time_us) FROM readings))"
        )
        return _stored_reading(rows[0]) if rows else None

    def reading_count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM readings")[0][0])

    def downsample(self, since: datetime, until: datetime, buckets: int) -> list[Bucket]:
        """The chart's temperatures in [since, until) cut into `buckets` slices.

        The chart's temperatures are the readings the rule could use: special values,
        readings marked invalid, provisional readings and temperatures outside 30.0-45.0 °C
        are left out (:meth:`readings` has them all). Only slices holding at least one
        reading are returned.

        Slices of a minute or longer are built from the per-minute rollup (ten days are
        14,400 rows, whatever the reading rate), so each minute must fall in one slice:
        the inner edges are moved back to the start of their minute (by less than one
        minute), and each :class:`Bucket` says where it truly starts and ends. Its
        ``min_c``, ``max_c`` and ``count`` are exact for [start, end). Its ``median_c`` is
        the count-weighted median of the per-minute medians: order the slice's minutes by
        their median, and take the median of the minute where the running count first
        reaches half the slice's count (the mean of that one and the next when it reaches
        exactly half). It equals the true median when each minute holds at most one
        reading, and always lies between the slice's lower and upper quartiles (at least
        a quarter of its readings are at or below it, and a quarter at or above).
        A partial minute at either end of the range is read from the raw readings.

        Slices shorter than a minute (a zoomed-in hour) are built from the raw readings,
        with equal edges and the exact median.

        Raises:
            StoreInputError: for fewer than one bucket or an empty or reversed range.
        """
        start_us, end_us = to_us(since, "since"), to_us(until, "until")
        if buckets < 1 or end_us <= start_us:
            raise StoreInputError(
                f"downsample needs buckets >= 1 and since < until (got {buckets}, "
                f"{since.isoformat()} .. {until.isoformat()})"
            )
        span = end_us - start_us
        first_minute = -(-start_us // CHART_MINUTE_US)  # the first whole minute in range
        end_minute = end_us // CHART_MINUTE_US  # the minute after the last whole one
        if span < buckets * CHART_MINUTE_US or first_minute >= end_minute:
            return self._downsample_raw(start_us, end_us, buckets)

        # Units in time order: the raw readings of a partial first minute, the rollup's
        # whole minutes, the raw readings of a partial last minute; each one as
        # (last microsecond, count, min, max, median). A unit falls in the slice that holds
        # its last microsecond, which is what moving the inner edges back to the minute means.
        raw_units = (
            "SELECT time_us, 1, celsius, celsius, celsius FROM readings "  # noqa: S608
            f"WHERE time_us >= ? AND time_us < ? AND {_CHARTABLE} ORDER BY time_us"
        )
        units = itertools.chain(
            self._read(raw_units, (start_us, first_minute * CHART_MINUTE_US)),
            self._read(
                f"SELECT (minute + 1) * {CHART_MINUTE_US} - 1, count, min_c, max_c, median_c "  # noqa: S608
                "FROM chart_minutes WHERE minute >= ? AND minute < ? ORDER BY minute",
                (first_minute, end_minute),
            ),
            self._read(raw_units, (end_minute * CHART_MINUTE_US, end_us)),
        )

        def edge(index: int) -> datetime:
            if index == 0:
                return from_us(start_us)
            if index == buckets:
                return from_us(end_us)
            moved = (start_us + span * index // buckets) // CHART_MINUTE_US * CHART_MINUTE_US
            return from_us(moved)

        result: list[Bucket] = []
        medians: list[tuple[float, int]] = []  # (median, count) of the current slice's units
        current, low, high, total = -1, 0.0, 0.0, 0
        for last_us, count, unit_low, unit_high, median in units:
            index = (last_us - start_us) * buckets // span
            if index != current:
                if medians:
                    result.append(
                        Bucket(
                            edge(current),
                            edge(current + 1),
                            low,
                            _weighted_median(medians, total),
                            high,
                            total,
                        )
                    )
                current, low, high, total, medians = index, unit_low, unit_high, 0, []
            low = min(low, unit_low)
            high = max(high, unit_high)
            total += count
            medians.append((median, count))
        if medians:
            result.append(
                Bucket(
                    edge(current),
                    edge(current + 1),
                    low,
                    _weighted_median(medians, total),
                    high,
                    total,
                )
            )
        return result

    def _downsample_raw(self, start_us: int, end_us: int, buckets: int) -> list[Bucket]:
        """:meth:`downsample` from the raw readings: equal edges, exact medians."""
        span = end_us - start_us
        values: dict[int, list[float]] = {}
        cursor = self._db.execute(
            f"SELECT time_us, celsius FROM readings WHERE time_us >= ? AND time_us < ? "  # noqa: S608
            f"AND {_CHARTABLE}",
            (start_us, end_us),
        )
        try:
            for time_us, celsius in cursor:
                index = (time_us - start_us) * buckets // span
                bucket = values.get(index)
                if bucket is None:
                    values[index] = [celsius]
                else:
                    bucket.append(celsius)
        except sqlite3.Error as exc:
            raise _classify(exc, self.path, "reading") from exc
        result = []
        for index in sorted(values):
            temps = values[index]
            result.append(
                Bucket(
                    start=from_us(start_us + span * index // buckets),
                    end=from_us(start_us + span * (index + 1) // buckets),
                    min_c=min(temps),
                    median_c=statistics.median(temps),
                    max_c=max(temps),
                    count=len(temps),
                )
            )
        return result

    def gaps(
        self, since: datetime, until: datetime, min_gap: timedelta
    ) -> list[tuple[datetime, datetime]]:
        """Periods within [since, until) longer than `min_gap` with no reading of any kind.

        The edges count: a silence from `since` to the first reading, or from the last
        reading to `until`, is a gap too; an empty range is one gap. Every reading counts,
        chartable or not (a special value, an invalid or provisional reading shows the
        thermometer was there), so the chart's rollup cannot answer this.

        Fast by design (issue 8 follow-up): it walks the time index in strides of
        `min_gap` instead of reading every row. From a reading (or `since`) at time t it
        asks for the last reading in (t, t + min_gap]: if there is one, no gap starts at t
        and the walk moves there (two such steps always cover more than `min_gap`); if there
        is none, the next reading after t ends a gap. Each step is one index lookup, so the
        cost is about 2 x span / min_gap lookups plus two per gap, not one per reading.
        For a `min_gap` so short that this would take more than ``GAP_WALK_MAX_STEPS`` steps,
        one scan of the time index pairs each reading with the one before it.
        """
        start_us, end_us = to_us(since, "since"), to_us(until, "until")
        min_us = to_us(_EPOCH + min_gap, "min_gap")
        if min_us <= 0 or (end_us - start_us) // min_us > GAP_WALK_MAX_STEPS // 2:
            return self._gaps_scan(start_us, end_us, min_us)
        found: list[tuple[datetime, datetime]] = []
        at = start_us  # a reading's time (or `since`): no gap before it is left unfound
        while at < end_us:
            reach = min(at + min_us, end_us - 1)
            within = self._read(_LAST_READING_IN, (at, reach))
            if within:
                at = within[0][0]
                continue
            following = self._read(_FIRST_READING_IN, (at, end_us))
            following_us = following[0][0] if following else end_us
            if following_us - at > min_us:
                found.append((from_us(at), from_us(following_us)))
            at = following_us
        return found

    def _gaps_scan(
        self, start_us: int, end_us: int, min_us: int
    ) -> list[tuple[datetime, datetime]]:
        """:meth:`gaps` by pairing every reading in range with the one before it."""
        # Each reading paired with the one before it (the first with `since`), plus one
        # last pair (the last reading or `since`, then `until`) for the trailing silence.
        rows = self._read(
            "SELECT previous, time_us FROM ("
            "  SELECT LAG(time_us, 1, :start) OVER (ORDER BY time_us) AS previous, time_us"
            "  FROM readings WHERE time_us >= :start AND time_us < :end"
            "  UNION ALL SELECT (SELECT COALESCE(MAX(time_us), :start) FROM readings"
            "    WHERE time_us >= :start AND time_us < :end), :end"
            ") WHERE time_us - previous > :min ORDER BY previous",
            {"start": start_us, "end": end_us, "min": min_us},
        )
        return [(from_us(previous), from_us(following)) for previous, following in rows]

    # -- link events --------------------------------------------------------------------

    def add_event(self, event: LinkEvent) -> int:
        with self._write("adding a link event") as db:
            cursor = db.execute(
                "INSERT INTO link_events (kind, device, time_us, detail, battery_percent, raw) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    LinkEventKind(event.kind).value,
                    event.device,
                    to_us(event.time, "event time"),
                    event.detail,
                    event.battery_percent,
                    event.raw,
                ),
            )
            return int(cursor.lastrowid or 0)

    def events(self, since: datetime, until: datetime) -> list[LinkEvent]:
        rows = self._read(
            "SELECT kind, device, time_us, detail, battery_percent, raw FROM link_events "
            "WHERE time_us >= ? AND time_us < ? ORDER BY time_us, id",
            (to_us(since, "since"), to_us(until, "until")),
        )
        return [
            LinkEvent(
                kind=LinkEventKind(kind),
                device=device,
                time=from_us(time_us),
                detail=detail,
                battery_percent=battery,
                raw=bytes(raw),
            )
            for kind, device, time_us, detail, battery, raw in rows
        ]

    # -- decisions and the outbox -------------------------------------------------------

    def record_decisions(
        self, decisions: Sequence[Decision], outbox: Sequence[OutboxEntry]
    ) -> None:
        """Write decisions and their alerts in one transaction (design.md, "Nothing is lost").

        Idempotent on the decision id: a decision already recorded is skipped together with
        the outbox entries that name it, so replaying readings after a restart never sends
        anything twice. Entries with no decision id are enqueued idempotently on their id.

        Raises:
            StoreInputError: an entry names a decision that is neither here nor recorded.
        """
        with self._write("recording decisions") as db:
            fresh: set[str] = set()
            for decision in decisions:
                cursor = db.execute(
                    "INSERT INTO decisions (id, type, time_us, summary, observations, late, "
                    "due_us, reason, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING",
                    _decision_row(decision),
                )
                if cursor.rowcount:
                    fresh.add(str(decision.id))
            for entry in outbox:
                if entry.decision_id is not None and entry.decision_id not in fresh:
                    known = db.execute(
                        "SELECT 1 FROM decisions WHERE id = ?", (entry.decision_id,)
                    ).fetchone()
                    if known is None:
                        raise StoreInputError(
                            f"outbox entry {entry.id} names decision {entry.decision_id}, "
                            "which is neither in this batch nor recorded"
                        )
                    continue  # its decision was recorded before: so was it
                _insert_outbox(db, entry)

    def decisions(self, since: datetime, until: datetime) -> list[Decision]:
        rows = self._read(
            "SELECT id, type, time_us, summary, observations, late, due_us, reason, settings "
            "FROM decisions WHERE time_us >= ? AND time_us < ? ORDER BY time_us, rowid",
            (to_us(since, "since"), to_us(until, "until")),
        )
        return [_decision_from_row(row) for row in rows]

    def enqueue(self, entries: Sequence[OutboxEntry]) -> None:
        """Add alerts not caused by the rule (symptoms, heartbeats); idempotent on id."""
        with self._write("enqueueing alerts") as db:
            for entry in entries:
                _insert_outbox(db, entry)

    def outbox_due(self, now: datetime, channel: str) -> list[OutboxRow]:
        """Pending alerts on `channel` whose next attempt is due, in the order decided."""
        return self._outbox_where(
            "status = 'pending' AND channel = ? AND "
            "(next_attempt_us IS NULL OR next_attempt_us <= ?)",
            (channel, to_us(now, "now")),
        )

    def outbox_get(self, alert_id: str) -> OutboxRow | None:
        rows = self._outbox_where("id = ?", (alert_id,))
        return rows[0] if rows else None

    def outbox_all(self, status: OutboxStatus | str | None = None) -> list[OutboxRow]:
        if status is None:
            return self._outbox_where("1", ())
        return self._outbox_where("status = ?", (OutboxStatus(status).value,))

    def alerts(self, since: datetime, until: datetime) -> list[OutboxRow]:
        """Outbox entries created in [since, until), in the order decided."""
        return self._outbox_where(
            "created_us >= ? AND created_us < ?", (to_us(since, "since"), to_us(until, "until"))
        )

    def outbox_record_attempt(
        self,
        alert_id: str,
        at: datetime,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime,
    ) -> None:
        """A failed attempt that will be retried at `next_attempt_at`."""
        self._outbox_update(
            alert_id,
            "attempts = attempts + 1, last_attempt_us = ?, last_status = ?, last_error = ?, "
            "next_attempt_us = ?",
            (to_us(at, "at"), status_code, error, to_us(next_attempt_at, "next_attempt_at")),
        )

    def outbox_mark_delivered(self, alert_id: str, at: datetime, status_code: int) -> None:
        self._outbox_update(
            alert_id,
            "status = 'delivered', attempts = attempts + 1, last_attempt_us = ?, "
            "last_status = ?, last_error = NULL, delivered_us = ?, next_attempt_us = NULL",
            (to_us(at, "at"), status_code, to_us(at, "at")),
        )

    def outbox_mark_failed(
        self, alert_id: str, at: datetime, status_code: int | None, error: str | None
    ) -> None:
        """A permanent failure: the alert waits for a person (`alerts resend`)."""
        self._outbox_update(
            alert_id,
            "status = 'failed', attempts = attempts + 1, last_attempt_us = ?, "
            "last_status = ?, last_error = ?, next_attempt_us = NULL",
            (to_us(at, "at"), status_code, error),
        )

    def outbox_mark_escalated(self, alert_id: str, at: datetime) -> None:
        self._outbox_update(alert_id, "escalated_us = ?", (to_us(at, "at"),))

    def outbox_requeue(self, alert_id: str, now: datetime) -> None:
        """Make an alert pending and due now (a person fixed the setting and resends)."""
        self._outbox_update(
            alert_id,
            "status = 'pending', next_attempt_us = ?, escalated_us = NULL",
            (to_us(now, "now"),),
        )

    def _outbox_where(self, where: str, params: Sequence[Any]) -> list[OutboxRow]:
        rows = self._read(
            f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE {where} ORDER BY created_us, seq",  # noqa: S608
            params,
        )
        return [_outbox_from_row(row) for row in rows]

    def _outbox_update(self, alert_id: str, assignments: str, params: Sequence[Any]) -> None:
        with self._write("updating the outbox") as db:
            cursor = db.execute(
                f"UPDATE outbox SET {assignments} WHERE id = ?",  # noqa: S608 (fixed text)
                (*params, alert_id),
            )
            if cursor.rowcount == 0:
                raise StoreInputError(f"no outbox entry with id {alert_id!r}")

    # -- symptoms, reminders, notes, meta -----------------------------------------------

    def add_symptom_report(self, time: datetime, symptoms: Sequence[Symptom], note: str) -> int:
        text = ",".join(Symptom(symptom).value for symptom in symptoms)
        with self._write("adding a symptom report") as db:
            cursor = db.execute(
                "INSERT INTO symptom_reports (time_us, symptoms, note) VALUES (?, ?, ?)",
                (to_us(time, "time"), text, note),
            )
            return int(cursor.lastrowid or 0)

    def symptom_reports(self, since: datetime, until: datetime) -> list[SymptomReport]:
        rows = self._read(
            "SELECT id, time_us, symptoms, note FROM symptom_reports "
            "WHERE time_us >= ? AND time_us < ? ORDER BY time_us, id",
            (to_us(since, "since"), to_us(until, "until")),
        )
        return [
            SymptomReport(
                id=row_id,
                time=from_us(time_us),
                symptoms=tuple(Symptom(s) for s in text.split(",") if s),
                note=note,
            )
            for row_id, time_us, text, note in rows
        ]

    def reminder_sent(self, key: str, at: datetime) -> None:
        """Remember that reminder `key` went out; recording it twice keeps the first time."""
        with self._write("recording a reminder") as db:
            db.execute(
                "INSERT INTO reminders_sent (key, sent_us) VALUES (?, ?) "
                "ON CONFLICT (key) DO NOTHING",
                (key, to_us(at, "at")),
            )

    def reminders_sent(self) -> set[str]:
        return {key for (key,) in self._read("SELECT key FROM reminders_sent")}

    def add_note(self, start: datetime, end: datetime, reason: str) -> int:
        if end < start:
            raise StoreInputError(f"a note ends ({end}) before it starts ({start})")
        with self._write("adding a note") as db:
            cursor = db.execute(
                "INSERT INTO notes (start_us, end_us, reason) VALUES (?, ?, ?)",
                (to_us(start, "start"), to_us(end, "end"), reason),
            )
            return int(cursor.lastrowid or 0)

    def notes(self, since: datetime, until: datetime) -> list[Note]:
        """Notes overlapping [since, until)."""
        rows = self._read(
            "SELECT id, start_us, end_us, reason FROM notes WHERE end_us >= ? AND start_us < ? "
            "ORDER BY start_us, id",
            (to_us(since, "since"), to_us(until, "until")),
        )
        return [Note(i, from_us(s), from_us(e), reason) for i, s, e, reason in rows]

    def meta_get(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def meta_set(self, key: str, value: str) -> None:
        with self._write("setting a meta value") as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- retention ----------------------------------------------------------------------

    def purge(self, before: datetime, *, dry_run: bool = False) -> dict[str, int]:
        """Remove what happened before `before`; returns rows removed per table.

        Alerts still pending or failed are kept (no alert is ever dropped), and so are the
        decisions they name. With `dry_run` nothing is removed and the counts are what would be.
        """
        cut = to_us(before, "before")
        # Outbox rows go before the decisions they name (the foreign key); the decisions'
        # condition gives the same answer before and after, so the dry run counts true.
        tails = {
            "readings": "FROM readings WHERE time_us < ?",
            "link_events": "FROM link_events WHERE time_us < ?",
            "outbox": "FROM outbox WHERE created_us < ? AND status = 'delivered'",
            "decisions": (
                "FROM decisions WHERE time_us < ? AND id NOT IN (SELECT decision_id FROM outbox "
                "WHERE decision_id IS NOT NULL AND NOT (created_us < ? AND status = 'delivered'))"
            ),
            "symptom_reports": "FROM symptom_reports WHERE time_us < ?",
            "reminders_sent": "FROM reminders_sent WHERE sent_us < ?",
            "notes": "FROM notes WHERE end_us < ?",
        }
        if dry_run:
            return {
                table: int(self._read(f"SELECT COUNT(*) {tail}", (cut,) * tail.count("?"))[0][0])
                for table, tail in tails.items()
            }
        with self._write("purging") as db:
            removed = {
                table: db.execute(f"DELETE {tail}", (cut,) * tail.count("?")).rowcount
                for table, tail in tails.items()
            }
            # The chart's rollup follows its readings: minutes wholly before the cut go,
            # and the minute the cut falls in is summarised again from what is left.
            db.execute("DELETE FROM chart_minutes WHERE minute < ?", (cut // CHART_MINUTE_US,))
            _refresh_minutes(db, [cut // CHART_MINUTE_US])
            return removed


# -- helpers ------------------------------------------------------------------------------


def check(path: Path) -> int:
    """Check the log without writing to it; returns its schema version.

    What ``Store.open`` does first and what ``portwatch doctor`` repeats.

    Raises:
        StoreDamagedError: quick_check found a problem, or the file is not a database.
        StoreTooNewError: the file is from a newer portwatch.
        StoreUnavailableError: the file cannot be opened.
    """
    connection = _connect_readonly(Path(path), untouched=True)
    try:
        return _check_connection(connection, Path(path))
    finally:
        connection.close()


def _connect_readonly(path: Path, *, untouched: bool = False) -> sqlite3.Connection:
    """A read-only connection; ``untouched``: for a one-off check, create nothing beside it.

    A read-only connection to a WAL database still makes an empty ``-wal`` and a ``-shm``
    beside it. When neither is there, no connection has the log open (SQLite removes them
    when the last one closes cleanly) and nothing is waiting in a WAL, so the check opens it
    ``immutable``: a refused, damaged log is left exactly as found, with nothing new beside
    it. When they are there (the daemon is running, or it crashed), the WAL must be read:
    the usual ``mode=ro``, which adds nothing that was not already there.
    """
    if not path.exists():
        raise StoreError(f"there is no log at {path} yet; the portwatch service creates it")
    companions = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    immutable = untouched and not any(p.exists() for p in companions)
    try:
        return sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else ""),
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
    except sqlite3.Error as exc:
        raise _classify(exc, path, "opening read-only") from exc


def _check_connection(connection: sqlite3.Connection, path: Path) -> int:
    try:
        problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        raise _classify(exc, path, "checking it") from exc
    if problems != ["ok"]:
        shown = "; ".join(str(p) for p in problems[:3])
        raise StoreDamagedError(
            f"the log at {path} is damaged: PRAGMA quick_check found {len(problems)} "
            f"problem(s), first: {shown}. " + RECOVERY_ADVICE.format(path=path, name=path.name)
        )
    if version > SCHEMA_VERSION:
        raise _too_new(path, version)
    return version


def _too_new(path: Path, version: int) -> StoreTooNewError:
    return StoreTooNewError(
        f"the log at {path} has schema version {version}, written by a newer portwatch; this "
        f"one knows up to {SCHEMA_VERSION} and will not alter it. Install the newer portwatch "
        "again, or move the file aside to start a new log"
    )


def _refuse_read_only_mount(path: Path) -> None:
    """Say plainly when the state directory sits on a read-only file system."""
    existing = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if existing is not None and os.statvfs(existing).f_flag & os.ST_RDONLY:
        raise StoreUnavailableError(
            f"the file system holding {existing} is mounted read-only, so portwatch cannot "
            f"write its log at {path}. Remount it read-write (an SD card may have been "
            "remounted read-only after errors: check `dmesg`), or set another state directory"
        )


def _create_file(path: Path) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        os.close(fd)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot create the log at {path}: {exc.strerror or exc}. Check that the state "
            "directory exists, is on a writable disk, and that portwatch's user may write it"
        ) from exc


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # the error being raised says more
            db.execute("ROLLBACK")


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
        f"INSERT INTO readings ({_READING_COLUMNS}) "  # noqa: S608 (constant columns)
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(row_id, *row) for row_id, row in zip(ids, rows, strict=True)],
    )
    _refresh_minutes(db, {row[5] // CHART_MINUTE_US for row in rows})
    return ids


def _refresh_minutes(db: sqlite3.Connection, minutes: Iterable[int]) -> None:
    """Summarise these minutes again from their readings (inside a write transaction).

    A live batch touches one or two minutes of at most a few hundred readings each, read
    through the time index; a minute with no chart reading left loses its row. Consecutive
    minutes (a burst, an import) are done as one range.
    """
    runs: list[list[int]] = []
    for minute in sorted(set(minutes)):
        if runs and runs[-1][1] == minute - 1:
            runs[-1][1] = minute
        else:
            runs.append([minute, minute])
    db.executemany("DELETE FROM chart_minutes WHERE minute >= ? AND minute <= ?", runs)
    db.executemany(
        _MINUTE_ROLLUP.format(range=_MINUTE_RANGE),
        [
            {"start": first * CHART_MINUTE_US, "end": (last + 1) * CHART_MINUTE_US}
            for first, last in runs
        ],
    )


def _weighted_median(medians: list[tuple[float, int]], total: int) -> float:
    """The count-weighted median of (median, count) pairs, as :meth:`Store.downsample` says."""
    medians.sort()
    running = 0
    for place, (median, count) in enumerate(medians):
        running += count
        if running * 2 == total:
            return (median + medians[place + 1][0]) / 2
        if running * 2 > total:
            return median
    return medians[-1][0]  # pragma: no cover - not reached: the counts add up to total


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
    """A row of `_READING_COLUMNS` as the reading it stores (the hot path of every read).

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
    time = _EPOCH + timedelta(0, 0, time_us)
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
            time if received_us == time_us else _EPOCH + timedelta(0, 0, received_us),
            None if device_time is None else datetime.fromisoformat(device_time),
            site_member,
            interval_s,
            special_member,
            raw,
            invalid_reason,
        ),
    )


def _observation_json(observation: Observation) -> dict[str, Any]:
    return {
        "time_us": to_us(observation.time, "observation time"),
        "celsius": observation.celsius,
        "value": str(observation.value),
        "unit": Unit(observation.unit).value,
        "device": observation.device,
        "site": None if observation.site is None else Site(observation.site).value,
        "samples": observation.samples,
        "late": observation.late,
    }


def _observation_from_json(data: dict[str, Any]) -> Observation:
    return Observation(
        time=from_us(data["time_us"]),
        celsius=data["celsius"],
        value=Decimal(data["value"]),
        unit=Unit(data["unit"]),
        device=data["device"],
        site=None if data["site"] is None else Site(data["site"]),
        samples=data["samples"],
        late=data["late"],
    )


def _decision_row(decision: Decision) -> tuple[Any, ...]:
    return (
        str(decision.id),
        DecisionType(decision.type).value,
        to_us(decision.time, "decision time"),
        decision.summary,
        json.dumps([_observation_json(o) for o in decision.observations]),
        int(decision.late),
        _opt_us(decision.due, "decision due"),
        decision.reason,
        json.dumps([list(pair) for pair in decision.settings]),
    )


def _decision_from_row(row: Sequence[Any]) -> Decision:
    decision_id, kind, time_us, summary, observations, late, due_us, reason, settings = row
    return Decision(
        id=uuid.UUID(decision_id),
        type=DecisionType(kind),
        time=from_us(time_us),
        summary=summary,
        observations=tuple(_observation_from_json(o) for o in json.loads(observations)),
        late=bool(late),
        due=_opt_dt(due_us),
        reason=reason,
        settings=tuple((str(k), str(v)) for k, v in json.loads(settings)),
    )


def _insert_outbox(db: sqlite3.Connection, entry: OutboxEntry) -> None:
    if not entry.id:
        raise StoreInputError("an outbox entry needs an id")
    if entry.channel not in CHANNELS:
        raise StoreInputError(
            f"outbox entry {entry.id}: channel {entry.channel!r} is not one of "
            f"{', '.join(sorted(CHANNELS))}"
        )
    if entry.priority not in PRIORITIES:
        raise StoreInputError(
            f"outbox entry {entry.id}: priority {entry.priority!r} is not one of "
            f"{', '.join(sorted(PRIORITIES))}"
        )
    created_us = to_us(entry.created_at, "created_at")
    not_before_us = _opt_us(entry.not_before, "not_before")
    db.execute(
        "INSERT INTO outbox (id, channel, kind, priority, created_us, body, content_type, "
        "decision_id, status, attempts, next_attempt_us, not_before_us) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (id) DO NOTHING",
        (
            entry.id,
            entry.channel,
            entry.kind,
            entry.priority,
            created_us,
            entry.body,
            entry.content_type,
            entry.decision_id,
            # The first attempt is due when the hold ends (outbox_due respects it too).
            created_us if not_before_us is None else max(created_us, not_before_us),
            not_before_us,
        ),
    )


def _outbox_from_row(row: Sequence[Any]) -> OutboxRow:
    (
        alert_id,
        channel,
        kind,
        priority,
        created_us,
        body,
        content_type,
        decision_id,
        status,
        attempts,
        next_us,
        last_us,
        last_status,
        last_error,
        delivered_us,
        escalated_us,
        not_before_us,
    ) = row
    return OutboxRow(
        id=alert_id,
        channel=channel,
        kind=kind,
        priority=priority,
        created_at=from_us(created_us),
        body=body,
        content_type=content_type,
        decision_id=decision_id,
        status=OutboxStatus(status),
        attempts=attempts,
        next_attempt_at=_opt_dt(next_us),
        last_attempt_at=_opt_dt(last_us),
        last_status=last_status,
        last_error=last_error,
        delivered_at=_opt_dt(delivered_us),
        escalated_at=_opt_dt(escalated_us),
        not_before=_opt_dt(not_before_us),
    )
