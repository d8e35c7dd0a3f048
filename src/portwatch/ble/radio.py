"""Which radio the link talks through: a value chosen once, asked, never tested for None.

The system radio is bleak's platform backend (BlueZ on the Pi): it needs a pairing agent
(bleak registers none, :mod:`portwatch.ble.bluez_agent`) and has an adapter that can be
power-cycled when it goes silent (issue 3). The virtual radio
(:class:`portwatch.sim.radio.VirtualRadio`) brings its own bleak backend, pairs Just Works
by itself and has no adapter. Each answers the same questions (:class:`Radio`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Final, Protocol

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

from portwatch.ble.adapter import BlueZAdapter
from portwatch.clock import Clock

__all__ = [
    "SYSTEM_RADIO",
    "AdapterResetter",
    "AgentFactory",
    "Radio",
    "SystemRadio",
    "no_agent",
    "system_agent",
]

# Given "may this address pair?", a context manager that answers the radio's pairing
# requests while it is held (portwatch.ble.bluez_agent.pairing_agent on BlueZ). Entering it
# raises a ValueError subclass, OSError or TimeoutError when it cannot be registered.
AgentFactory = Callable[[Callable[[str], bool]], AbstractAsyncContextManager[None]]


class AdapterResetter(Protocol):
    """Power-cycles the system's Bluetooth adapter (BlueZ over D-Bus on the Pi)."""

    async def power_cycle(self) -> None: ...


class Radio(Protocol):
    """What the link, ``scan`` and ``pair`` need from a radio."""

    @property
    def client(self) -> type[BaseBleakClient] | None:
        """bleak's ``backend=`` for clients (None: bleak's platform default)."""
        ...

    @property
    def scanner(self) -> type[BaseBleakScanner] | None:
        """bleak's ``backend=`` for scanners (None: bleak's platform default)."""
        ...

    def agent(self) -> AgentFactory:
        """The pairing agent to hold while the link runs."""
        ...

    def adapter(self, name: str, clock: Clock) -> AdapterResetter | None:
        """What power-cycles adapter ``name`` when it goes silent (None: nothing to reset)."""
        ...


@contextlib.asynccontextmanager
async def no_agent(allowed: Callable[[str], bool]) -> AsyncIterator[None]:
    """Hold no pairing agent (the virtual radio pairs Just Works by itself)."""
    del allowed
    yield


def system_agent() -> AgentFactory:
    """The pairing agent the system radio needs: BlueZ's on Linux, none elsewhere."""
    if sys.platform != "linux":
        return no_agent
    from portwatch.ble.bluez_agent import pairing_agent  # dbus-fast: only where BlueZ runs

    return pairing_agent


class SystemRadio:
    """The machine's own radio through bleak's platform backend (BlueZ on the Pi)."""

    @property
    def client(self) -> type[BaseBleakClient] | None:
        return None

    @property
    def scanner(self) -> type[BaseBleakScanner] | None:
        return None

    def agent(self) -> AgentFactory:
        return system_agent()

    def adapter(self, name: str, clock: Clock) -> AdapterResetter | None:
        return BlueZAdapter(clock, name)


SYSTEM_RADIO: Final = SystemRadio()
