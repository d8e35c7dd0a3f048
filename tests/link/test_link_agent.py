"""The link holds a pairing agent while it runs (issue 11), on the virtual radio.

On BlueZ the agent is portwatch.ble.bluez_agent's, proven against real bluetoothd in the VM
tier (tests/bluez/vm/test_link_bluez.py). Here the agent factory is a recording fake:
registering with bluetoothd is the true system edge, and no bluetoothd runs outside the
VM. The link, bleak and the thermometer are the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portwatch.ble import link as link_module
from portwatch.ble.bluez_agent import pairing_agent
from portwatch.ble.link import Link
from portwatch.ble.pin import Pin, save_pin
from portwatch.ble.radio import SYSTEM_RADIO, no_agent, system_agent
from portwatch.clock import VirtualClock
from portwatch.sim.radio import VirtualRadio, VirtualSpotThermometer
from portwatch.sim.radio.testing import Recorder, run_until


class RecordingAgent:
    """Stands in for bluetoothd's agent registration; keeps what the link asked of it."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.fail_with = fail_with
        self.allowed: Callable[[str], bool] | None = None
        self.held = False
        self.released = False

    @contextlib.asynccontextmanager
    async def __call__(self, allowed: Callable[[str], bool]) -> AsyncIterator[None]:
        if self.fail_with is not None:
            raise self.fail_with
        self.allowed = allowed
        self.held = True
        try:
            yield
        finally:
            self.held = False
            self.released = True


@contextlib.asynccontextmanager
async def running_link(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    state_dir: Path,
    agent: RecordingAgent,
) -> AsyncIterator[Link]:
    link = Link(
        clock=clock,
        radio=radio,
        state_dir=state_dir,
        sink=recorder,
        rng=random.Random(3),
        agent=agent,
    )
    task = asyncio.get_running_loop().create_task(link.run())
    try:
        yield link
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_link_holds_agent_allowing_only_the_pinned_address_when_running(
    clock: VirtualClock, radio: VirtualRadio, recorder: Recorder, tmp_path: Path
) -> None:
    """The agent must let the patient's thermometer pair, and no stranger nearby."""
    thermometer = await radio.add(VirtualSpotThermometer(clock, temperature_at=lambda _n: 37.0))
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    agent = RecordingAgent()
    async with running_link(clock, radio, recorder, tmp_path, agent) as link:
        await run_until(clock, link.connected.is_set, within_s=30)
        assert agent.held
        assert agent.allowed is not None
        assert agent.allowed(thermometer.address)
        assert agent.allowed(thermometer.address.lower())
        assert not agent.allowed("C4:5A:00:00:00:99")
    assert agent.released


async def test_link_reads_and_warns_a_person_when_the_agent_cannot_register(
    clock: VirtualClock,
    radio: VirtualRadio,
    recorder: Recorder,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No bluetoothd agent must not stop a thermometer that needs no pairing."""
    thermometer = await radio.add(VirtualSpotThermometer(clock, temperature_at=lambda _n: 37.0))
    save_pin(tmp_path, Pin(thermometer.address, thermometer.name, "hts"))
    agent = RecordingAgent(fail_with=FileNotFoundError("no system bus socket"))
    with caplog.at_level(logging.WARNING, logger=link_module.__name__):
        async with running_link(clock, radio, recorder, tmp_path, agent) as link:
            await run_until(clock, link.connected.is_set, within_s=30)
            assert await thermometer.take_measurement()
            await run_until(clock, lambda: len(recorder.readings) == 1, within_s=5)
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == link_module.__name__ and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1
    assert warnings[0].startswith("no Bluetooth pairing agent (no system bus socket)")


def test_system_agent_is_bluez_pairing_agent_when_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the Pi the system radio is BlueZ, which pairs only through an agent."""
    monkeypatch.setattr(sys, "platform", "linux")
    assert system_agent() is pairing_agent


def test_system_agent_is_none_when_not_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    """Elsewhere (a developer's Mac) the OS pairs by itself and there is no BlueZ bus."""
    monkeypatch.setattr(sys, "platform", "darwin")
    assert system_agent() is no_agent


async def test_thermometer_ask_to_pair_raises_when_nobody_is_connected(
    clock: VirtualClock, radio: VirtualRadio
) -> None:
    """Asking with no central connected is a test's mistake, said plainly."""
    thermometer = await radio.add(VirtualSpotThermometer(clock, temperature_at=lambda _n: 37.0))
    with pytest.raises(ValueError, match="no central connected"):
        await thermometer.ask_to_pair()


def test_system_radio_answers_bleaks_defaults_and_the_system_agent_when_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15: the radio is a value the link asks; the system one is bleak's platform own."""
    monkeypatch.setattr(sys, "platform", "linux")
    assert (SYSTEM_RADIO.client, SYSTEM_RADIO.scanner) == (None, None)
    assert SYSTEM_RADIO.agent() is pairing_agent


async def test_virtual_radio_answers_its_own_backend_and_no_agent_when_asked() -> None:
    radio = VirtualRadio(VirtualClock(datetime(2026, 11, 1, tzinfo=UTC)))
    assert (radio.client, radio.scanner) == (radio.backend.client, radio.backend.scanner)
    assert radio.agent() is no_agent
