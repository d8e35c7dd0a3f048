"""A cheap, large fuzz of both decoders: generated and mutated packets, replayable by seed.

Each run picks a fresh seed and prints it (pytest shows it when the test fails); set
``FUZZ_SEED`` to replay one run exactly and ``FUZZ_COUNT`` to change the number of
packets. Plain ``random`` keeps it fast enough for 200 000 packets in a few seconds.

Wire constants are written as literals here, not imported, so a renumbering in the
codec is caught (style.md §2, the gap fuzzer's habit).
"""

from __future__ import annotations

import os
import random
from datetime import datetime
from decimal import Decimal

from portwatch.ble import core, hts
from portwatch.model import Site, Special, Unit

FUZZ_COUNT = int(os.environ.get("FUZZ_COUNT", "200000"))

# HTS valid mantissa range and special mantissas (IEEE 11073-20601 §F.6), as literals.
FLOAT_SPECIAL_MANTISSAS = {0x7FFFFF, 0x800000, 0x7FFFFE, 0x800002, 0x800001}
# CORE frame lengths that some spec version allows (core.json length_rule).
CORE_FIXED_LENGTHS = {9, 10}


def _seed() -> int:
    pinned = os.environ.get("FUZZ_SEED")
    return int(pinned) if pinned else random.SystemRandom().randrange(2**32)


def _valid_hts(rng: random.Random) -> bytes:
    flags = rng.randrange(8) | (rng.randrange(32) << 3 if rng.random() < 0.1 else 0)
    out = bytearray([flags])
    # One in five carries a special value, which random mantissas would almost never hit.
    mantissa = rng.choice(sorted(FLOAT_SPECIAL_MANTISSAS)) if rng.random() < 0.2 else None
    mantissa = rng.randrange(2**24) if mantissa is None else mantissa
    out += mantissa.to_bytes(3, "little") + bytes([rng.randrange(256)])
    if flags & 0x02:
        if rng.random() < 0.1:
            out += bytes(7)
        else:
            out += rng.randrange(1582, 10000).to_bytes(2, "little")
            out += bytes(
                [
                    rng.randrange(1, 13),
                    rng.randrange(1, 29),
                    rng.randrange(24),
                    rng.randrange(60),
                    rng.randrange(60),
                ]
            )
    if flags & 0x04:
        out.append(rng.randrange(1, 10))
    return bytes(out)


def _valid_core(rng: random.Random) -> bytes:
    flags = rng.randrange(64)
    # core; one in five "not available" (0x7FFF), which random bytes would almost never hit
    fields = [0xFF, 0x7F] if rng.random() < 0.2 else [rng.randrange(256), rng.randrange(256)]
    sizes = ((0x01, 2), (0x02, 2), (0x04, 1), (0x10, 1), (0x20, 1))
    if rng.random() < 0.3:  # spec v2.2: every field present, the bits mark validity
        fields += [rng.randrange(256) for _ in range(7 if rng.random() < 0.5 else 6)]
    else:
        for bit, size in sizes:
            if flags & bit:
                fields += [rng.randrange(256) for _ in range(size)]
    return bytes([flags, *fields])


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        choice = rng.randrange(4)
        if choice == 0 and buf:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif choice == 1 and buf:
            del buf[rng.randrange(len(buf)) :]
        elif choice == 2:
            buf += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
        elif buf:
            buf[rng.randrange(len(buf))] = rng.choice((0x00, 0xFF, 0x7F, 0x80))
    return bytes(buf)


def _check_hts(data: bytes, m: hts.Measurement) -> None:
    flags = data[0]
    need = 5 + (7 if flags & 0x02 else 0) + (1 if flags & 0x04 else 0)
    assert len(data) >= need
    assert m.trailing_bytes == data[need:]
    assert m.unit is (Unit.FAHRENHEIT if flags & 0x01 else Unit.CELSIUS)
    mantissa = int.from_bytes(data[1:4], "little")
    if mantissa in FLOAT_SPECIAL_MANTISSAS:
        assert isinstance(m.special, Special)
        assert m.value is None
        assert m.celsius is None
    else:
        assert m.special is None
        assert isinstance(m.value, Decimal)
        assert m.value.is_finite()
        assert m.celsius is not None
    if m.timestamp is not None:
        assert flags & 0x02
        assert isinstance(m.timestamp, datetime)
        assert m.timestamp.tzinfo is None
        assert 1582 <= m.timestamp.year <= 9999
    assert (m.site is not None) == bool(flags & 0x04)
    assert m.site is None or isinstance(m.site, Site)
    assert hts.decode_measurement(hts.encode_measurement(m)) == m


def _check_core(data: bytes, m: core.CoreMeasurement) -> None:
    flags = data[0]
    need = (
        3
        + (2 if flags & 0x01 else 0)
        + (2 if flags & 0x02 else 0)
        + (1 if flags & 0x04 else 0)
        + (1 if flags & 0x10 else 0)
        + (1 if flags & 0x20 else 0)
    )
    assert len(data) == need or (len(data) in CORE_FIXED_LENGTHS and len(data) > need)
    assert m.unit is (Unit.FAHRENHEIT if flags & 0x08 else Unit.CELSIUS)
    assert (m.core is None) == (data[1:3] == b"\xff\x7f")
    if m.core is not None:
        assert Decimal("-327.68") <= m.core <= Decimal("327.66")
    if m.hsi is not None:
        assert m.core is not None
        assert Decimal(0) <= m.hsi <= Decimal("25.4")
    assert (m.quality is None) == (m.hr_state is None)
    if m.quality is not None:
        assert flags & 0x04
    assert m.hr is None or 0 <= m.hr <= 255
    assert core.decode_core(core.encode_core(m)) == m


def test_decoders_accept_only_spec_values_when_fed_generated_and_mutated_packets() -> None:
    """200k packets: only the documented errors escape, and what decodes is allowed."""
    seed = _seed()
    print(f"codec fuzz: FUZZ_SEED={seed} FUZZ_COUNT={FUZZ_COUNT}")
    rng = random.Random(seed)
    accepted = rejected = 0
    for index in range(FUZZ_COUNT):
        kind = index % 3
        if kind == 0:
            packet = bytes(rng.randrange(256) for _ in range(rng.randrange(16)))
        elif kind == 1:
            packet = _valid_hts(rng)
        else:
            packet = _valid_core(rng)
        if rng.random() < 0.5:
            packet = _mutate(rng, packet)
        context = f"seed {seed}, packet {index}: {packet.hex()}"
        try:
            measurement = hts.decode_measurement(packet)
        except hts.HtsDecodeError:
            rejected += 1
        else:
            accepted += 1
            try:
                _check_hts(packet, measurement)
            except AssertionError as exc:
                raise AssertionError(f"HTS {context}") from exc
        try:
            wearable = core.decode_core(packet)
        except core.CoreDecodeError:
            rejected += 1
        else:
            accepted += 1
            try:
                _check_core(packet, wearable)
            except AssertionError as exc:
                raise AssertionError(f"CORE {context}") from exc
    # Both paths must be exercised, or the fuzz proves nothing.
    assert accepted > FUZZ_COUNT // 4, f"seed {seed}: only {accepted} accepted"
    assert rejected > FUZZ_COUNT // 4, f"seed {seed}: only {rejected} rejected"
