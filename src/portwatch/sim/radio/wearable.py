"""The virtual greenteg CORE wearable: Core Body Temperature notifications on its own clock."""

from __future__ import annotations

import struct
from datetime import datetime
from decimal import Decimal
from typing import Any

from bumble.core import UUID, AdvertisingData
from bumble.gatt import Characteristic, Service

from portwatch.ble import core
from portwatch.clock import Clock
from portwatch.sim.radio.thermometers import NO_PERMISSIONS, VirtualThermometer, value_of

__all__ = ["VirtualCoreWearable"]


class VirtualCoreWearable(VirtualThermometer):
    """The greenteg CORE wearable: Core Body Temperature notifications every ``interval_s``.

    Advertises its name and greenteg's company identifier; its own 128-bit service UUID
    is only in the scan response (which Bumble does not deliver, as a passive scan would
    not see it either). ``quality`` sets the Data Quality the frames carry.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        interval_s: float = 1.0,
        skin_offset_c: float = -2.0,
        quality: core.Quality = core.Quality.GOOD,
        name: str = "CORE 4A2B",
        **kwargs: Any,
    ) -> None:
        super().__init__(clock, name=name, **kwargs)
        self.interval_s = interval_s
        self.skin_offset_c = skin_offset_c
        self.quality = quality
        self.measurement_char: Characteristic[bytes] = Characteristic(
            core.MEASUREMENT_UUID,
            Characteristic.Properties.NOTIFY | Characteristic.Properties.INDICATE,
            NO_PERMISSIONS,
            b"",
        )

    def thermometer_services(self) -> list[Service]:
        return [Service(core.SERVICE_UUID, [self.measurement_char])]

    def advertising_structures(self) -> list[tuple[int, bytes]]:
        return [(AdvertisingData.MANUFACTURER_SPECIFIC_DATA, struct.pack("<H", core.COMPANY_ID))]

    def scan_response_structures(self) -> list[tuple[int, bytes]]:
        return [
            (
                AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                UUID(core.SERVICE_UUID).to_bytes(force_128=True),
            )
        ]

    def frame(
        self, now: datetime, *, core_value: Decimal | None = None, nan: bool = False
    ) -> bytes:
        celsius = self.temperature_at(now)
        value = None if nan else (core_value or value_of(celsius, self.unit))
        return core.encode_core(
            core.CoreMeasurement(
                unit=self.unit,
                core=value,
                skin=value_of(celsius + self.skin_offset_c, self.unit),
                quality=self.quality,
                hr_state=core.HeartRateState.NOT_SUPPORTED,
            )
        )

    async def run(self) -> None:
        await self._tick_forever(self.interval_s, self._measure)

    async def _measure(self) -> None:
        data = self.frame(self.clock.now())
        if self._subscribed(self.measurement_char) and await self._send(
            self.measurement_char, data, indicate=False
        ):
            self.sent.append(data)

    async def send_malformed(self) -> None:
        await self._send(self.measurement_char, b"\x3f\x01", indicate=False)

    async def send_nan(self) -> None:
        await self._send(
            self.measurement_char, self.frame(self.clock.now(), nan=True), indicate=False
        )
