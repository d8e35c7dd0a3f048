"""The log: every reading, event, decision and alert, kept in one SQLite file.

:class:`Store` is the log's one public face. Its parts live beside it, one job each:
:mod:`~portwatch.log.database` (opening, checking, transactions and the writer thread),
:mod:`~portwatch.log.schema` (migrations), :mod:`~portwatch.log.readings`,
:mod:`~portwatch.log.chart` (the chart's slices and gaps, over :mod:`~portwatch.log.rollup`),
:mod:`~portwatch.log.decisions`, :mod:`~portwatch.log.outbox` (the typed outbox),
:mod:`~portwatch.log.journal` (events, symptoms, reminders, notes, meta) and
:mod:`~portwatch.log.purge` (retention).

One writer (:meth:`Store.open`; async code calls it through :meth:`Store.run`, which runs a
function on the log's own writer thread, and :class:`portwatch.log.writer.ReadingWriter`
group-commits readings through it) and any number of readers (:meth:`Store.open_reader`).
Times are stored as integer microseconds since the Unix epoch, UTC (:mod:`~portwatch.log.times`).
Every commit is durable on return. Everything the log raises is a :class:`StoreError`
(:mod:`~portwatch.log.errors`).
"""

from __future__ import annotations

from portwatch.log.chart import GAP_WALK_MAX_STEPS, Bucket, Chart
from portwatch.log.database import (
    BUSY_TIMEOUT_MS,
    DB_FILE_NAME,
    DEFAULT_STATE_DIRECTORY,
    STATE_DIRECTORY_ENV,
    WRITER_THREAD_NAME,
    check,
    default_db_path,
    writers_idle,
)
from portwatch.log.decisions import Decisions
from portwatch.log.errors import (
    RECOVERY_ADVICE,
    StoreDamagedError,
    StoreError,
    StoreInputError,
    StoreTooNewError,
    StoreUnavailableError,
)
from portwatch.log.journal import Journal, Note, SymptomReport
from portwatch.log.outbox import (
    Channel,
    OutboxEntry,
    OutboxQueue,
    OutboxRow,
    OutboxStatus,
    Priority,
)
from portwatch.log.purge import Retention
from portwatch.log.readings import ImportCount, ImportResult, Readings, StoredReading
from portwatch.log.rollup import CHART_MAX_CELSIUS, CHART_MIN_CELSIUS, CHART_MINUTE_US
from portwatch.log.schema import MIGRATIONS, SCHEMA_VERSION
from portwatch.log.times import from_us, to_us

__all__ = [
    "BUSY_TIMEOUT_MS",
    "CHART_MAX_CELSIUS",
    "CHART_MINUTE_US",
    "CHART_MIN_CELSIUS",
    "DB_FILE_NAME",
    "DEFAULT_STATE_DIRECTORY",
    "GAP_WALK_MAX_STEPS",
    "MIGRATIONS",
    "RECOVERY_ADVICE",
    "SCHEMA_VERSION",
    "STATE_DIRECTORY_ENV",
    "WRITER_THREAD_NAME",
    "Bucket",
    "Channel",
    "ImportCount",
    "ImportResult",
    "Note",
    "OutboxEntry",
    "OutboxRow",
    "OutboxStatus",
    "Priority",
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
    "from_us",
    "to_us",
    "writers_idle",
]


class Store(Readings, Chart, Decisions, OutboxQueue, Journal, Retention):
    """The log's one writer (or, from :meth:`open_reader`, a reader): all its tables.

    Not thread-safe: use it from one thread at a time; async code goes through
    :meth:`run` (the log's own writer thread). Methods that write commit before they
    return. Each table's methods live in its own module; this class only gathers them.
    """
