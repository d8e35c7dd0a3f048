"""The log's tables: forward migrations, numbered by SQLite's ``user_version``."""

from __future__ import annotations

from typing import Final

from portwatch.log.rollup import MINUTE_ROLLUP

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

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
    # logged. Its rows are always what MINUTE_ROLLUP computes from the readings of their
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
    {MINUTE_ROLLUP.format(range="")};
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
