"""The pairing agent: it decides by address and answers bluetoothd by D-Bus signature."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.ble.bluez_agent import AgentError, address_from_device_path


@given(st.binary(min_size=6, max_size=6), st.sampled_from(["hci0", "hci1", "hci12"]))
def test_address_round_trips_when_the_path_is_bluez_device_path(raw: bytes, adapter: str) -> None:
    """Every address BlueZ can name comes back exactly, whatever the adapter."""
    address = ":".join(f"{byte:02X}" for byte in raw)
    path = f"/org/bluez/{adapter}/dev_{address.replace(':', '_')}"
    assert address_from_device_path(path) == address


@pytest.mark.parametrize(
    "path",
    [
        "/org/bluez/hci0",
        "/org/bluez/hci0/dev_C4_5A_00_00_00",
        "/org/bluez/hci0/dev_C4_5A_00_00_00_01/service0006",
        "/org/bluez/hci0/dev_c4_5a_00_00_00_01",
        "/org/other/hci0/dev_C4_5A_00_00_00_01",
    ],
)
def test_agent_error_names_the_path_when_it_is_not_a_device(path: str) -> None:
    """A path that is not a device must be refused loudly, never read as some address."""
    with pytest.raises(AgentError, match="not a BlueZ device object path"):
        address_from_device_path(path)


def test_agent_methods_carry_bluez_signatures_when_exported() -> None:
    """bluetoothd calls the agent by D-Bus signature (doc/agent-api.txt); a typo breaks pairing."""
    from portwatch.ble.bluez_agent import _Agent

    introspected = _Agent(lambda _address: True).introspect()
    signatures = {
        m.name: ("".join(a.signature for a in m.in_args), "".join(a.signature for a in m.out_args))
        for m in introspected.methods
    }
    assert introspected.name == "org.bluez.Agent1"
    assert signatures == {
        "Release": ("", ""),
        "RequestPinCode": ("o", "s"),
        "DisplayPinCode": ("os", ""),
        "RequestPasskey": ("o", "u"),
        "DisplayPasskey": ("ouq", ""),
        "RequestConfirmation": ("ou", ""),
        "RequestAuthorization": ("o", ""),
        "AuthorizeService": ("os", ""),
        "Cancel": ("", ""),
    }
