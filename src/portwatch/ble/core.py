"""greenteg CORE wearable: the Core Body Temperature characteristic codec. Pure.

The maker's "Core Body Temperature Service" (CoreBodyTemp/CoreBodyTemp, "CoreTemp BLE
Service Specification" v2.2, §3.1; "CORE Connectivity Implementation Notes" V3.1 §2.2)
defines one notified characteristic:

=======  ======================  ======  =======================================
offset   field                   type    flags bit that marks it
=======  ======================  ======  =======================================
0        flags                   uint8   (bit 3: temperatures in °F, else °C)
1        core body temperature   sint16  always; 0.01 degree; 0x7FFF = not available
3        skin temperature        sint16  bit 0; 0.01 degree
5        core reserved           sint16  bit 1
7        quality and state       uint8   bit 2; bits 0-2 quality, bits 4-5 HR state
8        heart rate              uint8   bit 4; beats per minute, 0 = no signal
9        heat strain index       uint8   bit 5; 0.1 units, 0-25.4 (0xFF = invalid)
=======  ======================  ======  =======================================

The specification changed between versions: before v2.2 a field whose bit is clear is
absent (a variable-length frame, what the encoder here emits); v2.2 says the bit marks the
value invalid, and devices send the fields at fixed offsets. The decoder follows the rule
in shared/vectors/core.json (``length_rule``), which decodes every known frame; see
:func:`decode_core`. Since any other length is rejected, there are no trailing bytes to
report: a :class:`CoreMeasurement` has no ``trailing_bytes``.

Every decoder returns a frozen value or raises :class:`CoreDecodeError`; nothing logs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from portwatch.model import Unit

__all__ = [
    "COMPANY_ID",
    "MEASUREMENT_UUID",
    "SERVICE_UUID",
    "CoreDecodeError",
    "CoreMeasurement",
    "HeartRateState",
    "Quality",
    "core_to_json",
    "decode_core",
    "encode_core",
]

SERVICE_UUID: Final = "00002100-5b1e-4347-b07c-97b514dae121"  # spec v2.2 §3
MEASUREMENT_UUID: Final = "00002101-5b1e-4347-b07c-97b514dae121"  # spec v2.2 §3.1.1
COMPANY_ID: Final = 0x0BF6  # greenteg AG, Bluetooth SIG assigned company identifier


class CoreDecodeError(ValueError):
    """Bytes that are not a valid Core Body Temperature value, or a value with no encoding.

    ``offset`` is the byte (from 0) where the problem is; ``reason`` says what is wrong.
    """

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"{reason} (at byte {offset})")
        self.offset = offset
        self.reason = reason

    def __reduce__(self) -> tuple[type[CoreDecodeError], tuple[int, str]]:
        return (type(self), (self.offset, self.reason))


class Quality(StrEnum):
    """Data Quality (spec v2.2 Table 4, bits 0-2 of the Quality and State field).

    The four levels poor, fair, good and excellent grade a real measurement; the spec also
    names code 0 "invalid" and code 7 "not available", kept here because they say something
    different (no trustworthy value / no grading). Codes 5 and 6 are undefined: rejected.
    """

    INVALID = "invalid"  # 0b000
    POOR = "poor"  # 0b001
    FAIR = "fair"  # 0b010
    GOOD = "good"  # 0b011
    EXCELLENT = "excellent"  # 0b100
    NOT_AVAILABLE = "not_available"  # 0b111


class HeartRateState(StrEnum):
    """Heart-rate monitor state (spec v2.2 Table 4, bits 4-5 of the Quality and State field)."""

    NOT_SUPPORTED = "not_supported"  # 0b00: pairing with a heart-rate monitor not supported
    NO_SIGNAL = "no_signal"  # 0b01: supported, not receiving a heart-rate signal
    RECEIVING = "receiving"  # 0b10: supported, receiving a heart-rate signal
    NOT_AVAILABLE = "not_available"  # 0b11: state not available


_QUALITY_BY_CODE: Final[dict[int, Quality]] = {
    0: Quality.INVALID,
    1: Quality.POOR,
    2: Quality.FAIR,
    3: Quality.GOOD,
    4: Quality.EXCELLENT,
    7: Quality.NOT_AVAILABLE,
}
_CODE_BY_QUALITY: Final[dict[Quality, int]] = {q: c for c, q in _QUALITY_BY_CODE.items()}
_HR_STATE_BY_CODE: Final[dict[int, HeartRateState]] = {
    0: HeartRateState.NOT_SUPPORTED,
    1: HeartRateState.NO_SIGNAL,
    2: HeartRateState.RECEIVING,
    3: HeartRateState.NOT_AVAILABLE,
}
_CODE_BY_HR_STATE: Final[dict[HeartRateState, int]] = {s: c for c, s in _HR_STATE_BY_CODE.items()}

# Flags (spec v2.2 Table 3). Bits 6-7 are reserved for future use: ignored when read.
FLAG_SKIN: Final = 0x01
FLAG_RESERVED: Final = 0x02
FLAG_QUALITY_STATE: Final = 0x04
FLAG_FAHRENHEIT: Final = 0x08
FLAG_HEART_RATE: Final = 0x10
FLAG_HEAT_STRAIN: Final = 0x20

CORE_NOT_AVAILABLE: Final = 0x7FFF  # spec v2.2 §3.1.1.2 "Data not available"
HSI_INVALID: Final = 0xFF  # Implementation Notes V3.1 ANT+ page: "0xFF invalid"
HSI_MAX_TENTHS: Final = 254  # spec v2.2 §3.1.1.7: 0 to 25.4, higher values capped

# length_rule (shared/vectors/core.json): the v2.2 fixed-offset frame is 9 bytes, or 10
# with the heat strain index.
_FIXED_SIZES: Final = (9, 10)
_FIXED_HSI_SIZE: Final = 10
_MIN_SIZE: Final = 3  # flags and the mandatory core body temperature

_INT16: Final = struct.Struct("<h")
_FIXED: Final = struct.Struct("<BhhhBB")  # flags, core, skin, reserved, quality, HR


@dataclass(frozen=True, slots=True)
class CoreMeasurement:
    """One Core Body Temperature notification. ``None`` for every field not valid/present.

    Temperatures are exact (``Decimal`` hundredths) in ``unit``. ``core`` is ``None`` when
    the device sent 0x7FFF ("data not available"); the heat strain index is then ``None``
    too (Implementation Notes V3.1 §2.2: not valid when the core temperature is not).
    """

    unit: Unit
    core: Decimal | None
    skin: Decimal | None = None
    reserved: int | None = None
    quality: Quality | None = None
    hr_state: HeartRateState | None = None
    hr: int | None = None
    hsi: Decimal | None = None

    @property
    def core_celsius(self) -> float | None:
        """The core body temperature in °C, derived from the exact value."""
        if self.core is None:
            return None
        if self.unit is Unit.CELSIUS:
            return float(self.core)
        return float((self.core - 32) * 5 / 9)

    @property
    def quality_unusable(self) -> bool:
        """Whether the device's own quality grade says the reading must not be used.

        Only "invalid" (code 0) does: the spec names it so, as distinct from the four graded
        levels. "Poor" is still a measurement the device stands behind (the ANT+ display
        guidance dims it rather than hiding it), and a fever watch must not drop a real
        reading; the rule's per-window median already absorbs a noisy sample. "Not
        available" and an absent field mean "not graded", not "bad". A missing core value
        (0x7FFF) is ``core is None``, which the caller checks separately.
        """
        return self.quality is Quality.INVALID


def _hundredths(raw: int) -> Decimal:
    return Decimal(raw).scaleb(-2)


def _tenths(raw: int) -> Decimal:
    return Decimal(raw).scaleb(-1)


@dataclass(slots=True)
class _RawFields:
    """A frame's fields as sent, before scaling and lookup (None: absent or not valid)."""

    core: int
    skin: int | None = None
    reserved: int | None = None
    quality: int | None = None
    quality_offset: int = 7  # where the quality byte sits, for the error's offset
    hr: int | None = None
    hsi: int | None = None


