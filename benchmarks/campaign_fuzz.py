"""Campaign: one million generated and mutated packets through the HTS and CORE decoders.

Every packet goes through both decoders. A decoder may answer in two ways only: a value the
specification allows, or its one documented error (``HtsDecodeError``, ``CoreDecodeError``).
Anything else is counted as a crash; an accepted value that breaks the specification is
counted as wrong. The checks below restate the wire format with literal numbers (HTS §3.1,
IEEE 11073-20601 §F.6, CORE spec v2.2 §3.1.1) instead of importing the codec's constants, so
a renumbering in the codec is caught.

The run is seeded (``seed`` argument, else a fresh one that the result reports), so any
packet it finds can be replayed: the notes name the seed and the first failing packet.
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from typing import Any

from portwatch.ble import core, hts
from portwatch.model import Site, Special, Unit

NAME = "decoder fuzz (HTS + CORE)"
FULL_PACKETS = 1_000_000
QUICK_PACKETS = 50_000

# IEEE 11073-20601 §F.6: FLOAT mantissas that are not numbers.
_FLOAT_SPECIALS = {0x7FFFFF, 0x800000, 0x7FFFFE, 0x800002, 0x800001}
# Bytes that sit on the edges of fields: sign bits, "not available", zero, all ones.
_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF, 0x09, 0x0A)


def _hts_packet(rng: random.Random) -> bytes:
    flags = rng.randrange(8) if rng.random() < 0.9 else rng.randrange(256)
    mantissa = (
        rng.choice(sorted(_FLOAT_SPECIALS)) if rng.random() < 0.15 else rng.randrange(1 << 24)
    )
    out = bytearray([flags, *mantissa.to_bytes(3, "little"), rng.randrange(256)])
    if flags & 0x02:
        if rng.random() < 0.1:
            out += bytes(7)  # a Date Time of zeros: "unknown"
        else:
            out += rng.randrange(1500, 10100).to_bytes(2, "little")
            out += bytes([rng.randrange(14), rng.randrange(33), rng.randrange(25)])
            out += bytes([rng.randrange(61), rng.randrange(61)])
    if flags & 0x04:
        out.append(rng.randrange(12))
    return bytes(out)


def _core_packet(rng: random.Random) -> bytes:
    flags = rng.randrange(64) if rng.random() < 0.9 else rng.randrange(256)
    body = [0xFF, 0x7F] if rng.random() < 0.15 else [rng.randrange(256), rng.randrange(256)]
    if rng.random() < 0.3:  # spec v2.2 fixed offsets: 9 or 10 bytes in all
        body += [rng.randrange(256) for _ in range(rng.choice((6, 7)))]
    else:
        for bit, size in ((0x01, 2), (0x02, 2), (0x04, 1), (0x10, 1), (0x20, 1)):
            if flags & bit:
                body += [rng.randrange(256) for _ in range(size)]
    return bytes([flags, *body])


def _mutate(rng: random.Random, data: bytes, other: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 5)):
        op = rng.randrange(6)
        if op == 0 and buf:  # flip one bit
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:  # cut the tail
            del buf[rng.randrange(len(buf)) :]
        elif op == 2:  # append a few random bytes
            buf += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 6)))
        elif op == 3 and buf:  # an edge value somewhere
            buf[rng.randrange(len(buf))] = rng.choice(_INTERESTING)
        elif op == 4:  # splice: our head, another packet's tail
            cut = rng.randrange(len(buf) + 1)
            buf = buf[:cut] + bytearray(other[rng.randrange(len(other) + 1) :])
        elif buf:  # insert one byte
            buf.insert(rng.randrange(len(buf) + 1), rng.randrange(256))
    return bytes(buf)


def _hts_problems(data: bytes, m: hts.Measurement) -> str | None:
    """What is wrong with ``m`` as a decoding of ``data`` (HTS §3.1), or None."""
    flags = data[0]
    need = 5 + (7 if flags & 0x02 else 0) + (1 if flags & 0x04 else 0)
    mantissa = int.from_bytes(data[1:4], "little")
    exponent = int.from_bytes(data[4:5], "little", signed=True)
    problem = None
    if len(data) < need:
        problem = f"accepted {len(data)} bytes where the flags need {need}"
    elif m.unit is not (Unit.FAHRENHEIT if flags & 0x01 else Unit.CELSIUS):
        problem = "unit does not follow flags bit 0"
    elif mantissa in _FLOAT_SPECIALS:
        if not isinstance(m.special, Special) or m.value is not None or m.celsius is not None:
            problem = "a special mantissa gave a number"
    elif m.special is not None or m.value is None:
        problem = "a numeric mantissa gave no number"
    else:
        signed = mantissa - (1 << 24) if mantissa & 0x800000 else mantissa
        if m.value != Decimal(signed).scaleb(exponent) or not m.value.is_finite():
            problem = f"value {m.value} is not {signed}e{exponent}"
    if problem is None and m.timestamp is not None:
        stamp: datetime = m.timestamp
        if not flags & 0x02 or stamp.tzinfo is not None or not 1582 <= stamp.year <= 9999:
            problem = f"impossible time stamp {stamp!r}"
    if problem is None and (m.site is not None) != bool(flags & 0x04):
        problem = "site does not follow flags bit 2"
    if problem is None and m.site is not None and not isinstance(m.site, Site):
        problem = "site outside the Temperature Type table"
    if problem is None and m.trailing_bytes != data[need:]:
        problem = "trailing bytes lost"
    if problem is None and hts.decode_measurement(hts.encode_measurement(m)) != m:
        problem = "does not survive encode/decode"
    return problem


def _core_problems(data: bytes, m: core.CoreMeasurement) -> str | None:
    """What is wrong with ``m`` as a decoding of ``data`` (CORE v2.2 §3.1.1), or None."""
    flags = data[0]
    need = 3 + 2 * (flags & 1) + 2 * ((flags >> 1) & 1)
    need += ((flags >> 2) & 1) + ((flags >> 4) & 1) + ((flags >> 5) & 1)
    core_raw = int.from_bytes(data[1:3], "little", signed=True)
    if not (len(data) == need or (len(data) in (9, 10) and len(data) > need)):
        return f"accepted a {len(data)}-byte frame where flags need {need}"
    if m.unit is not (Unit.FAHRENHEIT if flags & 0x08 else Unit.CELSIUS):
        return "unit does not follow flags bit 3"
    if core_raw == 0x7FFF:
        if m.core is not None or m.hsi is not None:
            return "0x7FFF (not available) gave a core temperature or heat strain"
    elif m.core != Decimal(core_raw).scaleb(-2):
        return f"core {m.core} is not {core_raw} hundredths"
    if m.hsi is not None and not Decimal(0) <= m.hsi <= Decimal("25.4"):
        return f"heat strain index {m.hsi} outside 0-25.4"
    if m.quality is not None and not flags & 0x04:
        return "quality without flags bit 2"
    if m.hr is not None and (not flags & 0x10 or not 0 <= m.hr <= 255):
        return "heart rate without flags bit 4"
    if core.decode_core(core.encode_core(m)) != m:
        return "does not survive encode/decode"
    return None


def run(quick: bool, seed: int | None = None, count: int | None = None) -> dict[str, Any]:
    """Fuzz both decoders; count crashes (undocumented exceptions) and wrong values."""
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    total = count if count is not None else (QUICK_PACKETS if quick else FULL_PACKETS)
    rng = random.Random(seed)
    accepted = refused = crashed = wrong = 0
    first_failure = ""
    previous = b"\x06\xb0\x0e\x00\xfe"
    for index in range(total):
        kind = index % 3
        if kind == 0:
            packet = bytes(rng.randrange(256) for _ in range(rng.randrange(18)))
        elif kind == 1:
            packet = _hts_packet(rng)
        else:
            packet = _core_packet(rng)
        if rng.random() < 0.6:
            packet = _mutate(rng, packet, previous)
        previous = packet
        for decoder in ("hts", "core"):
            problem: str | None
            try:
                if decoder == "hts":
                    problem = _hts_problems(packet, hts.decode_measurement(packet))
                else:
                    problem = _core_problems(packet, core.decode_core(packet))
            except (hts.HtsDecodeError, core.CoreDecodeError):
                refused += 1
                continue
            except Exception as exc:  # noqa: BLE001 - counting what escapes is the point
                crashed += 1
                problem = f"raised {type(exc).__name__}: {exc}"
            else:
                accepted += 1
                if problem is not None:
                    wrong += 1
            if problem is not None and not first_failure:
                first_failure = f"; first: {decoder} packet {index} {packet.hex()}: {problem}"
    return {
        "campaign": NAME,
        "tried": total,
        "lost": None,
        "duplicated": None,
        "crashed": crashed + wrong,
        "passed": crashed == 0 and wrong == 0 and accepted > 0 and refused > 0,
        "seed": seed,
        "accepted": accepted,
        "refused": refused,
        "undocumented_exceptions": crashed,
        "out_of_spec_values": wrong,
        "notes": (
            f"seed={seed}; {accepted:,} decodes accepted, {refused:,} refused with the "
            f"documented error; {crashed} other exceptions, {wrong} out-of-spec values"
            f"{first_failure}"
        ),
    }
