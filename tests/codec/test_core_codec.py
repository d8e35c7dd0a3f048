"""CORE codec: the shared vectors (both spec generations), edge cases, generated round trips."""

from __future__ import annotations

import contextlib
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portwatch.ble import core
from portwatch.model import Unit

PROPERTY = settings(print_blob=True, max_examples=300, deadline=None)


def test_vector_decodes_as_listed_when_taken_from_shared_vectors(
    core_vector: dict[str, Any],
) -> None:
    """Every frame from the maker's notes, a capture and public parsers decodes as listed."""
    data = bytes.fromhex(core_vector["hex"])
    expect = core_vector["expect"]
    if expect.get("error"):
        with pytest.raises(core.CoreDecodeError):
            core.decode_core(data)
        return
    got = core.core_to_json(core.decode_core(data))
    for key, value in expect.items():
        if isinstance(value, float):
            assert isinstance(got[key], float), key
            assert math.isclose(got[key], value, abs_tol=1e-9), key  # type: ignore[arg-type]
        else:
            assert got[key] == value, key


def test_fixed_offset_frame_ignores_fields_when_their_bits_are_clear() -> None:
    """Spec v2.2 sends every field; a clear bit marks it invalid, so it must not be used.

    Flags 0x05 (skin, quality) need 6 bytes; this is the 10-byte fixed frame:
    core 0x0F19 = 38.65, skin 0x0DA4 = 34.92, reserved (bit clear), quality 0x13,
    heart rate 0x50 (bit clear), heat strain 0x27 (bit clear).
    """
    m = core.decode_core(bytes.fromhex("05190FA40D2F0013502F"))
    assert (m.core, m.skin, m.reserved, m.hr, m.hsi) == (
        Decimal("38.65"),
        Decimal("34.92"),
        None,
        None,
        None,
    )
    assert m.quality is core.Quality.GOOD


def test_fixed_offset_frame_drops_heat_strain_when_frame_is_nine_bytes() -> None:
    """A 9-byte fixed frame has no heat strain byte even if bit 5 is set (length_rule)."""
    m = core.decode_core(bytes.fromhex("25190FA40D00001300"))  # flags: skin, quality, HSI
    assert m.hsi is None
    assert m.skin == Decimal("34.92")


def test_heat_strain_is_none_when_core_is_not_available() -> None:
    """Implementation Notes V3.1 §2.2: no heat strain index without a valid core value."""
    m = core.decode_core(bytes.fromhex("20FF7F27"))
    assert (m.core, m.hsi) == (None, None)


def test_fahrenheit_core_converts_when_unit_bit_is_set() -> None:
    """Flags bit 3 = °F: 0x27BC = 10172 hundredths = 101.72 °F = 38.733... °C."""
    m = core.decode_core(bytes.fromhex("08BC27"))
    assert m.unit is Unit.FAHRENHEIT
    assert m.core == Decimal("101.72")
    assert m.core_celsius is not None
    assert math.isclose(m.core_celsius, (101.72 - 32) * 5 / 9, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("quality_byte", "unusable"),
    [("10", True), ("11", False), ("14", False), ("17", False)],  # invalid, poor, excellent, n/a
)
def test_quality_marks_unusable_only_when_device_says_invalid(
    quality_byte: str, unusable: bool
) -> None:
    """Only the spec's "invalid" grade discards a reading; poor is still a measurement."""
    m = core.decode_core(bytes.fromhex("04A60E" + quality_byte))
    assert m.quality_unusable is unusable


@pytest.mark.parametrize("code", ["15", "16"])
def test_decode_raises_when_quality_code_is_undefined(code: str) -> None:
    """Quality codes 5 and 6 are not in spec v2.2 Table 4: the frame is malformed."""
    with pytest.raises(core.CoreDecodeError) as caught:
        core.decode_core(bytes.fromhex("04A60E" + code))
    assert caught.value.offset == 3