def _need(flags: int) -> int:
    """The variable-length frame's size the flags announce."""
    return (
        _MIN_SIZE
        + (2 if flags & FLAG_SKIN else 0)
        + (2 if flags & FLAG_RESERVED else 0)
        + (1 if flags & FLAG_QUALITY_STATE else 0)
        + (1 if flags & FLAG_HEART_RATE else 0)
        + (1 if flags & FLAG_HEAT_STRAIN else 0)
    )


def _packed_fields(data: bytes, flags: int) -> _RawFields:
    """A variable-length frame (spec before v2.2): present fields follow one another."""
    (core_raw,) = _INT16.unpack_from(data, 1)
    raw = _RawFields(core=core_raw)
    offset = 3
    if flags & FLAG_SKIN:
        (raw.skin,) = _INT16.unpack_from(data, offset)
        offset += 2
    if flags & FLAG_RESERVED:
        (raw.reserved,) = _INT16.unpack_from(data, offset)
        offset += 2
    if flags & FLAG_QUALITY_STATE:
        raw.quality = data[offset]
        raw.quality_offset = offset
        offset += 1
    if flags & FLAG_HEART_RATE:
        raw.hr = data[offset]
        offset += 1
    if flags & FLAG_HEAT_STRAIN:
        raw.hsi = data[offset]
    return raw


