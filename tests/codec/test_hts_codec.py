"""HTS codec: the shared vectors, the edge cases the issue names, and generated round trips.

Expected values are literals worked out by hand from the wire bytes (style.md habit 6),
never computed with the encoder under test.
"""

from __future__ import annotations

import contextlib
import math
import pickle
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portwatch.ble import hts
from portwatch.model import Site, Special, Unit

# Failures print a @reproduce_failure blob, and the local example database (.hypothesis/)
# replays them first on the next run; `pytest --hypothesis-seed=N` pins the generator.
PROPERTY = settings(print_blob=True, max_examples=300, deadline=None)

DECODERS = {
    "measurement": hts.decode_measurement,
    "intermediate": hts.decode_measurement,
    "type": hts.decode_temperature_type,
    "interval": hts.decode_measurement_interval,
    "valid-range": hts.decode_valid_range,
}


def test_vector_decodes_as_listed_when_taken_from_shared_vectors(
    hts_vector: dict[str, Any],
) -> None:
    """Every published capture decodes to what its source says, or is rejected (hts.json)."""
    data = bytes.fromhex(hts_vector["hex"])
    expect = hts_vector["expect"]
    decode = DECODERS[hts_vector["characteristic"]]
    if expect.get("error"):
        with pytest.raises(hts.HtsDecodeError):
            decode(data)
        return
    if hts_vector["characteristic"] == "type":
        assert hts.decode_temperature_type(data).value == expect["site"]
        return
    if hts_vector["characteristic"] == "interval":
        assert hts.decode_measurement_interval(data) == expect["seconds"]
        return
    got = hts.measurement_to_json(hts.decode_measurement(data))
    for key in ("unit", "value", "special", "timestamp", "site"):
        assert got[key] == expect[key], key
    if expect["celsius"] is None:
        assert got["celsius"] is None
    else:
        assert isinstance(got["celsius"], float)
        assert math.isclose(got["celsius"], expect["celsius"], abs_tol=1e-9)


def test_site_table_matches_vectors_when_every_code_is_decoded(hts_sites: dict[str, str]) -> None:
    """All nine Temperature Type codes name the site GSS §3.217 gives them (habit 5)."""
    decoded = {str(code): hts.decode_temperature_type(bytes([code])).value for code in range(1, 10)}
    assert decoded == hts_sites
    assert set(decoded.values()) == {site.value for site in Site}


def test_value_stays_exact_when_device_reports_37_6() -> None:
    """37.6 must stay 37.6 (not 37.600000000000001): mantissa 376, exponent -1."""
    m = hts.decode_measurement(bytes.fromhex("00780100FF"))  # 0x000178 = 376, exp 0xFF = -1
    assert m.value is not None
    assert str(m.value) == "37.6"


def test_fahrenheit_converts_to_celsius_when_unit_flag_is_set() -> None:
    """101.0 °F is the clinic's threshold: 38.333... °C (flags bit 0 = °F)."""
    m = hts.decode_measurement(bytes.fromhex("01F20300FF"))  # 0x03F2 = 1010, exp -1
    assert m.unit is Unit.FAHRENHEIT
    assert m.value == Decimal("101.0")
    assert m.celsius is not None
    assert math.isclose(m.celsius, 38.333333333333336, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("wire", "special"),
    [
        ("FFFF7F00", Special.NAN),  # 0x007FFFFF
        ("00008000", Special.NRES),  # 0x00800000
        ("FEFF7F00", Special.POSITIVE_INFINITY),  # 0x007FFFFE
        ("02008000", Special.NEGATIVE_INFINITY),  # 0x00800002
        ("01008000", Special.RESERVED),  # 0x00800001
        ("FFFF7FFE", Special.NAN),  # NaN mantissa with exponent -2: still NaN, never a number
    ],
)
def test_special_has_no_temperature_when_mantissa_is_reserved(wire: str, special: Special) -> None:
    """IEEE 11073 specials carry no temperature: recognised before any arithmetic."""
    m = hts.decode_measurement(bytes.fromhex("00" + wire))
    assert (m.special, m.value, m.celsius) == (special, None, None)
    assert hts.decode_float32(bytes.fromhex(wire)) is special


