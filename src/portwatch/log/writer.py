"""The async front of the log: readings in one by one, durable at once, never dropped quietly.

:class:`ReadingWriter` takes readings from the link as they come (:meth:`ReadingWriter.submit`,
never blocking the event loop) and commits them to the :class:`~portwatch.log.store.Store` on
the log's writer thread (:meth:`~portwatch.log.store.Store.run`) by *group commit*: when no
commit is in flight a reading is written at once
(a lone reading waits one fsync, not a batching window); while one is in flight, what
arrives is gathered and committed as the next batch, so a burst still goes in few
transactions. It hands each batch, with row ids, to ``on_durable`` only
after the commit returned: the rule acts only on durable readings (design.md, "Nothing is
lost"). When the disk is full, read-only or failing, readings wait in a bounded memory
buffer and the writer retries; ``on_trouble`` tells the caregiver, and tells again
(with ``None``) when the log is writable again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Final

from portwatch.clock import Clock
from portwatch.log.store import Store, StoredReading, StoreError, StoreInputError
from portwatch.model import Reading

__all__ = ["DEFAULT_BUFFER_READINGS", "ReadingWriter", "StoreTrouble"]

_LOGGER = logging.getLogger(__name__)

# Issue 4: every reading durable within 1 second of being received (configurable).
DEFAULT_DURABLE_WITHIN_S: Final = 1.0
# Issue 4: a buffer for at least 24 h at one reading per second while the disk is unwritable.
DEFAULT_BUFFER_READINGS: Final = 86_400
# One transaction at most this big, so that a burst (stored measurements after a
# reconnection, an import) does not hold the write lock for long.
DEFAULT_MAX_BATCH: Final = 2_000
# Retry an unwritable log after 0.5 s, doubling up to this; a freed disk is used within it.
RETRY_FIRST_S: Final = 0.5
RETRY_MAX_S: Final = 30.0
# A commit slower than this is worth a warning (an SD card failing); we keep waiting for it,
# because abandoning a commit in flight and writing the batch again could store it twice.
SLOW_WRITE_WARN_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class StoreTrouble:
    """The log cannot be written: since when, why, and what is waiting in memory."""

    since: datetime
    error: str
    buffered: int
    dropped: int  # readings lost because the buffer was full; 0 unless the outage is long


DurableCallback = Callable[[Sequence[StoredReading]], None]
TroubleCallback = Callable[[StoreTrouble | None], None]


class ReadingWriter:
    """Group-commits readings into the log so each is durable within ``durable_within_s``.

    Own it with one task running :meth:`run`; call :meth:`close` on the way out (after
    cancelling that task) to write what is still waiting.

    Args:
        store: the log, written only through its :meth:`~portwatch.log.store.Store.run`.
        clock: the time source for batching and retries.
        on_durable: called on the event loop with each committed batch, in order. It must
            not raise: an exception there ends :meth:`run` (the readings are durable).
        on_trouble: called with a :class:`StoreTrouble` while the log is unwritable,
            and with ``None`` once it is writable again.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        on_durable: DurableCallback,
        on_trouble: TroubleCallback | None = None,
        durable_within_s: float = DEFAULT_DURABLE_WITHIN_S,
        buffer_limit: int = DEFAULT_BUFFER_READINGS,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if durable_within_s <= 0 or buffer_limit < 1 or max_batch < 1:
            raise ValueError(
                "ReadingWriter needs durable_within_s > 0, buffer_limit >= 1 and max_batch >= 1"
            )
        self._store = store
        self._clock = clock
        self._on_durable = on_durable
        self._on_trouble = on_trouble
        # Group commit needs no batching window: a reading waits at most for the commit in
        # flight and its own. A commit slower than the promise is worth a DEBUG line.
        self._durable_within_s = durable_within_s
        self._buffer_limit = buffer_limit
        self._max_batch = max_batch
        self._pending: deque[Reading] = deque()
        # Monotonic time the oldest waiting reading arrived (for the DEBUG line above).
        self._oldest_at = 0.0
        self._wake = asyncio.Event()
        self._inflight: tuple[int, asyncio.Future[list[int]]] | None = None
        # run() and flush() may both want to write; one at a time, or a batch would be
        # accounted for twice.
        self._lock = asyncio.Lock()
        self._trouble: StoreTrouble | None = None
        self._dropped = 0
        self._closed = False

    @property
    def buffered(self) -> int:
        """Readings received and not yet durable."""
        return len(self._pending)

    @property
    def trouble(self) -> StoreTrouble | None:
        return self._trouble

    def submit(self, reading: Reading) -> None:
        """Take one reading; it will be durable within ``durable_within_s`` if the disk allows.

        Raises:
            StoreInputError: the reading has a naive time (it could never be written), or
                the writer is closed.
        """
        if self._closed:
            raise StoreInputError("the reading writer is closed; the reading was not taken")
        if reading.time.tzinfo is None or reading.received_at.tzinfo is None:
            raise StoreInputError(f"reading from {reading.device} has a naive time")
        if not self._pending:
            self._oldest_at = self._clock.monotonic()
        self._pending.append(reading)
        if len(self._pending) > self._buffer_limit:
            # Drop the oldest one that is not being written now; loudly, never silently.
            in_flight = self._inflight[0] if self._inflight else 0
            del self._pending[in_flight]
            self._dropped += 1
            if self._dropped == 1:
                _LOGGER.warning(
                    "store: the memory buffer of %s readings waiting for the log is full; "
                    "the oldest waiting readings are being dropped",
                    self._buffer_limit,
                )
        self._wake.set()

    async def run(self) -> None:
        """Write batches until cancelled; never returns otherwise."""
        retry_s = RETRY_FIRST_S
        while True:
            await self._wake.wait()
            # One turn of the loop (no time passes): readings handed over in the same
            # callback as this one (a burst of stored measurements) share its commit.
            await asyncio.sleep(0)
            if await self._write_batch():
                retry_s = RETRY_FIRST_S
            else:
                _LOGGER.debug("store: retrying in %.1f s", retry_s)
                await self._clock.sleep(retry_s)
                retry_s = min(retry_s * 2, RETRY_MAX_S)
            if not self._pending:
                self._wake.clear()

    async def flush(self) -> bool:
        """Write everything waiting now; True when nothing is left waiting."""
        while self._pending or self._inflight is not None:
            if not await self._write_batch():
                return False
        return True

    async def close(self) -> None:
        """Stop taking readings and write what is waiting (one attempt if the disk fails)."""
        self._closed = True
        if not await self.flush():
            _LOGGER.warning(
                "store: closing with %s readings that could not be written to the log",
                len(self._pending),
            )

    async def _write_batch(self) -> bool:
        """Write one batch (or finish the one a cancelled caller left in flight)."""
        async with self._lock:
            if self._inflight is None:
                if not self._pending:
                    return True
                count = min(len(self._pending), self._max_batch)
                batch = [self._pending[index] for index in range(count)]
                future = self._store.run(partial(self._store.add_readings, batch))
                self._inflight = (count, future)
            return await self._finish_inflight()

    async def _finish_inflight(self) -> bool:
        """Wait for the write in flight and account for it; safe to call again if cancelled."""
        if self._inflight is None:  # pragma: no cover - callers check
            return True
        count, future = self._inflight
        while True:
            # asyncio.wait never cancels what it waits on: a cancelled caller leaves the
            # commit going on in its thread, and close() comes back here for its result.
            done, _ = await asyncio.wait({future}, timeout=SLOW_WRITE_WARN_S)
            if done:
                break
            _LOGGER.warning(
                "store: a write to the log has taken over %s s; the disk may be failing",
                SLOW_WRITE_WARN_S,
            )
        self._inflight = None
        try:
            ids = future.result()
        except StoreError as exc:
            self._report_trouble(exc)
            return False
        batch = [self._pending.popleft() for _ in range(count)]
        waited_s = self._clock.monotonic() - self._oldest_at
        if waited_s > self._durable_within_s:
            _LOGGER.debug(
                "store: a batch of %s became durable %.3f s after its first reading arrived",
                count,
                waited_s,
            )
        # What is left arrived during this commit: the run task writes it next, at once.
        self._oldest_at = self._clock.monotonic()
        if self._trouble is not None:
            _LOGGER.info(
                "store: the log is writable again; %s waiting readings written", len(batch)
            )
            self._trouble = None
            self._dropped = 0
            if self._on_trouble is not None:
                self._on_trouble(None)
        self._on_durable(
            [StoredReading(row_id, reading) for row_id, reading in zip(ids, batch, strict=True)]
        )
        return True

    def _report_trouble(self, exc: StoreError) -> None:
        first = self._trouble is None
        since = self._clock.now() if self._trouble is None else self._trouble.since
        self._trouble = StoreTrouble(
            since=since, error=str(exc), buffered=len(self._pending), dropped=self._dropped
        )
        if first:
            _LOGGER.warning("store: cannot write the log, keeping readings in memory: %s", exc)
        else:
            _LOGGER.debug("store: still cannot write the log (%s waiting)", len(self._pending))
        if self._on_trouble is not None:
            self._on_trouble(self._trouble)