@pytest.mark.parametrize(
    ("hex_bytes", "offset"),
    [("", 0), ("00A6", 2), ("01A60E", 3), ("00A60E00", 3), ("37190FA45C0D2F00110027", 10)],
)
def test_decode_raises_with_offset_when_length_fits_no_spec_version(
    hex_bytes: str, offset: int
) -> None:
    """Empty, short, or a length neither generation allows: rejected with the byte."""
    with pytest.raises(core.CoreDecodeError) as caught:
        core.decode_core(bytes.fromhex(hex_bytes))
    assert caught.value.offset == offset


def test_quality_table_covers_every_enum_member_when_listed() -> None:
    """Every Quality and HeartRateState has a wire code (habit 5)."""
    assert set(core._CODE_BY_QUALITY) == set(core.Quality)
    assert set(core._CODE_BY_HR_STATE) == set(core.HeartRateState)


hundredths = st.integers(min_value=-0x8000, max_value=0x7FFE).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def measurements(draw: st.DrawFn) -> core.CoreMeasurement:
    core_value = draw(st.one_of(st.none(), hundredths))
    with_state = draw(st.booleans())
    return core.CoreMeasurement(
        unit=draw(st.sampled_from(Unit)),
        core=core_value,
        skin=draw(st.one_of(st.none(), hundredths)),
        reserved=draw(st.one_of(st.none(), st.integers(-0x8000, 0x7FFF))),
        quality=draw(st.sampled_from(core.Quality)) if with_state else None,
        hr_state=draw(st.sampled_from(core.HeartRateState)) if with_state else None,
        hr=draw(st.one_of(st.none(), st.integers(0, 255))),
        hsi=None
        if core_value is None
        else draw(st.one_of(st.none(), st.integers(0, 254).map(lambda n: Decimal(n).scaleb(-1)))),
    )


@PROPERTY
@given(measurements())
@example(
    core.CoreMeasurement(
        Unit.CELSIUS,
        Decimal("38.65"),
        Decimal("34.92"),
        47,
        core.Quality.POOR,
        core.HeartRateState.NO_SIGNAL,
        0,
        Decimal("3.9"),
    )
)
def test_core_round_trips_every_field_when_encoded_then_decoded(m: core.CoreMeasurement) -> None:
    """What the virtual CORE sends decodes to what it meant, for every flag combination."""
    assert core.decode_core(core.encode_core(m)) == m


def test_encoder_emits_spec_example_when_all_fields_are_valid() -> None:
    """Implementation Notes V3.1 Table 5 (with its caption's stray byte removed)."""
    m = core.CoreMeasurement(
        Unit.CELSIUS,
        Decimal("38.65"),
        Decimal("34.92"),
        47,
        core.Quality.POOR,
        core.HeartRateState.NO_SIGNAL,
        0,
        Decimal("3.9"),
    )
    assert core.encode_core(m).hex().upper() == "37190FA40D2F00110027"


@pytest.mark.parametrize(
    "bad",
    [
        core.CoreMeasurement(Unit.CELSIUS, Decimal("327.67")),  # the 0x7FFF marker
        core.CoreMeasurement(Unit.CELSIUS, Decimal("37.123")),  # not whole hundredths
        core.CoreMeasurement(Unit.CELSIUS, None, hsi=Decimal("1.0")),
        core.CoreMeasurement(Unit.CELSIUS, Decimal(37), hsi=Decimal("25.5")),
        core.CoreMeasurement(Unit.CELSIUS, Decimal(37), quality=core.Quality.GOOD),
        core.CoreMeasurement(Unit.CELSIUS, Decimal(37), hr=256),
    ],
)
def test_encode_raises_when_value_has_no_encoding(bad: core.CoreMeasurement) -> None:
    """The encoder refuses what the decoder could not give back."""
    with pytest.raises(core.CoreDecodeError):
        core.encode_core(bad)


@PROPERTY
@given(st.binary(max_size=14))
@example(b"")
def test_decoder_raises_only_documented_error_when_given_arbitrary_bytes(data: bytes) -> None:
    """Whatever arrives over the air, the only failure is CoreDecodeError."""
    with contextlib.suppress(core.CoreDecodeError):
        core.decode_core(data)
