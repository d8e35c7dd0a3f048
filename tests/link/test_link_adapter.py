"""Adapter health on the system radio.

Only the message and the failure path are tested here: these machines have no BlueZ and
no system D-Bus, so the power cycle itself is exercised only on a Pi (or the BlueZ VM tier).
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portwatch.ble.adapter import AdapterError, BlueZAdapter, powered_message
from portwatch.ble.link import Link
from portwatch.ble.pin import Pin, save_pin
from portwatch.ble.timing import ADAPTER_SILENCE_S
from portwatch.clock import VirtualClock
from portwatch.model import LinkEventKind
from portwatch.sim.radio import VirtualRadio
from portwatch.sim.radio.testing import Recorder, run_until


def test_powered_message_targets_adapter_property_when_powering_off() -> None:
    """The call is Properties.Set(org.bluez.Adapter1, Powered, false) on /org/bluez/hci0."""
    destination, path, interface, member, signature, body = powered_message("hci0", False)
    assert (destination, path, interface, member, signature) == (
        "org.bluez",
        "/org/bluez/hci0",
        "org.freedesktop.DBus.Properties",
        "Set",
        "ssv",
    )
    assert body == ["org.bluez.Adapter1", "Powered", False]


async def test_power_cycle_raises_adapter_error_when_no_system_bus(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No bus (a container, a broken Pi) is an AdapterError the link logs, not a crash."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")
    adapter = BlueZAdapter(VirtualClock(datetime(2026, 3, 2, tzinfo=UTC)))
    with pytest.raises(AdapterError, match="hci0"):
        await adapter.power_cycle()


class CountingAdapter:
    """A fake at a true system edge (the adapter's power switch): counts power cycles."""

    def __init__(self) -> None:
        self.cycles = 0

    async def power_cycle(self) -> None:
        self.cycles += 1


async def test_link_power_cycles_adapter_once_when_silent_for_five_minutes(
    clock: VirtualClock, radio: VirtualRadio, recorder: Recorder, tmp_path: Path
) -> None:
    """Silence for 5 minutes resets the adapter; the next reset waits 15 minutes."""
    save_pin(tmp_path, Pin("D0:00:00:00:00:99", "gone", "hts"))
    adapter = CountingAdapter()
    link = Link(
        clock=clock,
        radio=radio,
        state_dir=tmp_path,
        sink=recorder,
        adapter=adapter,
        rng=random.Random(1),
    )
    task = asyncio.ensure_future(link.run())
    try:
        await run_until(
            clock, lambda: adapter.cycles == 1, within_s=ADAPTER_SILENCE_S + 60, step_s=5
        )
        await clock.advance(600)
        assert adapter.cycles == 1
        assert recorder.events(LinkEventKind.ADAPTER_RESET)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
