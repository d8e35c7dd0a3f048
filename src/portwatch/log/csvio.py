"""Readings from a CSV file: the format of `portwatch import` and `portwatch replay`.

The header is ``time,temperature,unit,kind``, optionally followed by ``device``, ``site``
and ``interval`` in any order. ``time`` is ISO 8601 with an offset; ``unit`` is C or F;
``kind`` is spot, stream or provisional; ``interval`` is the declared measurement interval
in seconds, for stream rows only. A file is all or nothing: the first unreadable line
raises :class:`CsvFormatError` with its line number (the importer then stores nothing). A
readable but implausible row is kept, marked invalid with its reason (fever-rule.md §8).

Pure: no I/O beyond reading the file you name, no logging.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO, Final

from portwatch.fever.settings import BEFORE_PLACEMENT  # not .rule: `add` needs no rule (issue 20)
from portwatch.model import MANUAL_DEVICE, Reading, ReadingKind, Site, Unit

__all__ = [
    "MANUAL_DEVICE",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "CsvFormatError",
    "celsius_from",
    "hand_reading",
    "invalid_reason",
    "iter_readings",
    "parse_temperature",
    "read_readings",
]

REQUIRED_COLUMNS: Final[tuple[str, ...]] = ("time", "temperature", "unit")
# ``kind`` is optional (a typed list of temperatures is spot readings); export writes it.
OPTIONAL_COLUMNS: Final[frozenset[str]] = frozenset({"kind", "device", "site", "interval"})

# Plausibility gate for typed or imported input (issue 4, "Commands"): wider than the rule's
# 30-45 °C validity (fever-rule.md §1) so that the rule still sees, and keeps as invalid,
# readings just outside its range; anything beyond this gate is a typing error.
PLAUSIBLE_MIN_CELSIUS: Final = 25.0
PLAUSIBLE_MAX_CELSIUS: Final = 47.0

# fever-rule.md §1: a reading outside 30.0-45.0 °C is invalid (kept, never used).
VALID_MIN_CELSIUS: Final = 30.0
VALID_MAX_CELSIUS: Final = 45.0
# A temperature is a few digits: anything longer is not read as one (1E9999999 overflowed).
MAX_DIGITS_BEFORE_POINT: Final = 4
MAX_DIGITS: Final = 12
# Readings are timed within these years (config.PLACEMENT_YEARS: no placement is outside).
YEARS: Final = (2000, 9000)
# No reading line is this long; a longer one (a binary file, one huge line) is refused
# rather than read into memory whole.
MAX_LINE_BYTES: Final = 64 * 1024

# A reading more than this far ahead of the receiving clock is not plausible
# (fever-rule.md §1, "more than 5 minutes ahead of the receiving clock").
FUTURE_TOLERANCE: Final = timedelta(minutes=5)


class CsvFormatError(ValueError):
    """A CSV line that cannot be read as a reading; ``line`` is 1-based (the header is 1)."""

    def __init__(self, line: int, message: str, *, source: str = "") -> None:
        where = f"{source}, line {line}" if source else f"line {line}"
        super().__init__(f"{where}: {message}")
        self.line = line
        self.source = source


def celsius_from(value: Decimal, unit: Unit) -> float:
    """The temperature in °C of `value` given in `unit` (for storage and the threshold)."""
    if unit is Unit.FAHRENHEIT:
        return float((value - 32) * 5 / 9)
    return float(value)


def hand_reading(
    value: Decimal,
    unit: Unit,
    *,
    time: datetime,
    received_at: datetime,
    site: Site | None,
    raw: bytes,
) -> Reading:
    """A temperature typed by hand (`portwatch add`, the page's form): a spot reading from
    :data:`MANUAL_DEVICE`, which counts like the pinned thermometer's (fever-rule.md §8)."""
    return Reading(
        device=MANUAL_DEVICE,
        kind=ReadingKind.SPOT,
        value=value,
        unit=unit,
        celsius=celsius_from(value, unit),
        time=time,
        received_at=received_at,
        site=site,
        raw=raw,
    )


def parse_temperature(text: str) -> tuple[Decimal, Unit]:
    """Read a typed temperature such as ``101.2F``, ``38.4C`` or ``38.4 °C``.

    Raises:
        ValueError: when the text is not a number followed by C or F, or is implausible.
    """
    cleaned = text.strip().replace("°", "").replace(" ", "")
    if not cleaned or cleaned[-1].upper() not in ("C", "F"):
        raise ValueError(f"{text!r} needs a unit: write it like 101.2F or 38.4C")
    unit = Unit(cleaned[-1].upper())
    value = _decimal(cleaned[:-1], text)
    _check_plausible(value, unit)
    return value, unit


def read_readings(
    source: Path | str,
    *,
    now: datetime | None = None,
    placement: datetime | None = None,
    name: str | None = None,
    zone: tzinfo | None = None,
) -> list[Reading]:
    """Every reading in a CSV file (a :class:`Path`) or CSV text (a ``str``), as a list.

    :func:`iter_readings` for small inputs and tests; an import streams instead.
    """
    return list(iter_readings(source, now=now, placement=placement, name=name, zone=zone))


def iter_readings(
    source: Path | str,
    *,
    now: datetime | None = None,
    placement: datetime | None = None,
    name: str | None = None,
    zone: tzinfo | None = None,
) -> Iterator[Reading]:
    """The readings of a CSV file (a :class:`Path`) or CSV text (a ``str``), one at a time.

    A file is read a line at a time, so memory does not grow with its length. Rows without
    a device (no column, or an empty cell) are manual readings (fever-rule.md §8), device
    :data:`MANUAL_DEVICE` as `portwatch add` stores them. Stream rows without an interval
    keep ``interval_s=None``: the rule then uses the median spacing (fever-rule.md §2).
    ``received_at`` is the reading's own time, as if it had arrived live. The line itself
    is kept as ``raw`` for audit: the very line the csv module read the row from.

    A readable row that is implausible (fever-rule.md §1: outside 30-45 °C, more than 5
    minutes after `now`, before `placement` less a day) is yielded with its
    ``invalid_reason``; only a row that cannot be read raises (§8).

    Args:
        source: a path to read, or the text itself.
        now: the receiving clock; a time more than 5 minutes after it is invalid.
        placement: when the port was placed; a time a day or more before it is invalid.
        name: what to call the source in messages.
        zone: the patient's time zone, in which a time without an offset (typed by a
            person: ``2026-11-04 08:30``) is read; without it such a time is unreadable.

    Raises:
        CsvFormatError: the first unreadable line, with its number and what is wrong.
        OSError: when the file cannot be read.
    """
    for moment in (now, placement):
        if moment is not None and moment.tzinfo is None:
            raise ValueError("iter_readings needs aware times")
    if isinstance(source, str):
        label = name or "input"
        yield from _parse(_text_lines(source.removeprefix("\ufeff")), label, now, placement, zone)
        return
    label = name or source.name
    with source.open("rb") as binary:
        yield from _parse(_file_lines(binary, label), label, now, placement, zone)


def _text_lines(text: str) -> Iterator[str]:
    # csv's own notion of a line end: \n, \r or \r\n, never U+2028 or a form feed (which
    # str.splitlines also splits at, shifting every later raw line by one, issue 21).
    return iter(io.StringIO(text, newline=""))


def _file_lines(binary: BinaryIO, label: str) -> Iterator[str]:
    """The file's lines as csv reads them, each decoded on its own so that a byte that is
    not UTF-8 is reported with its line number (issue 21: a UnicodeDecodeError before)."""
    number = 0
    while True:
        chunk = binary.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        if number == 0:
            chunk = chunk.removeprefix(b"\xef\xbb\xbf")
        for piece in chunk.splitlines(keepends=True):  # bytes: only \n, \r and \r\n
            number += 1
            if len(piece) > MAX_LINE_BYTES:
                raise CsvFormatError(
                    number, f"longer than {MAX_LINE_BYTES} bytes; not a reading", source=label
                )
            try:
                yield piece.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CsvFormatError(
                    number,
                    f"not UTF-8 text (byte {exc.start + 1} of the line); save the file as UTF-8",
                    source=label,
                ) from None


class _Recorded:
    """The lines csv reads, remembering the last one: a row's raw line is the line csv read."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.last = ""

    def __iter__(self) -> _Recorded:
        return self

    def __next__(self) -> str:
        self.last = next(self._lines)
        return self.last


def _parse(
    lines: Iterator[str],
    label: str,
    now: datetime | None,
    placement: datetime | None,
    zone: tzinfo | None,
) -> Iterator[Reading]:
    recorded = _Recorded(lines)
    reader = csv.reader(recorded)

    def next_row(start: int) -> list[str] | None:
        try:
            return next(reader, None)
        except csv.Error as exc:
            if reader.line_num > start:  # an open quote swallowed the lines after it
                message = "a quote opened here is not closed on this line"
                raise CsvFormatError(start, message, source=label) from exc
            raise CsvFormatError(reader.line_num, f"not valid CSV ({exc})", source=label) from exc

    header = next_row(1)
    if header is None:
        raise CsvFormatError(
            1, f"empty; the header must be {','.join(REQUIRED_COLUMNS)}", source=label
        )
    columns = _columns(header, label)
    while True:
        line = reader.line_num + 1  # where the next row starts
        row = next_row(line)
        if row is None:
            break
        if reader.line_num != line:
            # A reading never spans lines: an unclosed quote swallowed the lines after it,
            # and the csv module would report where the file ends, not where the quote is.
            raise CsvFormatError(
                line, "a quote opened here is not closed on this line", source=label
            )
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            raise CsvFormatError(
                line, f"{len(row)} fields where the header has {len(columns)}", source=label
            )
        cells = {column: cell.strip() for column, cell in zip(columns, row, strict=True)}
        try:
            reading = _reading(cells, raw=recorded.last, zone=zone)
        except ValueError as exc:
            raise CsvFormatError(line, str(exc), source=label) from exc
        yield _judged(reading, now, placement)


def _columns(header: list[str], label: str) -> list[str]:
    columns = [cell.strip().lower() for cell in header]
    required = len(REQUIRED_COLUMNS)
    if tuple(columns[:required]) != REQUIRED_COLUMNS:
        raise CsvFormatError(
            1,
            f"the header must start with {','.join(REQUIRED_COLUMNS)}, found {','.join(columns)}",
            source=label,
        )
    extra = columns[required:]
    unknown = [column for column in extra if column not in OPTIONAL_COLUMNS]
    if unknown:
        raise CsvFormatError(
            1,
            f"unknown column {unknown[0]!r}; optional columns are "
            f"{', '.join(sorted(OPTIONAL_COLUMNS))}",
            source=label,
        )
    if len(set(extra)) != len(extra):
        raise CsvFormatError(1, "a column appears twice", source=label)
    return columns


def _reading(cells: dict[str, str], *, raw: str, zone: tzinfo | None) -> Reading:
    time = _time(cells["time"], zone)
    try:
        unit = Unit(cells["unit"].upper())
    except ValueError:
        raise ValueError(f"unit {cells['unit']!r} is neither C nor F") from None
    value = _decimal(cells["temperature"], cells["temperature"])
    try:
        # No kind column: a typed list of spot readings. An empty cell in a kind column is
        # an unreadable line, as any unknown kind is (fever-rule.md §8).
        kind = ReadingKind(cells.get("kind", ReadingKind.SPOT.value).lower())
    except ValueError:
        raise ValueError(
            f"kind {cells['kind']!r} is not one of {', '.join(k.value for k in ReadingKind)}"
        ) from None
    site_text = cells.get("site", "")
    try:
        site = Site(site_text.lower()) if site_text else None
    except ValueError:
        raise ValueError(
            f"site {site_text!r} is not one of {', '.join(s.value for s in Site)}"
        ) from None
    interval_s = _interval(cells.get("interval", ""), kind)
    return Reading(
        device=cells.get("device") or MANUAL_DEVICE,
        kind=kind,
        value=value,
        unit=unit,
        celsius=celsius_from(value, unit),
        time=time,
        received_at=time,
        site=site,
        interval_s=interval_s,
        raw=raw.rstrip("\r\n").encode("utf-8"),
    )


def _time(text: str, zone: tzinfo | None) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {text!r} is not ISO 8601 (2026-11-04T08:30:00+01:00)") from None
    if parsed.tzinfo is None and zone is not None:
        parsed = parsed.replace(tzinfo=zone)  # as a person reads their own clock
    if parsed.tzinfo is None:
        raise ValueError(
            f"time {text!r} has no offset; add one, such as +00:00 or Z (with settings, "
            "a time without one is read in the patient's time zone)"
        )
    first, last = YEARS
    if not first <= parsed.year < last:
        # Year 1 or 9999 is a broken clock or a typo; near the ends of datetime's range a
        # time cannot even be shown in another zone (0001-01-01T00:00:00+05:00 overflowed).
        raise ValueError(f"time {text!r} is out of range (years {first} to {last - 1})")
    return parsed.astimezone(UTC)


def _judged(reading: Reading, now: datetime | None, placement: datetime | None) -> Reading:
    """The reading with its invalid_reason when it is readable but implausible (§1, §8)."""
    reason = invalid_reason(reading, now=now, placement=placement)
    return reading if reason is None else replace(reading, invalid_reason=reason)


def invalid_reason(
    reading: Reading, *, now: datetime | None, placement: datetime | None
) -> str | None:
    """Why a readable reading is invalid (fever-rule.md §1), in the rule's own words."""
    celsius = reading.celsius
    if celsius is not None and not VALID_MIN_CELSIUS <= celsius <= VALID_MAX_CELSIUS:
        return f"{celsius:.2f} °C is outside {VALID_MIN_CELSIUS}-{VALID_MAX_CELSIUS} °C"
    if now is not None and reading.time > now + FUTURE_TOLERANCE:
        return (
            f"time {reading.time.isoformat()} is more than 5 minutes ahead of the receiving clock"
        )
    if placement is not None and reading.time < placement - BEFORE_PLACEMENT:
        return f"time {reading.time.isoformat()} is before the placement less one day"
    return None


def _decimal(text: str, shown: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(
            f"temperature {shown!r} is not a number{_comma_hint(text, shown)}"
        ) from None
    if not value.is_finite():
        raise ValueError(f"temperature {shown!r} is not a number")
    if value.adjusted() >= MAX_DIGITS_BEFORE_POINT or len(value.as_tuple().digits) > MAX_DIGITS:
        # 1E9999999 is a number, but no temperature: converting it overflowed (issue 21).
        raise ValueError(f"temperature {shown!r} is not a temperature (too many digits)")
    return value


def _comma_hint(text: str, shown: str) -> str:
    if "," in text and text.replace(",", "", 1).isdigit():
        return f"; write the decimal point as a point: {shown.strip().replace(',', '.', 1)}"
    return ""


def _check_plausible(value: Decimal, unit: Unit) -> None:
    celsius = celsius_from(value, unit)
    if not (PLAUSIBLE_MIN_CELSIUS <= celsius <= PLAUSIBLE_MAX_CELSIUS):
        raise ValueError(
            f"temperature {value}{unit.value} is impossible for a person "
            f"(outside {PLAUSIBLE_MIN_CELSIUS:g}-{PLAUSIBLE_MAX_CELSIUS:g} °C); check the unit"
        )


def _interval(text: str, kind: ReadingKind) -> float | None:
    if not text:
        return None
    if kind is not ReadingKind.STREAM:
        raise ValueError(f"an interval is given for a {kind.value} row; only stream rows have one")
    try:
        interval_s = float(text)
    except ValueError:
        raise ValueError(f"interval {text!r} is not a number of seconds") from None
    if not math.isfinite(interval_s) or interval_s <= 0:
        raise ValueError(f"interval {text!r} must be a positive number of seconds")
    return interval_s
