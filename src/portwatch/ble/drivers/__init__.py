"""Thermometer protocols: one small module per protocol, behind one interface.

A driver knows how to recognise its thermometer in an advertisement, what to read once a
connection is up (declared interval, measurement site) and how to turn one packet into a
:class:`Sample`. Everything else (finding, pinning, connecting, time correction, battery,
reconnecting) is the link's job and the same for every driver.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final, Protocol

from portwatch.model import ReadingKind, Site, Special, Unit

__all__ = [
    "DRIVERS",
    "Driver",
    "DriverDecodeError",
    "DriverName",
    "GattReader",
    "Sample",
    "Session",
    "driver_for_advertisement",
    "driver_for_services",
    "driver_named",
]


class DriverName(StrEnum):
    """The protocols portwatch speaks; stored in the pin file."""

    HTS = "hts"  # Bluetooth SIG Health Thermometer Service 0x1809
    CORE = "core"  # greenteg CORE Core Body Temperature Service


class DriverDecodeError(ValueError):
    """A packet its driver cannot decode; the message names the characteristic and why."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One decoded temperature packet, before the link adds device, times and raw bytes."""

    kind: ReadingKind
    value: Decimal | None
    unit: Unit
    celsius: float | None
    device_time: datetime | None = None  # naive, the device's own clock
    site: Site | None = None
    interval_s: float | None = None
    special: Special | None = None
    invalid_reason: str | None = None


class GattReader(Protocol):
    """What a driver needs of a connected bleak client to prepare a session."""

    def has_characteristic(self, uuid: str) -> bool: ...

    async def read(self, uuid: str) -> bytes: ...


class Session(Protocol):
    """A driver's state for one connection."""

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Characteristic UUIDs (full, lower case) whose values are temperatures."""
        ...

    def decode(self, characteristic_uuid: str, data: bytes, *, received_mono: float) -> Sample:
        """One packet as a sample.

        Raises:
            DriverDecodeError: the packet is malformed.
        """
        ...


class Driver(Protocol):
    """One thermometer protocol."""

    @property
    def name(self) -> DriverName: ...

    @property
    def service_uuid(self) -> str: ...

    def advertises(self, service_uuids: Collection[str], manufacturer_ids: Collection[int]) -> bool:
        """Whether an advertisement shows a thermometer this driver can read."""
        ...

    async def open(self, gatt: GattReader) -> Session:
        """Read what the session needs (interval, site). bleak errors pass through."""
        ...


def _all() -> tuple[Driver, ...]:
    from portwatch.ble.drivers import core, hts

    # CORE first: a CORE wearable may also serve the standard thermometer service, and
    # its own service carries the core temperature the clinic wants.
    return (core.DRIVER, hts.DRIVER)


DRIVERS: Final[tuple[Driver, ...]] = _all()


def driver_named(name: str) -> Driver:
    """The driver stored under ``name`` in a pin file.

    Raises:
        DriverDecodeError: no driver has that name.
    """
    for driver in DRIVERS:
        if driver.name == name:
            return driver
    raise DriverDecodeError(f"unknown thermometer driver {name!r}; known: hts, core")


def driver_for_advertisement(
    service_uuids: Collection[str], manufacturer_ids: Collection[int]
) -> Driver | None:
    """The first driver that recognises an advertisement (``None``: not a thermometer)."""
    for driver in DRIVERS:
        if driver.advertises(service_uuids, manufacturer_ids):
            return driver
    return None


def driver_for_services(service_uuids: Collection[str]) -> Driver | None:
    """The first driver whose GATT service a connected thermometer serves."""
    for driver in DRIVERS:
        if driver.service_uuid in service_uuids:
            return driver
    return None
