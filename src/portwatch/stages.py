"""Stages: long-running tasks that fail alone (issue 7, issue 21 "Stage isolation").

A stage's unexpected exception is logged once (later failures of the same stage at DEBUG)
and that stage alone is started again after a backoff on the program's
:class:`~portwatch.clock.Clock`: it never cancels its siblings, so a broken notification URL,
CA file or page cannot hold back a fever alert to the clinic. Used by the daemon for its
stages and by the Deliverer for its channels.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from portwatch.clock import Clock

__all__ = ["RESTART_FIRST_S", "RESTART_MAX_S", "Chores", "Stages", "supervise"]

_LOGGER = logging.getLogger(__name__)

# A failed stage is restarted after 1, 2, 4 ... s, at most a minute (issue 7: "caught,
# logged and retried at that stage").
RESTART_FIRST_S: Final = 1.0
RESTART_MAX_S: Final = 60.0


async def supervise(
    name: str,
    factory: Callable[[], Awaitable[None]],
    clock: Clock,
    logger: logging.Logger = _LOGGER,
) -> None:
    """Run one stage forever; a failure is logged and the stage restarted (issue 7).

    Only cancellation ends it. The first failure is logged with its traceback; later ones
    at DEBUG, so a stage that fails every minute does not flood the journal.
    """
    delay_s = RESTART_FIRST_S
    while True:
        try:
            await factory()
            logger.debug("%s: stage returned; starting it again", name)
        except asyncio.CancelledError:
            raise
        except Exception:
            if delay_s == RESTART_FIRST_S:
                logger.exception("%s: stage failed; restarting it", name)
            else:
                logger.debug("%s: stage failed again", name, exc_info=True)
        await clock.sleep(delay_s)
        delay_s = min(delay_s * 2, RESTART_MAX_S)


class Stages:
    """The supervised stages of one program, by name; each cancelled on its own."""

    def __init__(self, clock: Clock, logger: logging.Logger = _LOGGER) -> None:
        self._clock = clock
        self._logger = logger
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def spawn(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        """Start ``factory`` as the stage ``name``, under :func:`supervise`."""
        self._tasks[name] = asyncio.create_task(
            supervise(name, factory, self._clock, self._logger), name=f"portwatch-{name}"
        )

    async def cancel(self, name: str, timeout_s: float) -> None:
        """Cancel one stage and wait up to ``timeout_s`` for it to end."""
        task = self._tasks.pop(name, None)
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task}, timeout=timeout_s)

    async def cancel_all(self, timeout_s: float) -> None:
        """Cancel the remaining stages one at a time, in the order they were started."""
        for name in list(self._tasks):
            await self.cancel(name, timeout_s)


class Chores:
    """Short pieces of work started from callbacks; owned here, their failures logged."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("a chore failed; the next reading or tick tries again")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self, timeout_s: float) -> None:
        """Let the chores under way finish, for at most ``timeout_s``."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
