"""The Health Thermometer Service driver (Bluetooth SIG HTS 1.0, service 0x1809).

Temperature Measurement (0x2A1C, indicated) gives final readings: ``spot`` when the
thermometer declares no Measurement Interval (0x2A21) or an interval of 0, else ``stream``
with that interval (fever-rule.md §1). Intermediate Temperature (0x2A1E, notified) gives
``provisional`` readings. The site comes from the measurement, else Temperature Type.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from portwatch.ble import hts
from portwatch.ble.drivers import DriverDecodeError, DriverName, GattReader, Sample
from portwatch.model import ReadingKind, Site

__all__ = ["DRIVER", "HtsDriver", "HtsSession"]


@dataclass(frozen=True, slots=True)
class HtsSession:
    """What one connection to an HTS thermometer declared."""

    interval_s: int | None
    site: Site | None
    has_intermediate: bool

    @property
    def subscriptions(self) -> tuple[str, ...]:
        if self.has_intermediate:
            return (hts.TEMPERATURE_MEASUREMENT_UUID, hts.INTERMEDIATE_TEMPERATURE_UUID)
        return (hts.TEMPERATURE_MEASUREMENT_UUID,)

    def decode(self, characteristic_uuid: str, data: bytes, *, received_mono: float) -> Sample:
        try:
            m = hts.decode_measurement(data)
        except hts.HtsDecodeError as exc:
            raise DriverDecodeError(f"hts {characteristic_uuid}: {exc}") from exc
        if characteristic_uuid == hts.INTERMEDIATE_TEMPERATURE_UUID:
            kind = ReadingKind.PROVISIONAL
        elif self.interval_s:
            kind = ReadingKind.STREAM
        else:
            kind = ReadingKind.SPOT
        return Sample(
            kind=kind,
            value=m.value,
            unit=m.unit,
            celsius=m.celsius,
            device_time=m.timestamp,
            site=m.site or self.site,
            interval_s=float(self.interval_s)
            if kind is ReadingKind.STREAM and self.interval_s
            else None,
            special=m.special,
            invalid_reason=f"special value {m.special}" if m.special else None,
        )


class HtsDriver:
    """Reads any thermometer that serves the Health Thermometer Service."""

    name = DriverName.HTS
    service_uuid = hts.SERVICE_UUID

    def advertises(self, service_uuids: Collection[str], manufacturer_ids: Collection[int]) -> bool:
        return hts.SERVICE_UUID in service_uuids

    async def open(self, gatt: GattReader) -> HtsSession:
        site = None
        if gatt.has_characteristic(hts.TEMPERATURE_TYPE_UUID):
            try:
                site = hts.decode_temperature_type(await gatt.read(hts.TEMPERATURE_TYPE_UUID))
            except hts.HtsDecodeError as exc:
                raise DriverDecodeError(f"hts temperature type: {exc}") from exc
        interval_s = None
        if gatt.has_characteristic(hts.MEASUREMENT_INTERVAL_UUID):
            try:
                interval_s = hts.decode_measurement_interval(
                    await gatt.read(hts.MEASUREMENT_INTERVAL_UUID)
                )
            except hts.HtsDecodeError as exc:
                raise DriverDecodeError(f"hts measurement interval: {exc}") from exc
        return HtsSession(
            interval_s=interval_s or None,
            site=site,
            has_intermediate=gatt.has_characteristic(hts.INTERMEDIATE_TEMPERATURE_UUID),
        )


DRIVER = HtsDriver()
