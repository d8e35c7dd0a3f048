"""Canaries: the bleak, bleak-retry-connector and Bumble internals the virtual radio uses.

Each fails when an upgrade moves or renames what portwatch.sim.radio relies on, before the
radio breaks in a less obvious way.
"""

from __future__ import annotations

import inspect

import bleak_retry_connector
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.scanner import BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bumble.controller import AdvertisingSet, Controller, LegacyAdvertiser
from bumble.device import Device
from bumble.gatt_server import Server


def _params(obj: object) -> list[str]:
    return list(inspect.signature(obj).parameters)  # type: ignore[arg-type]


def test_bleak_client_contract_is_what_backend_implements_when_bleak_upgrades() -> None:
    """BaseBleakClient's abstract methods are exactly what BumbleClient implements."""
    assert BaseBleakClient.__abstractmethods__ == {
        "connect", "disconnect", "pair", "unpair", "is_connected", "mtu_size",
        "read_gatt_char", "read_gatt_descriptor", "write_gatt_char", "write_gatt_descriptor",
        "start_notify", "stop_notify",
    }  # fmt: skip


def test_bleak_scanner_helpers_exist_when_bleak_upgrades() -> None:
    """BumbleScanner relies on these base-class helpers and their argument order."""
    assert BaseBleakScanner.__abstractmethods__ == {"start", "stop"}
    assert _params(BaseBleakScanner.create_or_update_device) == [
        "self", "key", "address", "name", "details", "adv",
    ]  # fmt: skip
    assert callable(BaseBleakScanner.call_detection_callbacks)
    assert callable(BaseBleakScanner.is_allowed_uuid)


def test_bleak_gatt_constructors_match_when_bleak_upgrades() -> None:
    """The backend builds bleak's GATT objects positionally."""
    assert _params(BleakGATTService) == ["obj", "handle", "uuid"]
    assert _params(BleakGATTCharacteristic) == [
        "obj", "handle", "uuid", "properties", "max_write_without_response_size", "service",
    ]  # fmt: skip
    assert _params(BleakGATTDescriptor) == ["obj", "handle", "uuid", "characteristic"]
    for name in ("add_service", "add_characteristic", "add_descriptor"):
        assert callable(getattr(BleakGATTServiceCollection, name))


def test_retry_connector_skips_bluez_when_device_details_have_no_path() -> None:
    """Virtual devices carry no BlueZ "path"; the connector must key its BlueZ calls on it."""
    source = inspect.getsource(bleak_retry_connector.bluez.get_connected_devices)
    assert '"path" not in device.details' in source
    assert "client_class" in _params(bleak_retry_connector.establish_connection)


def test_bumble_internals_exist_when_bumble_upgrades() -> None:
    """Ghost-link clearing, announcing and subscription checks use these Bumble internals."""
    controller_fields = inspect.get_annotations(Controller)
    assert {"pending_le_connection", "le_legacy_advertiser", "advertising_sets"} <= set(
        controller_fields
    )
    assert callable(LegacyAdvertiser.send_advertising_data)
    assert callable(AdvertisingSet.send_extended_advertising_data)
    assert "subscribers" in inspect.getsource(Server.__init__)
    assert callable(Device.lookup_connection)
    assert "le_connecting" in inspect.getsource(Device.__init__)
