"""Fixtures of the BlueZ tier (issue 11): real bluetoothd, a Bumble radio under it.

These tests run inside the test VM (tests/bluez/run-tier), where guest-boot has loaded
hci_vhci and started dbus and bluetoothd. Outside the VM they are not collected at all
(tests/bluez/conftest.py), because no machine here has Bluetooth in its kernel; inside it,
a missing piece fails.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import pytest
from bluez_rig import (
    HEART_RATE_UUID16,
    PAIRING_THERMOMETER_ADDRESS,
    STRANGER_ADDRESS,
    VirtualThermometer,
    bluez_radio,
    virtual_thermometer,
)
from bumble.link import LocalLink

IN_VM: Final = os.environ.get("PORTWATCH_BLUEZ_VM") == "1"
VHCI: Final = Path("/dev/vhci")


@pytest.fixture
async def radio() -> AsyncIterator[LocalLink]:
    """The air between BlueZ's controller and the test's peripherals, BlueZ powered up."""
    if not VHCI.exists():
        pytest.fail("no /dev/vhci: guest-boot did not load hci_vhci")
    async with bluez_radio() as link:
        yield link


@pytest.fixture
async def thermometer(radio: LocalLink) -> AsyncIterator[VirtualThermometer]:
    """A thermometer advertising the Health Thermometer Service near BlueZ's controller."""
    async with virtual_thermometer(radio) as device:
        yield device


@pytest.fixture
async def stranger(radio: LocalLink) -> AsyncIterator[VirtualThermometer]:
    """A neighbour's device advertising another service (heart rate) on the same air."""
    async with virtual_thermometer(
        radio, STRANGER_ADDRESS, "Stranger", service_uuid16=HEART_RATE_UUID16
    ) as device:
        yield device


@pytest.fixture
async def pairing_thermometer(radio: LocalLink) -> AsyncIterator[VirtualThermometer]:
    """A thermometer that serves its Measurement Interval only over an encrypted link."""
    async with virtual_thermometer(
        radio, PAIRING_THERMOMETER_ADDRESS, "ThermoP", pairing_required=True
    ) as device:
        yield device
