"""Helpers for driving the link on the virtual radio: a recording sink and ``run_until``.

They ship with the package (like the VirtualClock) because the tests and the demo both
drive the link on a VirtualClock and need the same two things.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from portwatch.clock import VirtualClock
from portwatch.model import LinkEvent, LinkEventKind, Reading

__all__ = ["Recorder", "TimedOut", "run_until"]


class TimedOut(AssertionError):
    """The awaited condition did not hold within the given Clock time."""


class Recorder:
    """A link sink that keeps everything it is given, in order."""

    def __init__(self) -> None:
        self.items: list[Reading | LinkEvent] = []

    async def __call__(self, item: Reading | LinkEvent) -> None:
        self.items.append(item)

    @property
    def readings(self) -> list[Reading]:
        return [i for i in self.items if isinstance(i, Reading)]

    def events(self, kind: LinkEventKind) -> list[LinkEvent]:
        return [i for i in self.items if isinstance(i, LinkEvent) and i.kind is kind]


async def run_until(
    clock: VirtualClock,
    predicate: Callable[[], bool],
    *,
    within_s: float,
    step_s: float = 0.5,
    loop_time_s: float = 0.0,
) -> float:
    """Advance the clock in steps until ``predicate`` holds; return the Clock seconds taken.

    Each step lets the event loop turn (the clock's settle rounds), which is all the
    virtual radio needs. ``loop_time_s`` also lets the event loop's own timer run that
    long per step, for library code that waits on it rather than on our Clock
    (bleak-retry-connector backs off 0.1-1 s between its connection attempts); it moves
    no Clock time.

    Raises:
        TimedOut: ``within_s`` of Clock time passed without the condition.
    """
    began = clock.monotonic()
    while not predicate():
        if clock.monotonic() - began >= within_s:
            raise TimedOut(f"condition not met within {within_s} s of clock time")
        await clock.advance(step_s)
        if loop_time_s:
            await asyncio.sleep(loop_time_s)
    return clock.monotonic() - began
