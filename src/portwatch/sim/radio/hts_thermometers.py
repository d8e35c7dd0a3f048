"""Virtual Health Thermometer Service thermometers: a spot one a person takes readings with,
and a periodic one that measures on its own (Bluetooth SIG HTS 1.0, GSS §3.252)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any

from bumble.gatt import Characteristic, CharacteristicValue, Service

from portwatch.ble import hts
from portwatch.clock import Clock
from portwatch.model import Site, Special
from portwatch.sim.radio.thermometers import (
    MALFORMED_PACKET,
    NO_PERMISSIONS,
    VirtualThermometer,
    value_of,
)

__all__ = ["VirtualPeriodicThermometer", "VirtualSpotThermometer"]


class _HtsThermometer(VirtualThermometer):
    """The Health Thermometer Service parts shared by the spot and periodic thermometers."""

    def __init__(
        self,
        clock: Clock,
        *,
        site: Site | None = Site.MOUTH,
        writable_clock: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(clock, **kwargs)
        self.site = site
        self.writable_clock = writable_clock
        self.clock_written_at: datetime | None = None
        encryption = (
            Characteristic.READ_REQUIRES_ENCRYPTION if self.pairing_required else NO_PERMISSIONS
        )
        self.measurement_char: Characteristic[bytes] = Characteristic(
            hts.TEMPERATURE_MEASUREMENT_UUID,
            Characteristic.Properties.INDICATE,
            NO_PERMISSIONS,
            b"",
        )
        self.measurement_char.on(
            self.measurement_char.EVENT_SUBSCRIPTION, self._on_measurement_subscription
        )
        self.type_char: Characteristic[bytes] = Characteristic(
            hts.TEMPERATURE_TYPE_UUID,
            Characteristic.Properties.READ,
            Characteristic.READABLE | encryption,
            hts.encode_temperature_type(site or Site.BODY),
        )
        self.date_time_char: Characteristic[bytes] = Characteristic(
            hts.DATE_TIME_UUID,
            Characteristic.Properties.READ | Characteristic.Properties.WRITE,
            Characteristic.READABLE | Characteristic.WRITEABLE,
            CharacteristicValue(
                read=lambda _c: hts.encode_date_time(self.device_time(self.clock.now())),
                write=self._on_date_time_written,
            ),
        )

    def hts_characteristics(self) -> list[Characteristic[Any]]:
        chars: list[Characteristic[Any]] = [self.measurement_char, self.type_char]
        if self.writable_clock:
            chars.append(self.date_time_char)
        return chars

    def thermometer_services(self) -> list[Service]:
        return [Service(hts.SERVICE_UUID, self.hts_characteristics())]

    def _on_date_time_written(self, _connection: object, value: bytes) -> None:
        written = hts.decode_date_time(bytes(value))
        if written is None:
            return
        now = self.clock.now()
        true_local = now.astimezone(self.zone).replace(tzinfo=None)
        self.clock_error_s = (written - true_local).total_seconds()
        self.clock_written_at = now

    def _on_measurement_subscription(self, _bearer: object, notify: bool, indicate: bool) -> None:
        if indicate:
            self._spawn(self.on_subscribed())

    def measurement_bytes(self, now: datetime, *, special: Special | None = None) -> bytes:
        value = None if special else value_of(self.temperature_at(now), self.unit)
        return hts.encode_measurement(
            hts.Measurement(
                unit=self.unit,
                value=value,
                special=special,
                timestamp=self.device_time(now),
                site=None,
            )
        )

    async def send_malformed(self) -> None:
        await self._send(self.measurement_char, MALFORMED_PACKET, indicate=True)

    async def send_nan(self) -> None:
        data = self.measurement_bytes(self.clock.now(), special=Special.NAN)
        await self._send(self.measurement_char, data, indicate=True)


class VirtualSpotThermometer(_HtsThermometer):
    """An HTS thermometer that measures when the patient takes a reading.

    One indication per measurement. With ``store_measurements``, a measurement taken
    while nobody is subscribed is kept with its time stamp and sent after the next
    subscription, oldest first, as real spot thermometers do.

    Args:
        measure_every_s: the patient takes a reading this often (``None``: only when
            :meth:`take_measurement` is called).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        measure_every_s: float | None = None,
        store_measurements: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(clock, **kwargs)
        self.measure_every_s = measure_every_s
        self.store_measurements = store_measurements
        self.stored: list[bytes] = []

    async def run(self) -> None:
        if self.measure_every_s is None:
            await asyncio.Event().wait()
            return
        await self._tick_forever(self.measure_every_s, self.take_measurement)

    async def take_measurement(self) -> bool:
        """Measure now and indicate it; store it if nobody receives it (when storing)."""
        data = self.measurement_bytes(self.clock.now())
        if self._subscribed(self.measurement_char) and await self._send(
            self.measurement_char, data, indicate=True
        ):
            self.sent.append(data)
            return True
        if self.store_measurements:
            self.stored.append(data)
        return False

    async def resend_last(self) -> bool:
        """Send the last delivered measurement again (a resend after a lost confirmation)."""
        if not self.sent:
            return False
        return await self._send(self.measurement_char, self.sent[-1], indicate=True)

    async def on_subscribed(self) -> None:
        while self.stored and self._subscribed(self.measurement_char):
            data = self.stored[0]
            if not await self._send(self.measurement_char, data, indicate=True):
                return
            self.stored.pop(0)
            self.sent.append(data)


class VirtualPeriodicThermometer(_HtsThermometer):
    """An HTS thermometer that measures on its own every ``interval_s`` seconds.

    Serves Measurement Interval (0x2A21); each measurement settles through a few
    Intermediate Temperature notifications, then one Temperature Measurement indication.
    """

    def __init__(
        self, clock: Clock, *, interval_s: int = 60, intermediate_steps: int = 2, **kwargs: Any
    ) -> None:
        super().__init__(clock, **kwargs)
        self.interval_s = interval_s
        self.intermediate_steps = intermediate_steps
        self.intermediate_char: Characteristic[bytes] = Characteristic(
            hts.INTERMEDIATE_TEMPERATURE_UUID, Characteristic.Properties.NOTIFY, NO_PERMISSIONS, b""
        )
        self.interval_char: Characteristic[bytes] = Characteristic(
            hts.MEASUREMENT_INTERVAL_UUID,
            Characteristic.Properties.READ,
            Characteristic.READABLE,
            CharacteristicValue(read=lambda _c: hts.encode_measurement_interval(self.interval_s)),
        )

    def hts_characteristics(self) -> list[Characteristic[Any]]:
        return [*super().hts_characteristics(), self.intermediate_char, self.interval_char]

    async def run(self) -> None:
        await self._tick_forever(self.interval_s, self._measure)

    async def _measure(self) -> None:
        now = self.clock.now()
        final = value_of(self.temperature_at(now), self.unit)
        for step in range(self.intermediate_steps, 0, -1):
            settling = hts.encode_measurement(
                hts.Measurement(
                    unit=self.unit,
                    value=final - Decimal(step) / 10,
                    special=None,
                    timestamp=None,
                    site=None,
                )
            )
            await self._send(self.intermediate_char, settling, indicate=False)
        data = self.measurement_bytes(now)
        if await self._send(self.measurement_char, data, indicate=True):
            self.sent.append(data)
