"""Fixtures for the virtual radio: a VirtualClock and an entered VirtualRadio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from portwatch.clock import VirtualClock
from portwatch.sim.radio import VirtualRadio

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(START)


@pytest.fixture
async def radio(clock: VirtualClock) -> AsyncIterator[VirtualRadio]:
    async with VirtualRadio(clock) as radio:
        yield radio
