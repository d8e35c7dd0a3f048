"""Health Thermometer Service (0x1809) codec: bytes <-> values. Pure.

Decodes and encodes Temperature Measurement (0x2A1C) and Intermediate Temperature
(0x2A1E), which share one format, Temperature Type (0x2A1D), Measurement Interval (0x2A21)
and its Valid Range descriptor (0x2906), the Date Time (0x2A08) and the IEEE 11073-20601
FLOAT and SFLOAT numbers they carry.

Every decoder returns a frozen value or raises :class:`HtsDecodeError` (a ``ValueError``)
whose message says what is wrong and at which byte; nothing returns ``None`` for bad bytes
and nothing logs. Every encoder is the exact inverse of its decoder and raises the same
error for a value that has no encoding. This module imports nothing from the I/O side.

References: Bluetooth SIG Health Thermometer Service 1.0 (HTS) §3; GATT Specification
Supplement (GSS) §3.216 Temperature Measurement, §3.217 Temperature Type, §3.70 Date Time,
§3.150 Measurement Interval, §2.6 IEEE 11073-20601 FLOAT/SFLOAT; IEEE 11073-20601 §F.6.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from portwatch.model import Site, Special, Unit

__all__ = [
    "DATE_TIME_UUID",
    "INTERMEDIATE_TEMPERATURE_UUID",
    "MEASUREMENT_INTERVAL_UUID",
    "SERVICE_UUID",
    "TEMPERATURE_MEASUREMENT_UUID",
    "TEMPERATURE_TYPE_UUID",
    "VALID_RANGE_DESCRIPTOR_UUID",
    "HtsDecodeError",
    "Measurement",
    "decode_date_time",
    "decode_float32",
    "decode_measurement",
    "decode_measurement_interval",
    "decode_sfloat",
    "decode_temperature_type",
    "decode_valid_range",
    "encode_date_time",
    "encode_float32",
    "encode_measurement",
    "encode_measurement_interval",
    "encode_sfloat",
    "encode_temperature_type",
    "encode_valid_range",
    "measurement_to_json",
]


def _uuid16(short: int) -> str:
    # Bluetooth Core Spec Vol 3 Part B §2.5.1: 16-bit UUIDs live in the Bluetooth Base UUID.
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


SERVICE_UUID: Final = _uuid16(0x1809)
TEMPERATURE_MEASUREMENT_UUID: Final = _uuid16(0x2A1C)
TEMPERATURE_TYPE_UUID: Final = _uuid16(0x2A1D)
INTERMEDIATE_TEMPERATURE_UUID: Final = _uuid16(0x2A1E)
MEASUREMENT_INTERVAL_UUID: Final = _uuid16(0x2A21)
VALID_RANGE_DESCRIPTOR_UUID: Final = _uuid16(0x2906)
DATE_TIME_UUID: Final = _uuid16(0x2A08)


class HtsDecodeError(ValueError):
    """Bytes that are not a valid HTS value, or a value that has no HTS encoding.

    ``offset`` is the byte (counted from 0 in the characteristic value) where the problem
    is; ``reason`` says what is wrong there. The message combines both.
    """

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"{reason} (at byte {offset})")
        self.offset = offset
        self.reason = reason

    def __reduce__(self) -> tuple[type[HtsDecodeError], tuple[int, str]]:
        return (type(self), (self.offset, self.reason))


# HTS §3.1.1.1 / GSS §3.216.1: flags of Temperature Measurement. Bits 3-7 are reserved for
# future use; a receiver ignores them (Core Spec Vol 3 Part G §3.3.3.1 convention).
FLAG_FAHRENHEIT: Final = 0x01
FLAG_TIME_STAMP: Final = 0x02
FLAG_TEMPERATURE_TYPE: Final = 0x04

# IEEE 11073-20601 §F.6 (GSS §2.6.2): FLOAT special values, as signed 24-bit mantissas.
# They are recognised by the mantissa alone, before any arithmetic, whatever the exponent.
_FLOAT_SPECIALS: Final[dict[int, Special]] = {
    0x7FFFFF: Special.NAN,
    -0x800000: Special.NRES,  # 0x800000
    0x7FFFFE: Special.POSITIVE_INFINITY,
    -0x7FFFFE: Special.NEGATIVE_INFINITY,  # 0x800002
    -0x7FFFFF: Special.RESERVED,  # 0x800001
}
_FLOAT_SPECIAL_MANTISSAS: Final[dict[Special, int]] = {s: m for m, s in _FLOAT_SPECIALS.items()}
FLOAT_MANTISSA_MAX: Final = 0x7FFFFD  # largest mantissa that is a number (§F.6)
FLOAT_MANTISSA_MIN: Final = -0x7FFFFD

# IEEE 11073-20601 §F.7 (GSS §2.6.3): SFLOAT, 4-bit exponent and 12-bit mantissa.
_SFLOAT_SPECIALS: Final[dict[int, Special]] = {
    0x07FF: Special.NAN,
    -0x0800: Special.NRES,  # 0x800
    0x07FE: Special.POSITIVE_INFINITY,
    -0x07FE: Special.NEGATIVE_INFINITY,  # 0x802
    -0x07FF: Special.RESERVED,  # 0x801
}
_SFLOAT_SPECIAL_MANTISSAS: Final[dict[Special, int]] = {s: m for m, s in _SFLOAT_SPECIALS.items()}
SFLOAT_MANTISSA_MAX: Final = 0x07FD
SFLOAT_MANTISSA_MIN: Final = -0x07FD

# GSS §3.217 Temperature Type: 1-9 name a body site; 0 and 10-255 are reserved.
_SITE_BY_CODE: Final[dict[int, Site]] = {
    1: Site.ARMPIT,
    2: Site.BODY,
    3: Site.EAR,
    4: Site.FINGER,
    5: Site.GASTROINTESTINAL,
    6: Site.MOUTH,
    7: Site.RECTUM,
    8: Site.TOE,
    9: Site.TYMPANUM,
}
_CODE_BY_SITE: Final[dict[Site, int]] = {s: c for c, s in _SITE_BY_CODE.items()}

# GSS §3.70 Date Time: year 1582-9999 (0 = unknown), month 1-12 (0 = unknown),
# day 1-31 (0 = unknown), hours 0-23, minutes 0-59, seconds 0-59.
DATE_TIME_SIZE: Final = 7
YEAR_MIN: Final = 1582
YEAR_MAX: Final = 9999

# Wire layouts, built once (style.md habit 3). FLOAT is read as flags, the low 16 bits of
# the mantissa, its signed high byte (so the 24-bit mantissa comes out sign-extended), and
# the signed exponent.
_FLAGS_FLOAT: Final = struct.Struct("<BHbb")  # HTS §3.1.1: flags, FLOAT temperature
_FLOAT: Final = struct.Struct("<Hbb")
_DATE_TIME: Final = struct.Struct("<HBBBBB")  # GSS §3.70
_UINT16: Final = struct.Struct("<H")  # GSS §3.150 Measurement Interval, seconds
_VALID_RANGE: Final = struct.Struct("<HH")  # GSS Valid Range descriptor: lower, upper
_SFLOAT: Final = struct.Struct("<H")

_FLOAT_SIZE: Final = 4
_MEASUREMENT_MIN_SIZE: Final = 1 + _FLOAT_SIZE


@dataclass(frozen=True, slots=True)
class Measurement:
    """One HTS Temperature Measurement or Intermediate Temperature, as the device sent it.

    Exactly one of ``value`` and ``special`` is set: a special value (NaN, NRes, ±INF,
    reserved) carries no temperature at all. ``value`` is exact (``Decimal`` built from the
    FLOAT's mantissa and exponent, so 37.6 stays 37.6), in ``unit``. ``timestamp`` is the
    device's own local time (naive), or ``None`` when absent or unknown (a Date Time of
    zeros). ``trailing_bytes`` are bytes after the fields the flags announce.
    """

    unit: Unit
    value: Decimal | None
    special: Special | None
    timestamp: datetime | None
    site: Site | None
    trailing_bytes: bytes = b""

    @property
    def celsius(self) -> float | None:
        """The temperature in °C, derived from the exact value; ``None`` for a special."""
        if self.value is None:
            return None
        if self.unit is Unit.CELSIUS:
            return float(self.value)
        return float((self.value - 32) * 5 / 9)


# --- numbers -----------------------------------------------------------------------------


def _number(mantissa: int, exponent: int) -> Decimal:
    # Exact: Decimal keeps the device's digits and exponent (376e-1 -> 37.6, 3760e-2 -> 37.60).
    return Decimal(mantissa).scaleb(exponent)


def decode_float32(data: bytes) -> Decimal | Special:
    """Decode one IEEE 11073-20601 32-bit FLOAT (4 bytes, little-endian).

    Raises:
        HtsDecodeError: when ``data`` is not exactly 4 bytes.
    """
    if len(data) != _FLOAT_SIZE:
        raise HtsDecodeError(min(len(data), _FLOAT_SIZE), f"a FLOAT is 4 bytes, got {len(data)}")
    low, high, exponent = _FLOAT.unpack(data)
    mantissa = (high << 16) | low
    special = _FLOAT_SPECIALS.get(mantissa)
    if special is not None:
        return special
    return _number(mantissa, exponent)


def _split(value: Decimal, offset: int, what: str) -> tuple[int, int]:
    if not value.is_finite():
        raise HtsDecodeError(offset, f"{what} {value} is not a finite number")
    sign, digits, exponent = value.as_tuple()
    mantissa = int("".join(map(str, digits)))
    return (-mantissa if sign else mantissa), int(exponent)  # finite: exponent is an int


def encode_float32(value: Decimal | Special) -> bytes:
    """Encode a number or a special value as an IEEE 11073-20601 32-bit FLOAT.

    The exponent is the Decimal's own exponent (``Decimal("37.60")`` -> 3760e-2), so
    decoding gives back the same digits.

    Raises:
        HtsDecodeError: when the mantissa does not fit 24 bits (or would read as a special
            value) or the exponent does not fit 8 bits.
    """
    if isinstance(value, Special):
        mantissa, exponent = _FLOAT_SPECIAL_MANTISSAS[value], 0
    else:
        mantissa, exponent = _split(value, 0, "FLOAT")
        if not FLOAT_MANTISSA_MIN <= mantissa <= FLOAT_MANTISSA_MAX:
            raise HtsDecodeError(0, f"FLOAT mantissa {mantissa} does not fit 24 bits")
        if not -128 <= exponent <= 127:
            raise HtsDecodeError(3, f"FLOAT exponent {exponent} does not fit 8 bits")
    return _FLOAT.pack(mantissa & 0xFFFF, mantissa >> 16, exponent)


def decode_sfloat(data: bytes) -> Decimal | Special:
    """Decode one IEEE 11073-20601 16-bit SFLOAT (4-bit exponent, 12-bit mantissa).

    Raises:
        HtsDecodeError: when ``data`` is not exactly 2 bytes.
    """
    if len(data) != _SFLOAT.size:
        raise HtsDecodeError(min(len(data), 2), f"an SFLOAT is 2 bytes, got {len(data)}")
    (raw,) = _SFLOAT.unpack(data)
    mantissa = raw & 0x0FFF
    if mantissa >= 0x0800:
        mantissa -= 0x1000
    special = _SFLOAT_SPECIALS.get(mantissa)
    if special is not None:
        return special
    exponent = raw >> 12
    if exponent >= 8:
        exponent -= 16
    return _number(mantissa, exponent)


def encode_sfloat(value: Decimal | Special) -> bytes:
    """Encode a number or a special value as an IEEE 11073-20601 16-bit SFLOAT.

    Raises:
        HtsDecodeError: when the mantissa does not fit 12 bits (or would read as a special
            value) or the exponent does not fit 4 bits.
    """
    if isinstance(value, Special):
        mantissa, exponent = _SFLOAT_SPECIAL_MANTISSAS[value], 0
    else:
        mantissa, exponent = _split(value, 0, "SFLOAT")
        if not SFLOAT_MANTISSA_MIN <= mantissa <= SFLOAT_MANTISSA_MAX:
            raise HtsDecodeError(0, f"SFLOAT mantissa {mantissa} does not fit 12 bits")
        if not -8 <= exponent <= 7:
            raise HtsDecodeError(1, f"SFLOAT exponent {exponent} does not fit 4 bits")
    return _SFLOAT.pack(((exponent & 0x0F) << 12) | (mantissa & 0x0FFF))


# --- Date Time ---------------------------------------------------------------------------

_DATE_TIME_FIELDS: Final = (
    # (name, offset within the Date Time, lowest, highest); 0 means unknown for the date.
    ("year", 0, YEAR_MIN, YEAR_MAX),
    ("month", 2, 1, 12),
    ("day", 3, 1, 31),
    ("hours", 4, 0, 23),
    ("minutes", 5, 0, 59),
    ("seconds", 6, 0, 59),
)


def _date_time_at(data: bytes, offset: int) -> datetime | None:
    # The datetimes built here are naive on purpose (DTZ001 waived): a Date Time is the
    # device's local time and carries no zone; the link corrects it (fever-rule.md §1).
    fields = _DATE_TIME.unpack_from(data, offset)
    year, month, day, hours, minutes, seconds = fields
    if (
        YEAR_MIN <= year <= YEAR_MAX
        and 1 <= month <= 12
        and 1 <= day <= 28  # valid in every month: no calendar check needed
        and hours <= 23
        and minutes <= 59
        and seconds <= 59
    ):  # the common case, checked in one go; the loop below names the bad field
        return datetime(year, month, day, hours, minutes, seconds)  # noqa: DTZ001
    for (name, field_offset, lowest, highest), value in zip(_DATE_TIME_FIELDS, fields, strict=True):
        unknown_allowed = field_offset < 4  # GSS §3.70: year, month, day may be 0 = unknown
        if not (lowest <= value <= highest or (unknown_allowed and value == 0)):
            raise HtsDecodeError(
                offset + field_offset,
                f"Date Time {name} {value} out of range {lowest}-{highest}",
            )
    if year == 0 or month == 0 or day == 0:
        return None
    try:
        return datetime(year, month, day, hours, minutes, seconds)  # noqa: DTZ001
    except ValueError as exc:  # day 31 in a 30-day month, 29 February in a common year
        raise HtsDecodeError(offset + 3, f"Date Time {exc}") from None


def decode_date_time(data: bytes) -> datetime | None:
    """Decode a 7-byte Date Time (0x2A08) into a naive datetime in the device's local time.

    A zero year, month or day means "unknown" and gives ``None``.

    Raises:
        HtsDecodeError: when ``data`` is not 7 bytes or a field is out of range (month 13,
            hour 24, 31 April).
    """
    if len(data) != DATE_TIME_SIZE:
        raise HtsDecodeError(
            min(len(data), DATE_TIME_SIZE), f"a Date Time is 7 bytes, got {len(data)}"
        )
    return _date_time_at(data, 0)


def encode_date_time(dt: datetime | None) -> bytes:
    """Encode a naive device-local datetime as a 7-byte Date Time; ``None`` as all zeros.

    Raises:
        HtsDecodeError: when ``dt`` carries a time zone or sub-second part, or its year is
            outside 1582-9999 (none of which a Date Time can hold).
    """
    if dt is None:
        return bytes(DATE_TIME_SIZE)
    if dt.tzinfo is not None:
        raise HtsDecodeError(0, f"a Date Time is device local time, without zone: {dt}")
    if dt.microsecond:
        raise HtsDecodeError(6, f"a Date Time has whole seconds only: {dt}")
    if not YEAR_MIN <= dt.year <= YEAR_MAX:
        raise HtsDecodeError(0, f"Date Time year {dt.year} out of range {YEAR_MIN}-{YEAR_MAX}")
    return _DATE_TIME.pack(dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)


# --- Temperature Type, Measurement Interval, Valid Range ---------------------------------


def _site_at(data: bytes, offset: int) -> Site:
    code = data[offset]
    site = _SITE_BY_CODE.get(code)
    if site is None:
        raise HtsDecodeError(offset, f"Temperature Type {code} outside 1-9")
    return site


def decode_temperature_type(data: bytes) -> Site:
    """Decode Temperature Type (0x2A1D): one byte, 1-9.

    Raises:
        HtsDecodeError: when ``data`` is not exactly one byte or the code is outside 1-9.
    """
    if len(data) != 1:
        raise HtsDecodeError(min(len(data), 1), f"Temperature Type is 1 byte, got {len(data)}")
    return _site_at(data, 0)


def encode_temperature_type(site: Site) -> bytes:
    """Encode a body site as Temperature Type (0x2A1D)."""
    return bytes((_CODE_BY_SITE[site],))


def decode_measurement_interval(data: bytes) -> int:
    """Decode Measurement Interval (0x2A21): seconds between measurements, 0 = none.

    Raises:
        HtsDecodeError: when ``data`` is not exactly 2 bytes.
    """
    if len(data) != _UINT16.size:
        raise HtsDecodeError(min(len(data), 2), f"Measurement Interval is 2 bytes, got {len(data)}")
    seconds: int = _UINT16.unpack(data)[0]
    return seconds


def encode_measurement_interval(seconds: int) -> bytes:
    """Encode Measurement Interval (0x2A21).

    Raises:
        HtsDecodeError: when ``seconds`` is outside 0-65535.
    """
    if not 0 <= seconds <= 0xFFFF:
        raise HtsDecodeError(0, f"Measurement Interval {seconds} s outside 0-65535")
    return _UINT16.pack(seconds)


def decode_valid_range(data: bytes) -> tuple[int, int]:
    """Decode the Valid Range descriptor (0x2906) of Measurement Interval: (lower, upper) s.

    Raises:
        HtsDecodeError: when ``data`` is not exactly 4 bytes or lower exceeds upper.
    """
    if len(data) != _VALID_RANGE.size:
        raise HtsDecodeError(min(len(data), 4), f"Valid Range is 4 bytes, got {len(data)}")
    lower, upper = _VALID_RANGE.unpack(data)
    if lower > upper:
        raise HtsDecodeError(2, f"Valid Range upper {upper} below lower {lower}")
    return lower, upper


def encode_valid_range(lo: int, hi: int) -> bytes:
    """Encode the Valid Range descriptor (0x2906).

    Raises:
        HtsDecodeError: when a bound is outside 0-65535 or ``lo`` exceeds ``hi``.
    """
    if not 0 <= lo <= 0xFFFF:
        raise HtsDecodeError(0, f"Valid Range lower {lo} outside 0-65535")
    if not 0 <= hi <= 0xFFFF:
        raise HtsDecodeError(2, f"Valid Range upper {hi} outside 0-65535")
    if lo > hi:
        raise HtsDecodeError(2, f"Valid Range upper {hi} below lower {lo}")
    return _VALID_RANGE.pack(lo, hi)


# --- Temperature Measurement / Intermediate Temperature ----------------------------------


def decode_measurement(data: bytes) -> Measurement:
    """Decode Temperature Measurement (0x2A1C) or Intermediate Temperature (0x2A1E).

    Layout (HTS §3.1): flags (1 byte), temperature (FLOAT, 4 bytes), then a Date Time
    (7 bytes) when flags bit 1 is set, then a Temperature Type (1 byte) when bit 2 is set.
    Bytes after those are kept in ``trailing_bytes``.

    Raises:
        HtsDecodeError: on empty input, input shorter than the flags announce, a Date Time
            field out of range, or a Temperature Type outside 1-9.
    """
    size = len(data)
    if size < _MEASUREMENT_MIN_SIZE:
        if size == 0:
            raise HtsDecodeError(0, "empty Temperature Measurement")
        raise HtsDecodeError(
            size, f"Temperature Measurement needs flags and a 4-byte FLOAT, got {size} bytes"
        )
    flags, low, high, exponent = _FLAGS_FLOAT.unpack_from(data)
    need = _MEASUREMENT_MIN_SIZE
    if flags & FLAG_TIME_STAMP:
        need += DATE_TIME_SIZE
    if flags & FLAG_TEMPERATURE_TYPE:
        need += 1
    if size < need:
        raise HtsDecodeError(size, f"flags 0x{flags:02X} announce {need} bytes, got {size}")
    mantissa = (high << 16) | low
    special = _FLOAT_SPECIALS.get(mantissa)
    value = None if special is not None else _number(mantissa, exponent)
    timestamp = None
    offset = _MEASUREMENT_MIN_SIZE
    if flags & FLAG_TIME_STAMP:
        timestamp = _date_time_at(data, offset)
        offset += DATE_TIME_SIZE
    site = None
    if flags & FLAG_TEMPERATURE_TYPE:
        site = _site_at(data, offset)
    return Measurement(
        unit=Unit.FAHRENHEIT if flags & FLAG_FAHRENHEIT else Unit.CELSIUS,
        value=value,
        special=special,
        timestamp=timestamp,
        site=site,
        trailing_bytes=bytes(data[need:]),
    )


def encode_measurement(m: Measurement) -> bytes:
    """Encode a measurement, the exact inverse of :func:`decode_measurement`.

    The FLOAT's exponent is the Decimal's exponent; a special is sent as its reserved
    mantissa with exponent 0. A ``None`` timestamp or site leaves its field out.

    Raises:
        HtsDecodeError: when both or neither of ``value`` and ``special`` are set, or a
            field has no encoding (mantissa beyond 24 bits, a zoned timestamp, ...).
    """
    number: Decimal | Special
    if m.special is not None and m.value is None:
        number = m.special
    elif m.value is not None and m.special is None:
        number = m.value
    else:
        raise HtsDecodeError(1, "a measurement has exactly one of a value and a special")
    flags = FLAG_FAHRENHEIT if m.unit is Unit.FAHRENHEIT else 0
    parts = [b"", encode_float32(number)]
    if m.timestamp is not None:
        flags |= FLAG_TIME_STAMP
        parts.append(encode_date_time(m.timestamp))
    if m.site is not None:
        flags |= FLAG_TEMPERATURE_TYPE
        parts.append(encode_temperature_type(m.site))
    parts[0] = bytes((flags,))
    parts.append(m.trailing_bytes)
    return b"".join(parts)


def measurement_to_json(m: Measurement) -> dict[str, object]:
    """The measurement as plain JSON types (``portwatch decode``'s output).

    ``value`` is a JSON number as reported (37.6), ``timestamp`` ISO 8601 without offset
    (device local time), ``trailing_bytes`` a hex string.
    """
    return {
        "unit": m.unit.value,
        "value": None if m.value is None else float(m.value),
        "celsius": m.celsius,
        "special": None if m.special is None else m.special.value,
        "timestamp": None if m.timestamp is None else m.timestamp.isoformat(),
        "site": None if m.site is None else m.site.value,
        "trailing_bytes": m.trailing_bytes.hex(),
    }
