"""Readings from a CSV file: the format of `portwatch import` and `portwatch replay`.

The header is ``time,temperature,unit,kind``, optionally followed by ``device``, ``site``
and ``interval`` in any order. ``time`` is ISO 8601 with an offset; ``unit`` is C or F;
``kind`` is spot, stream or provisional; ``interval`` is the declared measurement interval
in seconds, for stream rows only. A file is all or nothing: the first bad line raises
:class:`CsvFormatError` with its line number and nothing from the file is returned.

Pure: no I/O beyond reading the file you name, no logging.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from portwatch.model import Reading, ReadingKind, Site, Unit

__all__ = [
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "CsvFormatError",
    "celsius_from",
    "parse_temperature",
    "read_readings",
]

REQUIRED_COLUMNS: Final[tuple[str, ...]] = ("time", "temperature", "unit", "kind")
OPTIONAL_COLUMNS: Final[frozenset[str]] = frozenset({"device", "site", "interval"})

# Plausibility gate for typed or imported input (issue 4, "Commands"): wider than the rule's
# 30-45 °C validity (fever-rule.md §1) so that the rule still sees, and keeps as invalid,
# readings just outside its range; anything beyond this gate is a typing error.
PLAUSIBLE_MIN_CELSIUS: Final = 25.0
PLAUSIBLE_MAX_CELSIUS: Final = 47.0

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
    name: str | None = None,
) -> list[Reading]:
    """Every reading in a CSV file (a :class:`Path`) or CSV text (a ``str``).

    Rows get ``device="import:<name>"`` (the file's name, or `name`) unless the file has a
    device column. Stream rows without an interval keep ``interval_s=None``: the rule then
    uses the median spacing (fever-rule.md §2). ``received_at`` is the reading's own time,
    as if it had arrived live. The line itself is kept as ``raw`` for audit.

    Args:
        source: a path to read, or the text itself.
        now: when given, a time more than 5 minutes after it is an error.
        name: what to call the source in device names and messages.

    Raises:
        CsvFormatError: the first bad line, with its number and what is wrong with it.
        OSError: when the file cannot be read.
    """
    if isinstance(source, Path):
        text = source.read_text(encoding="utf-8-sig")
        label = name or source.name
    else:
        text = source.removeprefix("\ufeff")
        label = name or "input"
    if now is not None and now.tzinfo is None:
        raise ValueError("read_readings needs an aware `now`")
    return list(_parse(text, label=label, now=now))


def _parse(text: str, *, label: str, now: datetime | None) -> Iterable[Reading]:
    lines = text.splitlines(keepends=True)
    reader = csv.reader(io.StringIO(text, newline=""))

    def next_row() -> list[str] | None:
        try:
            return next(reader, None)
        except csv.Error as exc:
            raise CsvFormatError(reader.line_num, f"not valid CSV ({exc})", source=label) from exc

    header = next_row()
    if header is None:
        raise CsvFormatError(
            1, f"empty; the header must be {','.join(REQUIRED_COLUMNS)}", source=label
        )
    columns = _columns(header, label)
    device_default = f"import:{label}"
    while True:
        line = reader.line_num + 1  # where the next row starts
        row = next_row()
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
            yield _reading(
                cells, device_default, now, raw=lines[line - 1] if line <= len(lines) else ""
            )
        except ValueError as exc:
            raise CsvFormatError(line, str(exc), source=label) from exc


def _columns(header: list[str], label: str) -> list[str]:
    columns = [cell.strip().lower() for cell in header]
    if tuple(columns[:4]) != REQUIRED_COLUMNS:
        raise CsvFormatError(
            1,
            f"the header must start with {','.join(REQUIRED_COLUMNS)}, found {','.join(columns)}",
            source=label,
        )
    extra = columns[4:]
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


def _reading(
    cells: dict[str, str], device_default: str, now: datetime | None, *, raw: str
) -> Reading:
    time = _time(cells["time"], now)
    try:
        unit = Unit(cells["unit"].upper())
    except ValueError:
        raise ValueError(f"unit {cells['unit']!r} is neither C nor F") from None
    value = _decimal(cells["temperature"], cells["temperature"])
    _check_plausible(value, unit)
    try:
        kind = ReadingKind(cells["kind"].lower())
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
        device=cells.get("device") or device_default,
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


def _time(text: str, now: datetime | None) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time {text!r} is not ISO 8601 (2026-11-04T08:30:00+01:00)") from None
    if parsed.tzinfo is None:
        raise ValueError(f"time {text!r} has no offset; add one, such as +00:00 or Z")
    parsed = parsed.astimezone(UTC)
    if now is not None and parsed > now + FUTURE_TOLERANCE:
        raise ValueError(f"time {text!r} is in the future")
    return parsed


def _decimal(text: str, shown: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"temperature {shown!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"temperature {shown!r} is not a number")
    return value


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