@pytest.mark.parametrize(
    ("wire", "special"),
    [
        ("FF07", Special.NAN),
        ("0008", Special.NRES),
        ("FE07", Special.POSITIVE_INFINITY),
        ("0208", Special.NEGATIVE_INFINITY),
        ("0108", Special.RESERVED),
    ],
)
def test_sfloat_special_is_named_when_mantissa_is_reserved(wire: str, special: Special) -> None:
    """SFLOAT specials (12-bit mantissas 0x7FF, 0x800, 0x7FE, 0x802, 0x801) are names."""
    assert hts.decode_sfloat(bytes.fromhex(wire)) is special


def test_sfloat_decodes_signed_exponent_when_nibble_is_negative() -> None:
    """0xF178: exponent 0xF = -1, mantissa 0x178 = 376, so 37.6."""
    assert str(hts.decode_sfloat(bytes.fromhex("78F1"))) == "37.6"


def test_sfloat_decodes_negative_mantissa_when_top_bit_is_set() -> None:
    """0x0FFF would be NaN; 0x0FF6 is mantissa -10, exponent 0."""
    assert hts.decode_sfloat(bytes.fromhex("F60F")) == Decimal(-10)


def test_timestamp_is_none_when_date_time_is_zeros() -> None:
    """A Date Time of zeros means "unknown", not malformed (GSS §3.70)."""
    m = hts.decode_measurement(bytes.fromhex("02B00E00FE" + "00000000000000"))
    assert m.timestamp is None


@pytest.mark.parametrize(
    "date_time",
    ["0000010C0000", "DC07000C0000", "DC070C000000"],  # zero year / month / day (hh:mm:ss)
)
def test_timestamp_is_none_when_year_month_or_day_is_zero(date_time: str) -> None:
    """Any zero year, month or day makes the time stamp unknown, not an error."""
    assert hts.decode_date_time(bytes.fromhex(date_time + "00")) is None


@pytest.mark.parametrize(
    ("date_time", "offset", "field"),
    [
        ("DC070D050B321B", 7, "month 13"),
        ("DC070C05181E00", 9, "hours 24"),
        ("DC070C050B3C00", 10, "minutes 60"),
        ("DC070C050B003C", 11, "seconds 60"),
        ("DC070C200B0000", 8, "day 32"),
        ("DC07041F000000", 8, "day is out of range"),  # 31 April
        ("2C060101000000", 5, "year 1580"),  # 0x062C = 1580, before 1582
    ],
)
def test_decode_raises_with_offset_when_date_time_field_is_out_of_range(
    date_time: str, offset: int, field: str
) -> None:
    """A field out of range is malformed, and the error names the field and its byte."""
    with pytest.raises(hts.HtsDecodeError) as caught:
        hts.decode_measurement(bytes.fromhex("02B00E00FE" + date_time))
    assert caught.value.offset == offset
    assert field in caught.value.reason


@pytest.mark.parametrize(
    ("hex_bytes", "offset", "reason"),
    [
        ("", 0, "empty"),
        ("00B00E00", 4, "4-byte FLOAT"),
        ("02B00E00FEDC07", 7, "announce 12 bytes"),
        ("06B00E00FEDC070C050B321B", 12, "announce 13 bytes"),
        ("04B00E00FE00", 5, "Temperature Type 0 outside 1-9"),
        ("04B00E00FE0A", 5, "Temperature Type 10 outside 1-9"),
    ],
)
def test_decode_raises_with_offset_when_measurement_is_malformed(
    hex_bytes: str, offset: int, reason: str
) -> None:
    """The issue's malformed cases each say what is wrong and at which byte."""
    with pytest.raises(hts.HtsDecodeError) as caught:
        hts.decode_measurement(bytes.fromhex(hex_bytes))
    assert caught.value.offset == offset
    assert reason in caught.value.reason
    assert f"at byte {offset}" in str(caught.value)


