"""Decoding speed: portwatch's codecs against a bare ``struct`` decoder of the same bytes.

The baseline reads the same fields with precompiled structs and turns the FLOAT into a
binary float, with no special-value check, no Decimal, no range checks and no error
offsets: the least a decoder can do. The ratio is the price of being exact and strict.
A thermometer sends at most one measurement a second, so either is far beyond need;
the figure guards against a regression that would matter when a day of stored
measurements is replayed or a file imported.
"""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from portwatch.ble import core, hts
from portwatch.model import Site, Unit

_HEAD = struct.Struct("<BHbb")
_DATE = struct.Struct("<HBBBBB")
_CORE = struct.Struct("<Bh")


def _bare_hts(data: bytes) -> tuple[int, float, tuple[int, ...] | None, int | None]:
    flags, low, high, exponent = _HEAD.unpack_from(data)
    value = ((high << 16) | low) * 10.0**exponent
    offset = 5
    stamp = None
    if flags & 0x02:
        stamp = _DATE.unpack_from(data, offset)
        offset += 7
    site = data[offset] if flags & 0x04 else None
    return flags, value, stamp, site


def _bare_core(data: bytes) -> tuple[int, float]:
    flags, raw = _CORE.unpack_from(data)
    return flags, raw / 100


def _hts_packets(count: int, rng: random.Random) -> list[bytes]:
    packets = []
    for _ in range(count):
        # A Date Time is the device's local time, without zone: naive on purpose.
        stamp = datetime(2026, 11, 27, rng.randrange(24), rng.randrange(60), 0)  # noqa: DTZ001
        packets.append(
            hts.encode_measurement(
                hts.Measurement(
                    unit=rng.choice(list(Unit)),
                    value=Decimal(rng.randrange(3500, 4200)).scaleb(-2),
                    special=None,
                    timestamp=stamp if rng.random() < 0.5 else None,
                    site=rng.choice(list(Site)) if rng.random() < 0.5 else None,
                )
            )
        )
    return packets


def _core_packets(count: int, rng: random.Random) -> list[bytes]:
    return [
        core.encode_core(
            core.CoreMeasurement(
                unit=Unit.CELSIUS,
                core=Decimal(rng.randrange(3500, 4200)).scaleb(-2),
                skin=Decimal(rng.randrange(3000, 3800)).scaleb(-2),
                quality=core.Quality.GOOD,
                hr_state=core.HeartRateState.NO_SIGNAL,
                hsi=Decimal(rng.randrange(0, 100)).scaleb(-1),
            )
        )
        for _ in range(count)
    ]


def _rate(decode: Callable[[bytes], object], packets: list[bytes], rounds: int) -> float:
    """Packets per second, best of ``rounds`` passes (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for packet in packets:
            decode(packet)
        best = min(best, time.perf_counter() - start)
    return len(packets) / best


def measure(quick: bool) -> list[dict[str, object]]:
    rng = random.Random(20261127)  # fixed: the same packets every run
    count, rounds = (2_000, 3) if quick else (20_000, 7)
    hts_packets = _hts_packets(count, rng)
    core_packets = _core_packets(count, rng)
    return [
        {
            "figure": "HTS measurements decoded per second (hts.decode_measurement)",
            "value": _rate(hts.decode_measurement, hts_packets, rounds),
            "unit": "1/s",
            "baseline": "bare struct decoder, same bytes",
            "baseline_value": _rate(_bare_hts, hts_packets, rounds),
        },
        {
            "figure": "CORE frames decoded per second (core.decode_core)",
            "value": _rate(core.decode_core, core_packets, rounds),
            "unit": "1/s",
            "baseline": "bare struct decoder, same bytes",
            "baseline_value": _rate(_bare_core, core_packets, rounds),
        },
    ]
