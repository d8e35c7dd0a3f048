"""Issue 3's adapter health reaches the Pi: BlueZ's adapter is given to the link, only there."""

from __future__ import annotations

from datetime import UTC, datetime

from portwatch.ble.adapter import BlueZAdapter
from portwatch.ble.radio import SYSTEM_RADIO
from portwatch.clock import VirtualClock
from portwatch.sim.radio import VirtualRadio


def test_adapter_resetter_is_bluez_adapter_when_the_radio_is_the_system_one() -> None:
    """Without it the link would never power-cycle a silent adapter on the Pi."""
    clock = VirtualClock(datetime(2026, 11, 1, tzinfo=UTC))
    resetter = SYSTEM_RADIO.adapter("hci1", clock)
    assert isinstance(resetter, BlueZAdapter)
    assert resetter.name == "hci1"


async def test_adapter_resetter_is_none_when_the_radio_is_virtual() -> None:
    """The virtual radio has no adapter to reset; the demo must not touch D-Bus."""
    clock = VirtualClock(datetime(2026, 11, 1, tzinfo=UTC))
    assert VirtualRadio(clock).adapter("hci0", clock) is None