def test_trailing_bytes_are_reported_when_longer_than_flags_require() -> None:
    """Extra bytes (a newer spec's field) are kept, not an error."""
    m = hts.decode_measurement(bytes.fromhex("00B00E00FEAABB"))
    assert m.trailing_bytes == b"\xaa\xbb"


def test_error_survives_pickling_when_sent_between_processes() -> None:
    """The error keeps offset and reason across pickle (log shipping, multiprocessing)."""
    error = pickle.loads(pickle.dumps(hts.HtsDecodeError(3, "bad")))
    assert (error.offset, error.reason) == (3, "bad")


def test_valid_range_decodes_bounds_when_four_bytes() -> None:
    """0x2906: lower 1 s, upper 3600 s (0x0E10)."""
    assert hts.decode_valid_range(bytes.fromhex("0100100E")) == (1, 3600)


def test_valid_range_raises_when_lower_exceeds_upper() -> None:
    """A range whose lower bound is above its upper bound is malformed."""
    with pytest.raises(hts.HtsDecodeError):
        hts.decode_valid_range(bytes.fromhex("0200 0100".replace(" ", "")))


@pytest.mark.parametrize(
    ("uuid", "short"),
    [
        (hts.SERVICE_UUID, "1809"),
        (hts.TEMPERATURE_MEASUREMENT_UUID, "2a1c"),
        (hts.TEMPERATURE_TYPE_UUID, "2a1d"),
        (hts.INTERMEDIATE_TEMPERATURE_UUID, "2a1e"),
        (hts.MEASUREMENT_INTERVAL_UUID, "2a21"),
        (hts.VALID_RANGE_DESCRIPTOR_UUID, "2906"),
        (hts.DATE_TIME_UUID, "2a08"),
    ],
)
def test_uuid_is_full_128_bit_when_exported(uuid: str, short: str) -> None:
    """Bumble's scan filters need full 128-bit strings (issue 3 traps)."""
    assert uuid == f"0000{short}-0000-1000-8000-00805f9b34fb"


def test_json_has_issue_keys_when_measurement_is_printed() -> None:
    """`portwatch decode` prints exactly the keys issue 2 lists."""
    m = hts.decode_measurement(bytes.fromhex("06B00E00FEDC070C050B321B04"))
    assert set(hts.measurement_to_json(m)) == {
        "unit",
        "value",
        "celsius",
        "special",
        "timestamp",
        "site",
        "trailing_bytes",
    }


# --- generated round trips ---------------------------------------------------------------

mantissas = st.integers(min_value=-0x7FFFFD, max_value=0x7FFFFD)
exponents = st.integers(min_value=-128, max_value=127)
numbers = st.builds(lambda m, e: Decimal(f"{m}E{e}"), mantissas, exponents)
timestamps = st.datetimes(
    min_value=datetime(1582, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)
).map(lambda dt: dt.replace(microsecond=0))


@pytest.mark.parametrize("has_site", [False, True])
@pytest.mark.parametrize("has_time", [False, True])
@pytest.mark.parametrize("unit", list(Unit))
@PROPERTY
@given(
    number=st.one_of(numbers, st.sampled_from(Special)),
    timestamp=timestamps,
    site=st.sampled_from(Site),
    trailing=st.binary(max_size=6),
)
@example(
    number=Decimal("37.60"),
    timestamp=datetime(2012, 12, 5, 11, 50, 27),
    site=Site.FINGER,
    trailing=b"",
)
def test_measurement_round_trips_every_field_when_encoded_then_decoded(
    unit: Unit,
    has_time: bool,
    has_site: bool,
    number: Decimal | Special,
    timestamp: datetime,
    site: Site,
    trailing: bytes,
) -> None:
    """The virtual thermometer's bytes decode to exactly what it meant, for all 8 flag sets."""
    original = hts.Measurement(
        unit=unit,
        value=number if isinstance(number, Decimal) else None,
        special=number if isinstance(number, Special) else None,
        timestamp=timestamp if has_time else None,
        site=site if has_site else None,
        trailing_bytes=trailing,
    )
    wire = hts.encode_measurement(original)
    assert wire[0] == (unit is Unit.FAHRENHEIT) | (has_time << 1) | (has_site << 2)
    decoded = hts.decode_measurement(wire)
    assert decoded == original
    if original.value is not None:
        assert decoded.value is not None
        assert decoded.value.as_tuple() == original.value.as_tuple()  # same digits, same exponent


