"""What the running service does for the commands that ask it (design.md, "One owner, many
entrances"): take readings, a symptom report, a pause, a resend, a purge; say how it is.

Each request enters the path a Bluetooth reading takes. Readings are committed on the log
writer's own thread (the thread every write of the service uses), then handed with their
row ids to the rule, whose decisions go to the outbox in one transaction and wake delivery
(:meth:`portwatch.service.daemon.Daemon` ``_feed``). So an alert a hand reading causes
leaves at once, not at the deliverer's next poll. The control API
(:mod:`portwatch.service.control`) calls this; nothing here knows HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from portwatch.clock import Clock
from portwatch.log.store import Store, StoredReading, StoreInputError
from portwatch.model import Reading, Symptom
from portwatch.service.watch import MAX_PAUSE, Pause, PauseError, make_pause

__all__ = ["Entrances", "Refused", "Taken", "Unknown"]

_T = TypeVar("_T")


class Refused(ValueError):
    """The service will not do what was asked as asked (the message says why)."""


class Unknown(LookupError):
    """What the request names does not exist (an alert id not in the outbox)."""


@dataclass(frozen=True, slots=True)
class Taken:
    """Readings taken: the row ids of the new ones, and how many the log already had."""

    ids: tuple[int, ...]
    already_present: int


@dataclass(slots=True)
class Entrances:
    """The service's side of every command that changes something.

    Args:
        clock: the service's clock (times the pause, the resend, the receipt of readings).
        on_store_thread: runs one call on the log writer's thread and awaits it.
        store: the writer's connection (used only through ``on_store_thread``).
        feed: hands durable readings to the rule (decisions, outbox, delivery woken).
        report: queues a symptom report's urgent alert and logs it; returns its id.
        wake: wakes delivery after a resend.
        status_line: the service's one-line status (what systemd shows).
        status_screen: ``portwatch status``'s screen as of a time, read on the log's
            thread (issue 20: the command shows it without reading the settings).
    """

    clock: Clock
    on_store_thread: Callable[[Callable[[], Any]], Awaitable[Any]]
    store: Callable[[], Store]
    feed: Callable[[Sequence[StoredReading]], None]
    report: Callable[[Sequence[Symptom], str], Awaitable[str]]
    wake: Callable[[], None]
    status_line: Callable[[], str]
    status_screen: Callable[[datetime], str] | None = None

    def now(self) -> datetime:
        return self.clock.now()

    async def _write(self, work: Callable[[], _T]) -> _T:
        result: _T = await self.on_store_thread(work)
        return result

    async def take_readings(self, readings: Sequence[Reading], *, once: bool) -> Taken:
        """Commit readings (``once``: skip those the log already holds, as an import does),
        in one transaction, then give the new ones to the rule.

        Raises:
            StoreError: nothing was written.
        """

        def write() -> tuple[list[int], int, list[StoredReading]]:
            store = self.store()
            if once:
                result = store.import_readings(readings)
                ids, present = list(result.ids), result.already_present
            else:
                ids, present = store.add_readings(readings), 0
            if not ids:
                return ids, present, []
            wanted = set(ids)
            rows = store.readings_after(min(ids) - 1, limit=max(ids) - min(ids) + 1)
            return ids, present, [row for row in rows if row.id in wanted]

        ids, present, stored = await self._write(write)
        self.feed(stored)
        return Taken(tuple(ids), present)

    async def report_symptoms(self, symptoms: Sequence[Symptom], note: str) -> str:
        """Queue the clinic's urgent alert for a symptom report; returns its id.

        Raises:
            Refused: no symptom, or "other" without a note.
        """
        from portwatch.alerts.payloads import PayloadError

        try:
            return await self.report(symptoms, note)
        except PayloadError as exc:
            raise Refused(str(exc)) from exc

    async def pause(self, duration: timedelta, reason: str) -> Pause:
        """The thermometer is off the body on purpose from now: a note in the log, which
        the stale-data watch reads at its next look.

        Raises:
            Refused: a duration not in (0, 2 h], or no reason.
        """
        try:
            pause = make_pause(self.clock.now(), duration, reason)
        except PauseError as exc:
            raise Refused(str(exc)) from exc
        await self._write(lambda: self.store().add_note(pause.start, pause.end, pause.reason))
        return pause

    async def resend(self, alert_id: str) -> None:
        """Queue an alert again, due now, with the same id; delivery is woken.

        Raises:
            Unknown: no outbox row has that id.
        """
        now = self.clock.now()
        try:
            await self._write(lambda: self.store().outbox_requeue(alert_id, now))
        except StoreInputError as exc:
            raise Unknown(str(exc)) from exc
        self.wake()

    async def purge(self, before: datetime, *, dry_run: bool) -> dict[str, int]:
        """What the log holds from before ``before`` (``dry_run``), or remove it."""
        counts: dict[str, int] = await self._write(
            lambda: self.store().purge(before, dry_run=dry_run)
        )
        return counts

    async def status(self) -> dict[str, object]:
        """The service's own view: its status line and the pause in force, if any."""
        now = self.clock.now()
        notes = await self._write(lambda: self.store().notes(now - MAX_PAUSE, now + MAX_PAUSE))
        active = [
            Pause(n.start, n.end, n.reason)
            for n in notes
            if n.start <= now < Pause(n.start, n.end, n.reason).effective_end()
        ]
        latest = max(active, key=lambda p: p.effective_end(), default=None)
        screen = self.status_screen
        answer: dict[str, object] = {}
        if screen is not None:
            answer["screen"] = await self._write(lambda: screen(now))
        return {
            **answer,
            "now": now.isoformat(),
            "status": self.status_line(),
            "paused_until": None if latest is None else latest.effective_end().isoformat(),
            "pause_reason": None if latest is None else latest.reason,
        }
