"""Fixtures for end-to-end link tests: a VirtualClock, the virtual radio, a recording sink.

Every test here runs real bleak and bleak-retry-connector on the Bumble backend. Time
moves only through ``clock.advance``; :func:`until` advances it step by step and gives
the event loop turns (``settle_rounds``) so the radio's call_soon chains complete.
Helpers shared with the demo live in :mod:`portwatch.sim.radio.testing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portwatch.ble.link import Link
from portwatch.clock import VirtualClock
from portwatch.sim.radio import VirtualRadio
from portwatch.sim.radio.testing import Recorder

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# Enough loop turns per wake-up for a connection's GATT exchange over LocalLink.
SETTLE_ROUNDS = 64


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START, settle_rounds=SETTLE_ROUNDS)


@pytest.fixture
async def radio(clock: VirtualClock) -> AsyncIterator[VirtualRadio]:
    async with VirtualRadio(clock) as radio:
        yield radio


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def start_link(
    clock: VirtualClock, radio: VirtualRadio, recorder: Recorder, tmp_path: Path
) -> AsyncIterator[Callable[[], Link]]:
    tasks: list[asyncio.Task[None]] = []

    def start() -> Link:
        link = Link(
            clock=clock,
            radio=radio,
            state_dir=tmp_path,
            sink=recorder,
            rng=random.Random(3),
        )
        tasks.append(asyncio.get_running_loop().create_task(link.run()))
        return link

    yield start
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
