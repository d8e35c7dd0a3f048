"""Exports of the log: readings as CSV in the format `portwatch import` reads, or the
observations as one FHIR R4 ``collection`` Bundle.

The log is read as a stream (Store.iter_readings, a page at a time) and observations are
made an hour at a time, so that memory does not grow with the log (issue 20: ten days of
a one-per-second stream is 864,000 readings). Values keep the device's digits: 38.30 is
written 38.30, as the alerts carry it, and a window's median is rounded to them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final, TextIO

from portwatch.fever.settings import DEFAULTS, RuleSettings
from portwatch.fever.windows import window_start
from portwatch.log.store import Store, StoredReading
from portwatch.model import Observation, Reading, ReadingKind
from portwatch.web.source import ClinicTarget, stream_observations

# The import format (store/csvio.py): required columns, then the optional ones we know.
CSV_COLUMNS: Final = ("time", "temperature", "unit", "kind", "device", "site", "interval")
# Observations are made per epoch hour: a whole number of stream windows, so that no
# window is cut in two, and at one a second 3,600 readings in memory at most.
CHUNK_US: Final = 3_600_000_000


def write_csv(
    store: Store, out: TextIO, since: datetime | None, until: datetime
) -> tuple[int, int]:
    """Write the valid readings in [since, until) (since None: all) to `out`, streamed;
    returns (written, left out).

    Readings without a temperature or marked invalid are left out: the import format has
    no place for a reason, and `portwatch log` shows them with theirs.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    written = invalid = 0
    for stored in store.iter_readings(since, until):
        r = stored.reading
        if r.invalid_reason is not None or r.value is None:
            invalid += 1
            continue
        writer.writerow(
            (
                r.time.isoformat(),
                str(r.value),
                r.unit.value,
                r.kind.value,
                r.device,
                r.site.value if r.site is not None else "",
                f"{r.interval_s:g}" if r.interval_s is not None else "",
            )
        )
        written += 1
    return written, invalid


def observations(
    store: Store, since: datetime | None, until: datetime, rule: RuleSettings = DEFAULTS
) -> list[Observation]:
    """The observations in [since, until) (since None: all), in time order (fever-rule.md §2).

    Valid spot readings one by one; stream samples as the rule forms them with ``rule``'s
    ``window`` and ``min_samples``, medians rounded to the device's own digits, read a
    chunk of whole windows at a time. Provisional and invalid readings are not
    observations. (The site offset is the rule's and is not applied here: the values are
    the thermometer's own.)
    """
    out: list[Observation] = []
    kinds = (ReadingKind.SPOT, ReadingKind.STREAM)
    window_us = int(rule.window.total_seconds() * 1_000_000)
    chunk_us = window_us * max(1, CHUNK_US // window_us)  # whole epoch-aligned windows
    # A window counts where it ends: one cut by `since` is read whole, from its start.
    start = None if since is None else window_start(since, rule.window)
    for hour in _chunks(store.iter_readings(start, until), chunk_us):
        valid = [
            r
            for r in hour
            if r.kind in kinds and r.invalid_reason is None and r.celsius is not None
        ]
        out.extend(
            Observation(r.time, r.celsius, r.value, r.unit, r.device, r.site)
            for r in valid
            if r.kind is ReadingKind.SPOT and r.celsius is not None and r.value is not None
            if since is None or r.time >= since
        )
        stream = [r for r in valid if r.kind is ReadingKind.STREAM]
        made = _device_digits(stream_observations(stream, rule), stream)
        out.extend(o for o in made if (since is None or since <= o.time) and o.time <= until)
    out.sort(key=lambda o: o.time)
    return out


def _chunks(stored: Iterable[StoredReading], chunk_us: int) -> Iterator[list[Reading]]:
    """The readings (in time order) grouped by epoch-aligned chunk, one in memory at a time."""
    hour: list[Reading] = []
    current = None
    for item in stored:
        reading = item.reading
        key = int(reading.time.timestamp() * 1_000_000) // chunk_us
        if key != current and hour:
            yield hour
            hour = []
        current = key
        hour.append(reading)
    if hour:
        yield hour


def _device_digits(made: list[Observation], samples: list[Reading]) -> list[Observation]:
    """A window's median with no more digits than its device sends (38.275 -> 38.28)."""
    digits: dict[str, int] = {}
    for r in samples:
        sent = r.value.as_tuple().exponent if r.value is not None else 0
        if isinstance(sent, int):
            digits[r.device] = min(digits.get(r.device, 0), sent)
    out = []
    for o in made:
        exponent = digits.get(o.device)
        if o.samples > 1 and exponent is not None:
            value = o.value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN)
            o = Observation(o.time, o.celsius, value, o.unit, o.device, o.site, o.samples, o.late)
        out.append(o)
    return out


def fhir_entries(
    observations_: Iterable[Observation], target: ClinicTarget
) -> Iterator[dict[str, object]]:
    """A ``collection`` Bundle's entries: the thermometer and gateway Devices and one
    ``bodytemp`` Observation per observation, built by the alert Bundles' own public
    builders so that both follow the same rules (alerts.md, "FHIR R4"), each checked by
    the R4B models on its own (the models of a whole ten-day Bundle took 40 MB, issue 20)."""
    from fhir.resources.R4B.bundle import Bundle

    from portwatch.alerts import fhir

    def checked(entry: fhir.Resource) -> fhir.Resource:
        Bundle.model_validate({"resourceType": "Bundle", "type": "collection", "entry": [entry]})
        return entry

    context = target.context
    thermometer = fhir.thermometer_device(context)
    gateway = fhir.gateway_device(context)
    yield checked(fhir.collection_entry(thermometer))
    yield checked(fhir.collection_entry(gateway))
    seen: set[str] = set()
    for observation in observations_:
        built = fhir.body_temperature(context, observation, thermometer, gateway)
        if built.full_url not in seen:
            seen.add(built.full_url)
            yield checked(fhir.collection_entry(built))


def write_fhir(observations_: Iterable[Observation], target: ClinicTarget, out: TextIO) -> None:
    """The ``collection`` Bundle written to `out` an entry at a time, decimals exact."""
    out.write('{\n "entry": [\n')
    for index, entry in enumerate(fhir_entries(observations_, target)):
        out.write((",\n" if index else "") + fhir_json(entry))
    out.write('\n ],\n "resourceType": "Bundle",\n "type": "collection"\n}\n')


def fhir_json(document: dict[str, object]) -> str:
    """A Bundle (or one of its entries) as JSON text, decimals with their own digits (38.30
    as the alerts write it, not 38.3 as a float would be)."""
    from portwatch.alerts.fhir import exact_json

    return exact_json(document, indent=1, sort_keys=True)
