"""Observers of the running daemon, for the demo's progress lines and for tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from portwatch.alerts.notices import Notice
from portwatch.log.store import OutboxEntry, StoredReading
from portwatch.model import Decision, Reading

__all__ = ["DaemonHooks"]


@dataclass(slots=True)
class DaemonHooks:
    """Optional observers, for the demo's progress lines and for tests; they decide nothing.

    Read at each call, so an observer set while the daemon runs is used from then on.
    """

    on_recorded: Callable[[Sequence[Decision], Sequence[OutboxEntry]], None] | None = None
    on_durable: Callable[[Sequence[StoredReading]], None] | None = None
    on_received: Callable[[Reading], None] | None = None
    on_notice: Callable[[Notice], None] | None = None
    on_ready: Callable[[], None] | None = None
