"""The reading path: the link's sink → the reading writer (durable) → the rule → the outbox.

Readings reach the rule only once durable (design.md, "Nothing is lost"); link events go to
the log as they come. :func:`rebuild_rule` replays the log into a new rule at start
(fever-rule.md §6). :class:`Facts` is what the status line and the heartbeat report.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from portwatch.clock import Clock
from portwatch.fever.rule import FeverRule
from portwatch.log.store import Store, StoredReading, StoreError
from portwatch.log.writer import ReadingWriter, TroubleCallback
from portwatch.model import Decision, LinkEvent, LinkEventKind, Reading
from portwatch.service.hooks import DaemonHooks
from portwatch.service.logwatch import SeenReadings
from portwatch.service.recorder import Recorder
from portwatch.service.timed import TimedWork
from portwatch.stages import Chores

__all__ = ["Facts", "ReadingPath", "rebuild_rule"]

_LOGGER = logging.getLogger("portwatch.service.daemon")

# Readings are replayed into the rule at start in arrival order, this many rows at a time,
# to bound memory (ten days at 1/s is 864,000 rows).
REBUILD_BATCH: Final = 5_000
# fever-rule.md §1: readings before the placement less one day are invalid; the replay
# starts a day earlier still, so it sees every reading the rule may have judged.
REBUILD_BEFORE_PLACEMENT: Final = timedelta(days=2)


@dataclass(slots=True)
class Facts:
    """What the daemon knows of the thermometer and its readings (rebuilt from the log)."""

    started_at: datetime
    last_valid_at: datetime | None = None
    last_celsius: float | None = None
    link_up: bool = False
    battery_percent: int | None = None
    readings_received: int = 0
    readings_durable: int = 0
    readings_replayed: int = 0

    def note_reading(self, reading: Reading) -> None:
        """Keep the latest valid reading (the status line and the heartbeat show it)."""
        if reading.invalid_reason is not None or reading.celsius is None:
            return
        if self.last_valid_at is None or reading.time > self.last_valid_at:
            self.last_valid_at = reading.time
            self.last_celsius = reading.celsius


async def rebuild_rule(
    rule: FeverRule,
    store: Store,
    facts: Facts,
    placement: datetime,
    seen: SeenReadings | None = None,
) -> list[Decision]:
    """Replay the log into ``rule`` on the log's thread; return what it decided.

    In arrival order (row id, :meth:`~portwatch.log.store.Store.readings_after`), as the
    live rule was fed: a late block (a wearable's stored records, an import) timed days
    before the rows received ahead of it reaches the rebuilt rule after them, as it reached
    the live one, so the rebuilt rule picks the same partners and makes the same decision
    ids (fever-rule.md §6). (A replay a day of reading time at a time fed such a block
    before the later days' rows and could confirm with another partner: a new id, a
    second alert to the clinic.) Rows timed before the placement less
    :data:`REBUILD_BEFORE_PLACEMENT` are not the rule's (the log watch skips them too).

    Decisions already in the log are skipped by ``record_decisions`` (idempotent on their
    ids), so nothing is sent twice; a decision lost to a crash between a reading's commit
    and its decision's commit is made and recorded now. ``seen``: the record of rows the
    rule has had (:class:`~portwatch.service.logwatch.SeenReadings`), started at the
    highest row id before the replay; rows above it the replay reads are counted there.
    """

    def replay() -> list[Decision]:
        made: list[Decision] = []
        skip_before = placement - REBUILD_BEFORE_PLACEMENT
        after = 0
        while batch := store.readings_after(after, limit=REBUILD_BATCH):
            after = batch[-1].id
            chunk = [stored for stored in batch if stored.reading.time >= skip_before]
            for stored in chunk if seen is None else seen.replayed(chunk):
                made.extend(rule.feed(stored.reading, now=stored.reading.received_at))
                facts.note_reading(stored.reading)
            facts.readings_replayed += len(chunk)
        return made

    return await store.run(replay)


class ReadingPath:
    """The link's sink and the writer's durable callback, around one :class:`ReadingWriter`.

    Args:
        writer_store: the writer's connection to the log (used through its ``run`` only).
        store: the event loop's connection, for link events.
        rule: the rebuilt rule; it sees durable readings only.
        recorder: records what the rule decides.
        timed: told of each durable batch's last reading (the silence watch).
        on_trouble: the writer's report that the log refuses writes, or writes again.
        durable_within_s: how soon a reading must be durable (the settings').
        seen: the rows the rule has had, shared with the other entrances (issue 16).
    """

    def __init__(
        self,
        writer_store: Store,
        store: Store,
        *,
        rule: FeverRule,
        recorder: Recorder,
        timed: TimedWork,
        facts: Facts,
        hooks: DaemonHooks,
        chores: Chores,
        clock: Clock,
        on_trouble: TroubleCallback,
        durable_within_s: float,
        seen: SeenReadings | None = None,
    ) -> None:
        self._store = store
        self._seen = seen or SeenReadings()
        self._rule = rule
        self._recorder = recorder
        self._timed = timed
        self._facts = facts
        self._hooks = hooks
        self._chores = chores
        self.writer = ReadingWriter(
            writer_store,
            clock,
            on_durable=self.on_durable,
            on_trouble=on_trouble,
            durable_within_s=durable_within_s,
        )

    async def sink(self, item: Reading | LinkEvent) -> None:
        """The link's sink: readings to the writer, events to the log."""
        facts = self._facts
        if isinstance(item, Reading):
            facts.readings_received += 1
            if self._hooks.on_received is not None:
                self._hooks.on_received(item)
            try:
                self.writer.submit(item)
            except StoreError as exc:
                _LOGGER.warning("store: a reading was not taken: %s", exc)
            return
        if item.kind is LinkEventKind.CONNECTED:
            facts.link_up = True
        elif item.kind is LinkEventKind.DISCONNECTED:
            facts.link_up = False
        elif item.kind is LinkEventKind.BATTERY and item.battery_percent is not None:
            facts.battery_percent = item.battery_percent
        try:
            self._store.add_event(item)
        except StoreError as exc:
            _LOGGER.warning("store: link event %s not logged: %s", item.kind.value, exc)

    def on_durable(self, batch: Sequence[StoredReading]) -> None:
        """A batch is durable: only now does the rule see it (design.md, "Nothing is lost")."""
        self._facts.readings_durable += len(batch)
        self.feed(batch)
        if batch:
            self._chores.start(self._timed.reading_arrived(batch[-1].reading))
        if self._hooks.on_durable is not None:
            self._hooks.on_durable(batch)

    def feed(self, batch: Sequence[StoredReading]) -> None:
        """Durable readings from any entrance (the writer, the control API, the log watch)
        to the rule, each once, and what it decides to the outbox."""
        decisions: list[Decision] = []
        for stored in self._seen.fresh(batch):
            decisions.extend(self._rule.feed(stored.reading, now=stored.reading.received_at))
            self._facts.note_reading(stored.reading)
        self._recorder.decide(decisions)
