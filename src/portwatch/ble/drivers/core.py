"""The greenteg CORE driver (Core Body Temperature Service, public CoreBodyTemp spec).

CORE notifies its Core Body Temperature characteristic on its own: each final core
temperature is a ``stream`` reading (fever-rule.md §1). The skin temperature travels in the
same frame and is kept in the reading's raw bytes, never used by the rule. A frame whose
quality the device grades "invalid", or whose core value is "not available", is recorded
as invalid with that reason. CORE advertises its own service only in the scan response,
so an advertisement is recognised by greenteg's company identifier too.

CORE does not declare a measurement interval; the session learns it as the median
spacing of the frames it receives (fever-rule.md §2: "what its driver knows").
"""

from __future__ import annotations

import itertools
import statistics
from collections import deque
from collections.abc import Collection
from typing import Final

from portwatch.ble import core
from portwatch.ble.drivers import DriverDecodeError, DriverName, GattReader, Sample
from portwatch.model import ReadingKind

__all__ = ["DRIVER", "CoreDriver", "CoreSession"]

# Arrivals kept to learn the interval; the median of 15 spacings ignores a few gaps.
INTERVAL_WINDOW: Final = 16
# Spacings needed before an interval is declared (fever-rule.md §2 needs 3 per window).
INTERVAL_MIN_SPACINGS: Final = 3


class CoreSession:
    """One connection to a CORE wearable; learns the interval from arrival spacing."""

    def __init__(self) -> None:
        self._arrivals: deque[float] = deque(maxlen=INTERVAL_WINDOW)

    @property
    def subscriptions(self) -> tuple[str, ...]:
        return (core.MEASUREMENT_UUID,)

    @property
    def interval_s(self) -> float | None:
        arrivals = list(self._arrivals)
        spacings = [b - a for a, b in itertools.pairwise(arrivals) if b > a]
        if len(spacings) < INTERVAL_MIN_SPACINGS:
            return None
        return round(statistics.median(spacings), 3)

    def decode(self, characteristic_uuid: str, data: bytes, *, received_mono: float) -> Sample:
        try:
            m = core.decode_core(data)
        except core.CoreDecodeError as exc:
            raise DriverDecodeError(f"core {characteristic_uuid}: {exc}") from exc
        self._arrivals.append(received_mono)
        reason = None
        if m.core is None:
            reason = "core temperature not available (0x7FFF)"
        elif m.quality_unusable:
            reason = f"device graded the measurement {m.quality}"
        return Sample(
            kind=ReadingKind.STREAM,
            value=m.core,
            unit=m.unit,
            celsius=m.core_celsius,
            interval_s=self.interval_s,
            invalid_reason=reason,
        )


class CoreDriver:
    """Reads the greenteg CORE wearable."""

    name = DriverName.CORE
    service_uuid = core.SERVICE_UUID

    def advertises(self, service_uuids: Collection[str], manufacturer_ids: Collection[int]) -> bool:
        return core.SERVICE_UUID in service_uuids or core.COMPANY_ID in manufacturer_ids

    async def open(self, gatt: GattReader) -> CoreSession:
        return CoreSession()


DRIVER = CoreDriver()