def _fixed_fields(data: bytes, flags: int) -> _RawFields:
    """A 9- or 10-byte frame (spec v2.2): fixed offsets, the flag bits mark validity."""
    _, core_raw, skin, reserved, quality, hr = _FIXED.unpack_from(data)
    return _RawFields(
        core=core_raw,
        skin=skin if flags & FLAG_SKIN else None,
        reserved=reserved if flags & FLAG_RESERVED else None,
        quality=quality if flags & FLAG_QUALITY_STATE else None,
        hr=hr if flags & FLAG_HEART_RATE else None,
        hsi=data[9] if flags & FLAG_HEAT_STRAIN and len(data) == _FIXED_HSI_SIZE else None,
    )


def decode_core(data: bytes) -> CoreMeasurement:
    """Decode one Core Body Temperature value (characteristic 0x2101 of the CORE service).

    Length rule (shared/vectors/core.json): ``need = 3 + 2*b0 + 2*b1 + b2 + b4 + b5``
    from the flags bits. If the frame is exactly ``need`` bytes, the fields whose bits are
    set follow one another (spec before v2.2). Else, if it is 9 or 10 bytes and longer than
    ``need``, every field sits at its fixed offset and is used only when its bit is set, the
    heat strain index only in a 10-byte frame (spec v2.2). Anything else is rejected.

    Raises:
        CoreDecodeError: on empty or short input, a length no spec version allows, or a
            quality code the spec leaves undefined (5, 6).
    """
    size = len(data)
    if size < _MIN_SIZE:
        if size == 0:
            raise CoreDecodeError(0, "empty Core Body Temperature value")
        raise CoreDecodeError(size, f"Core Body Temperature needs 3 bytes, got {size}")
    flags = data[0]
    need = _need(flags)
    if size == need:
        return _measurement(flags, _packed_fields(data, flags))
    if size in _FIXED_SIZES and size > need:
        return _measurement(flags, _fixed_fields(data, flags))
    if size < need:
        raise CoreDecodeError(size, f"flags 0x{flags:02X} announce {need} bytes, got {size}")
    raise CoreDecodeError(
        need,
        f"flags 0x{flags:02X} announce {need} bytes, got {size}"
        " (and not a 9- or 10-byte fixed-offset frame)",
    )


def _measurement(flags: int, raw: _RawFields) -> CoreMeasurement:
    """The measurement the raw fields say.

    Raises:
        CoreDecodeError: a quality code the spec leaves undefined (5, 6).
    """
    quality: Quality | None = None
    hr_state: HeartRateState | None = None
    if raw.quality is not None:
        quality = _QUALITY_BY_CODE.get(raw.quality & 0x07)
        if quality is None:
            raise CoreDecodeError(
                raw.quality_offset, f"Data Quality code {raw.quality & 0x07} is undefined"
            )
        hr_state = _HR_STATE_BY_CODE[(raw.quality >> 4) & 0x03]
    core = None if raw.core == CORE_NOT_AVAILABLE else _hundredths(raw.core)
    hsi = None
    if raw.hsi is not None and raw.hsi != HSI_INVALID and core is not None:
        hsi = _tenths(raw.hsi)
    return CoreMeasurement(
        unit=Unit.FAHRENHEIT if flags & FLAG_FAHRENHEIT else Unit.CELSIUS,
        core=core,
        skin=None if raw.skin is None else _hundredths(raw.skin),
        reserved=raw.reserved,
        quality=quality,
        hr_state=hr_state,
        hr=raw.hr,
        hsi=hsi,
    )


