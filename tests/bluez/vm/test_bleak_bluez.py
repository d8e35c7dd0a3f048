"""The tier's own proof, and BlueZ's behaviour the link must live with (issue 11).

bleak on its default backend talks to real bluetoothd here. The first test proves the
tier (if it fails, nothing the link does on BlueZ can be tested, and it names the stage
that broke). The others pin down, without portwatch's link, what a Raspberry Pi's BlueZ
does when a thermometer drops and comes back, when a stranger advertises nearby, and
when a thermometer must be paired: the ground the link's own tests stand on.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Final

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakDBusError
from bluez_rig import (
    HEART_RATE_UUID,
    HTS_UUID,
    MEASUREMENT_UUID,
    PAIRING_THERMOMETER_ADDRESS,
    STRANGER_ADDRESS,
    TEMPERATURE_TYPE_UUID,
    THERMOMETER_ADDRESS,
)
from bumble.device import Device

from portwatch.ble import hts
from portwatch.ble.bluez_agent import pairing_agent
from portwatch.model import Site
from portwatch.sim.radio import VirtualSpotThermometer

# Slow emulation (bluez_rig): generous ceilings, each well under pytest's 120 s.
SCAN_S: Final = 30.0
CONNECT_S: Final = 40.0
INDICATION_S: Final = 20.0
DROP_S: Final = 30.0
PAIR_S: Final = 40.0


def _advertises_hts(_device: BLEDevice, advertisement: AdvertisementData) -> bool:
    return HTS_UUID in advertisement.service_uuids


async def _find_hts() -> BLEDevice:
    found = await BleakScanner.find_device_by_filter(_advertises_hts, timeout=SCAN_S)
    assert found is not None, "BlueZ never reported a device advertising the HTS service"
    return found


async def _receive_one(client: BleakClient, thermometer: VirtualSpotThermometer) -> bytes:
    """Subscribe, have the thermometer measure once, return what bleak received."""
    received: asyncio.Queue[bytes] = asyncio.Queue()
    await client.start_notify(
        MEASUREMENT_UUID, lambda _char, data: received.put_nowait(bytes(data))
    )
    assert await thermometer.take_measurement(), "the thermometer saw no subscriber"
    return await asyncio.wait_for(received.get(), INDICATION_S)


async def test_bleak_receives_an_indication_when_bluez_connects_to_a_hts_thermometer(
    thermometer: VirtualSpotThermometer,
) -> None:
    """bleak, through bluetoothd, finds a thermometer by service and gets its indication."""
    found = await _find_hts()
    # The device came from BlueZ, not from a Bumble backend: it has a D-Bus object path.
    assert str(found.details["path"]).startswith("/org/bluez/")
    async with BleakClient(found, timeout=CONNECT_S) as client:
        got = await _receive_one(client, thermometer)
    assert got == thermometer.sent[-1]
    assert hts.decode_measurement(got).value == Decimal("38.50")


async def test_bluez_reports_the_drop_and_reconnects_when_the_thermometer_returns(
    thermometer: VirtualSpotThermometer,
) -> None:
    """A thermometer out of range and back must be seen to leave and be usable again."""
    dropped = asyncio.Event()
    async with BleakClient(
        await _find_hts(), timeout=CONNECT_S, disconnected_callback=lambda _c: dropped.set()
    ) as client:
        await client.start_notify(MEASUREMENT_UUID, lambda _char, _data: None)
        await thermometer.drop_link()
        await asyncio.wait_for(dropped.wait(), DROP_S)
        assert not client.is_connected

    async with BleakClient(await _find_hts(), timeout=CONNECT_S) as client:
        got = await _receive_one(client, thermometer)
    assert got == thermometer.sent[-1]


async def test_scan_by_service_finds_the_thermometer_when_a_stranger_advertises_nearby(
    stranger: Device, thermometer: VirtualSpotThermometer
) -> None:
    """A neighbour's device in range must not be taken for the patient's thermometer."""
    del stranger, thermometer  # both advertise; the test watches what BlueZ reports
    seen: dict[str, list[str]] = {}
    both_seen = asyncio.Event()

    def note(device: BLEDevice, advertisement: AdvertisementData) -> None:
        seen[device.address] = advertisement.service_uuids
        if {THERMOMETER_ADDRESS, STRANGER_ADDRESS} <= seen.keys():
            both_seen.set()

    async with BleakScanner(note):
        await asyncio.wait_for(both_seen.wait(), SCAN_S)
    found = await _find_hts()

    assert found.address == THERMOMETER_ADDRESS
    assert HTS_UUID not in seen[STRANGER_ADDRESS]
    assert HEART_RATE_UUID in seen[STRANGER_ADDRESS]


async def test_pairing_fails_when_no_agent_answers_bluez(
    pairing_thermometer: VirtualSpotThermometer,
) -> None:
    """Why portwatch brings an agent: bleak registers none, and BlueZ then refuses."""
    del pairing_thermometer
    async with BleakClient(await _find_hts(), timeout=CONNECT_S) as client:
        with pytest.raises(BleakDBusError) as refused:
            await client.pair()
    assert refused.value.dbus_error == "org.bluez.Error.AuthenticationFailed"


async def test_bluez_pairs_and_reads_the_guarded_value_when_the_agent_allows_the_thermometer(
    pairing_thermometer: VirtualSpotThermometer,
) -> None:
    """A pairing-required thermometer serves its guarded values once BlueZ has paired it.

    With an agent registered, BlueZ accepts the Just Works pairing portwatch asked for.
    """
    async with (
        pairing_agent(lambda address: address == PAIRING_THERMOMETER_ADDRESS),
        BleakClient(await _find_hts(), timeout=CONNECT_S) as client,
    ):
        await client.pair()
        site = await client.read_gatt_char(TEMPERATURE_TYPE_UUID)
        encrypted = pairing_thermometer.encrypted
        got = await _receive_one(client, pairing_thermometer)
    assert encrypted
    assert bytes(site) == hts.encode_temperature_type(Site.MOUTH)
    assert got == pairing_thermometer.sent[-1]


@pytest.mark.parametrize(
    ("allowed", "paired"), [(PAIRING_THERMOMETER_ADDRESS, True), (STRANGER_ADDRESS, False)]
)
async def test_agent_decides_by_address_when_a_device_asks_bluez_to_pair(
    pairing_thermometer: VirtualSpotThermometer, allowed: str, paired: bool
) -> None:
    """A device that asks to pair gets a bond only if it is the pinned thermometer.

    (When portwatch itself calls Pair, BlueZ 5.66 takes that as consent for Just Works
    and asks no agent, though one must be registered; see the test above.)
    """
    async with (
        pairing_agent(lambda address: address == allowed),
        BleakClient(await _find_hts(), timeout=CONNECT_S),
    ):
        outcome = await asyncio.wait_for(pairing_thermometer.ask_to_pair(), PAIR_S)
    assert outcome is paired
