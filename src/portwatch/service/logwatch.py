"""The net under the control socket: readings another process wrote straight into the log.

While the service runs, every entrance asks it (:mod:`portwatch.service.control`); a
command that found no service, an older portwatch or a person with ``sqlite3`` writes the
log itself. :class:`LogWatch` notices: once a second it asks SQLite whether anyone else
committed (``PRAGMA data_version`` on its own connection changes with every commit by
another connection, the service's own writer included) and, when so, reads the readings
with a row id above the last it knew and hands those the rule has not seen to it. When the
outbox changed too (a row queued or requeued by a command that wrote the log itself, such as
``portwatch alerts resend`` or ``report`` with the control socket away), it wakes delivery,
so that row goes within about a second rather than at the deliverer's 60-s poll.

:class:`SeenReadings` is the one record of which rows the rule was given, shared by the
reading writer's path, the control API's path, the replay at start and this watch, so a row
reaches the rule exactly once whichever path sees it first. SQLite hands out row ids under
its write lock, so a row committed later has a higher id than every row committed before:
after a scan up to id M, nothing at or below M can still appear.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

from portwatch.log.store import StoredReading
from portwatch.log.vocabulary import OutboxStatus

__all__ = ["CHECK_EVERY_S", "LogWatch", "SeenReadings"]

_LOGGER = logging.getLogger(__name__)

# The issue: rows written by another process reach the rule within about a second.
CHECK_EVERY_S: Final = 1.0
# Rows read per query while catching up (a large import written offline).
PAGE: Final = 10_000
# What the outbox's waiting rows look like (one index range over the pending rows): a row
# queued, or requeued (pending again, due now), changes it. The service's own attempts and
# deliveries change it too; each costs delivery one look at its queue, nothing more.
OUTBOX_SHAPE: Final = (
    "SELECT MAX(seq), COUNT(*), TOTAL(next_attempt_us) FROM outbox WHERE status = ?"
)


class SeenReadings:
    """Which logged readings (by row id) the rule has been given.

    ``floor``: every row at or below it has been looked at. ``_above``: rows above the
    floor the rule already has (the writer's and the control API's, ahead of a scan).
    """

    def __init__(self, floor: int = 0) -> None:
        self.floor = floor
        self._above: set[int] = set()

    def start_at(self, floor: int) -> None:
        """Before the replay at start: rows up to ``floor`` are the replay's to feed."""
        self.floor = floor
        self._above.clear()

    def unseen(self, batch: Sequence[StoredReading]) -> list[StoredReading]:
        """The rows of ``batch`` not given to the rule yet."""
        return [s for s in batch if s.id > self.floor and s.id not in self._above]

    def fresh(self, batch: Sequence[StoredReading]) -> list[StoredReading]:
        """The rows of ``batch`` not given to the rule yet, now counted as given."""
        out = self.unseen(batch)
        self._above.update(s.id for s in out)
        return out

    def replayed(self, chunk: Sequence[StoredReading]) -> list[StoredReading]:
        """The rows of a chunk the replay at start reads that the rule should have: all at
        or below the floor (:meth:`start_at`), and those above it not had yet (a row
        committed during the replay), now counted as given."""
        below = [s for s in chunk if s.id <= self.floor]
        return below + self.fresh([s for s in chunk if s.id > self.floor])

    def settle(self, up_to: int) -> None:
        """Every row at or below ``up_to`` has been looked at (a scan read them all)."""
        if up_to > self.floor:
            self.floor = up_to
            self._above = {row_id for row_id in self._above if row_id > up_to}


ReadAfter = Callable[[int, int], list[StoredReading]]


class LogWatch:
    """Feeds the rule the readings other processes commit; run :meth:`run` as a stage.

    Args:
        path: the log.
        read_after: ``(after_id, limit) -> readings`` in id order (the service's connection).
        seen: the shared record of rows already given to the rule.
        feed: hands rows to the rule (the same call the reading writer's batches take; it
            gives the rule only those ``seen`` does not have, and records them there).
        skip_before: rows timed earlier are not the rule's (the replay skips them too).
        every_s: how often to look, in real seconds (another process writes in real time).
        outbox_changed: called when the outbox's waiting rows changed (wakes delivery).
    """

    def __init__(
        self,
        path: Path,
        read_after: ReadAfter,
        seen: SeenReadings,
        feed: Callable[[Sequence[StoredReading]], None],
        *,
        skip_before: datetime,
        every_s: float = CHECK_EVERY_S,
        outbox_changed: Callable[[], None] | None = None,
    ) -> None:
        self._path = path
        self._read_after = read_after
        self._seen = seen
        self._feed = feed
        self._skip_before = skip_before
        self._every_s = every_s
        self._db: sqlite3.Connection | None = None
        self._version: int | None = None
        self._outbox_changed = outbox_changed
        self._outbox: tuple[object, ...] | None = None

    def open(self) -> int:
        """Open the watch's own read-only connection; returns the highest reading id now."""
        uri = f"file:{self._path}?mode=ro"
        self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._version = self._data_version()
        self._outbox = self._outbox_shape()
        row = self._db.execute("SELECT MAX(id) FROM readings").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def run(self) -> None:
        """Look once every ``every_s`` until cancelled."""
        while True:
            await asyncio.sleep(self._every_s)
            self.check()

    def check(self) -> int:
        """One look: when someone committed since the last, feed what is new (how many) and
        wake delivery if the outbox changed."""
        version = self._data_version()
        if version == self._version:
            return 0
        self._version = version
        fed = self.scan()
        if self._outbox_changed is not None:
            shape = self._outbox_shape()
            if shape != self._outbox:
                self._outbox = shape
                self._outbox_changed()
        return fed

    def scan(self) -> int:
        """Feed the rule every reading above the floor it has not had; how many."""
        fed = 0
        while True:
            rows = self._read_after(self._seen.floor, PAGE)
            if not rows:
                return fed
            fresh = self._seen.unseen([s for s in rows if s.reading.time >= self._skip_before])
            if fresh:
                _LOGGER.info("log: %s readings found in the log, given to the rule", len(fresh))
                self._feed(fresh)
                fed += len(fresh)
            self._seen.settle(rows[-1].id)
            if len(rows) < PAGE:
                return fed

    def _data_version(self) -> int:
        return int(self._connection().execute("PRAGMA data_version").fetchone()[0])

    def _outbox_shape(self) -> tuple[object, ...] | None:
        if self._outbox_changed is None:
            return None
        pending = (OutboxStatus.PENDING.value,)
        return tuple(self._connection().execute(OUTBOX_SHAPE, pending).fetchone())

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise sqlite3.ProgrammingError("the log watch is not open")
        return self._db