@PROPERTY
@given(st.one_of(numbers, st.sampled_from(Special)))
def test_float32_round_trips_when_encoded_then_decoded(number: Decimal | Special) -> None:
    """FLOAT encode/decode are inverse, keeping the exponent."""
    decoded = hts.decode_float32(hts.encode_float32(number))
    assert decoded == number
    assert str(decoded) == str(number)


@PROPERTY
@given(
    st.one_of(
        st.builds(
            lambda m, e: Decimal(f"{m}E{e}"),
            st.integers(min_value=-0x7FD, max_value=0x7FD),
            st.integers(min_value=-8, max_value=7),
        ),
        st.sampled_from(Special),
    )
)
def test_sfloat_round_trips_when_encoded_then_decoded(number: Decimal | Special) -> None:
    """SFLOAT encode/decode are inverse, keeping the exponent."""
    decoded = hts.decode_sfloat(hts.encode_sfloat(number))
    assert str(decoded) == str(number)


@PROPERTY
@given(st.one_of(st.none(), timestamps))
def test_date_time_round_trips_when_encoded_then_decoded(dt: datetime | None) -> None:
    """Date Time encode/decode are inverse; None is the all-zero unknown."""
    assert hts.decode_date_time(hts.encode_date_time(dt)) == dt


@PROPERTY
@given(
    st.sampled_from(Site), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)
)
def test_small_characteristics_round_trip_when_encoded_then_decoded(
    site: Site, seconds: int, a: int, b: int
) -> None:
    """Temperature Type, Measurement Interval and Valid Range encoders invert their decoders."""
    lo, hi = min(a, b), max(a, b)
    assert hts.decode_temperature_type(hts.encode_temperature_type(site)) is site
    assert hts.decode_measurement_interval(hts.encode_measurement_interval(seconds)) == seconds
    assert hts.decode_valid_range(hts.encode_valid_range(lo, hi)) == (lo, hi)


@pytest.mark.parametrize(
    "bad",
    [
        hts.Measurement(Unit.CELSIUS, None, None, None, None),
        hts.Measurement(Unit.CELSIUS, Decimal(1), Special.NAN, None, None),
        hts.Measurement(Unit.CELSIUS, Decimal("8388606"), None, None, None),  # a special's mantissa
        hts.Measurement(Unit.CELSIUS, Decimal("1E128"), None, None, None),
        hts.Measurement(Unit.CELSIUS, Decimal("NaN"), None, None, None),
        hts.Measurement(Unit.CELSIUS, Decimal(37), None, datetime(2026, 1, 1, 0, 0, 0, 5), None),
    ],
)
def test_encode_raises_when_measurement_has_no_encoding(bad: hts.Measurement) -> None:
    """The encoder refuses what the decoder could not give back, with the documented error."""
    with pytest.raises(hts.HtsDecodeError):
        hts.encode_measurement(bad)


@PROPERTY
@given(st.binary(max_size=24))
@example(b"")
@example(bytes.fromhex("06B00E00FE0000000000000004"))
def test_decoders_raise_only_documented_error_when_given_arbitrary_bytes(data: bytes) -> None:
    """Whatever arrives over the air, the only failure is HtsDecodeError."""
    for decode in (
        hts.decode_measurement,
        hts.decode_temperature_type,
        hts.decode_measurement_interval,
        hts.decode_valid_range,
        hts.decode_date_time,
        hts.decode_float32,
        hts.decode_sfloat,
    ):
        with contextlib.suppress(hts.HtsDecodeError):
            decode(data)