def _to_raw(value: Decimal, scale: int, lowest: int, highest: int, offset: int, what: str) -> int:
    scaled = value.scaleb(scale)
    if not scaled.is_finite() or scaled != scaled.to_integral_value():
        raise CoreDecodeError(offset, f"{what} {value} is not a multiple of 10^-{scale}")
    raw = int(scaled)
    if not lowest <= raw <= highest:
        raise CoreDecodeError(offset, f"{what} {value} out of range")
    return raw


def encode_core(m: CoreMeasurement) -> bytes:
    """Encode a measurement as a variable-length frame, the inverse of :func:`decode_core`.

    A field that is ``None`` is left out and its flags bit cleared; ``core=None`` is sent
    as 0x7FFF. ``quality`` and ``hr_state`` share one byte, so both or neither are given.

    Raises:
        CoreDecodeError: for a value the frame cannot carry (not whole hundredths, out of
            SINT16 range, core equal to the 0x7FFF marker, a heat strain index outside
            0-25.4 or given without a core value, quality without state or the reverse).
    """
    flags = FLAG_FAHRENHEIT if m.unit is Unit.FAHRENHEIT else 0
    core_raw = (
        CORE_NOT_AVAILABLE
        if m.core is None
        else _to_raw(m.core, 2, -0x8000, CORE_NOT_AVAILABLE - 1, 1, "core temperature")
    )
    out = bytearray(3)
    offset = 3
    if m.skin is not None:
        flags |= FLAG_SKIN
        out += _INT16.pack(_to_raw(m.skin, 2, -0x8000, 0x7FFF, offset, "skin temperature"))
        offset += 2
    if m.reserved is not None:
        flags |= FLAG_RESERVED
        if not -0x8000 <= m.reserved <= 0x7FFF:
            raise CoreDecodeError(offset, f"core reserved {m.reserved} out of SINT16 range")
        out += _INT16.pack(m.reserved)
        offset += 2
    if (m.quality is None) != (m.hr_state is None):
        raise CoreDecodeError(offset, "quality and heart-rate state share a byte: give both")
    if m.quality is not None and m.hr_state is not None:
        flags |= FLAG_QUALITY_STATE
        out.append(_CODE_BY_QUALITY[m.quality] | (_CODE_BY_HR_STATE[m.hr_state] << 4))
        offset += 1
    if m.hr is not None:
        flags |= FLAG_HEART_RATE
        if not 0 <= m.hr <= 0xFF:
            raise CoreDecodeError(offset, f"heart rate {m.hr} outside 0-255")
        out.append(m.hr)
        offset += 1
    if m.hsi is not None:
        if m.core is None:
            raise CoreDecodeError(offset, "a heat strain index needs a core temperature")
        flags |= FLAG_HEAT_STRAIN
        out.append(_to_raw(m.hsi, 1, 0, HSI_MAX_TENTHS, offset, "heat strain index"))
    out[0] = flags
    _INT16.pack_into(out, 1, core_raw)
    return bytes(out)


def core_to_json(m: CoreMeasurement) -> dict[str, object]:
    """The measurement as plain JSON types (``portwatch decode --characteristic core``)."""

    def number(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return {
        "unit": m.unit.value,
        "core": number(m.core),
        "core_celsius": m.core_celsius,
        "skin": number(m.skin),
        "reserved": m.reserved,
        "quality": None if m.quality is None else m.quality.value,
        "quality_unusable": m.quality_unusable,
        "hr_state": None if m.hr_state is None else m.hr_state.value,
        "hr": m.hr,
        "hsi": number(m.hsi),
    }
