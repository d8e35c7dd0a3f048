"""Exports of the log: readings as CSV in the format `portwatch import` reads, or the
observations as one FHIR R4 ``collection`` Bundle.

The log is read one day at a time so that ten days of a one-per-second stream never sit
in memory at once.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from typing import Final, TextIO

from portwatch.fever.settings import DEFAULTS, RuleSettings
from portwatch.fever.windows import window_start
from portwatch.log.store import Store
from portwatch.model import Observation, Reading, ReadingKind
from portwatch.web.source import ClinicTarget, stream_observations

# The import format (store/csvio.py): required columns, then the optional ones we know.
CSV_COLUMNS: Final = ("time", "temperature", "unit", "kind", "device", "site", "interval")
CHUNK: Final = timedelta(days=1)
# The log keeps the monitored period plus 90 days (issue 4, retention): "everything"
# reaches back this far.
ALL_SPAN: Final = timedelta(days=10 + 90)


def write_csv(store: Store, out: TextIO, since: datetime, until: datetime) -> tuple[int, int]:
    """Write the valid readings in [since, until) to `out`; returns (written, left out).

    Readings without a temperature or marked invalid are left out: the import format has
    no place for a reason, and `portwatch log` shows them with theirs.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    written = invalid = 0
    start = since
    while start < until:
        end = min(start + CHUNK, until)
        for stored in store.readings(start, end):
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
        start = end
    return written, invalid


def observations(
    store: Store, since: datetime, until: datetime, rule: RuleSettings = DEFAULTS
) -> list[Observation]:
    """The observations in [since, until), in time order (fever-rule.md §2).

    Valid spot readings one by one; stream samples as the rule forms them with ``rule``'s
    ``window`` and ``min_samples`` (:func:`portwatch.fever.windows.summarise`), each window
    read whole: chunks end on window boundaries. Provisional and invalid readings are not
    observations. (The site offset is the rule's and is not applied here: the values are
    the thermometer's own.)
    """
    out: list[Observation] = []
    start = window_start(since, rule.window)
    while start < until:
        end = min(start + CHUNK, until)
        if end < until:
            end = max(window_start(end, rule.window), start + rule.window)
        spots: list[Reading] = []
        stream: list[Reading] = []
        for stored in store.readings(start, end, kinds=(ReadingKind.SPOT, ReadingKind.STREAM)):
            r = stored.reading
            if r.invalid_reason is not None or r.celsius is None or r.value is None:
                continue
            (spots if r.kind is ReadingKind.SPOT else stream).append(r)
        out.extend(
            Observation(r.time, r.celsius, r.value, r.unit, r.device, r.site)
            for r in spots
            if r.celsius is not None and r.value is not None and r.time >= since
        )
        # a window counts where it ends: whole when it ends by `until`, read whole from `since`
        out.extend(o for o in stream_observations(stream, rule) if since <= o.time <= until)
        start = end
    out.sort(key=lambda o: o.time)
    return out


def fhir_collection(observations_: list[Observation], target: ClinicTarget) -> dict[str, object]:
    """One FHIR R4 ``collection`` Bundle: the thermometer and gateway Devices and one
    ``bodytemp`` Observation per observation, built by the alert Bundles' own public
    builders so that both follow the same rules (alerts.md, "FHIR R4")."""
    from fhir.resources.R4B.bundle import Bundle

    from portwatch.alerts import fhir

    context = target.context
    thermometer = fhir.thermometer_device(context)
    gateway = fhir.gateway_device(context)
    entries = [fhir.collection_entry(thermometer), fhir.collection_entry(gateway)]
    seen: set[str] = set()
    for observation in observations_:
        built = fhir.body_temperature(context, observation, thermometer, gateway)
        if built.full_url not in seen:
            seen.add(built.full_url)
            entries.append(fhir.collection_entry(built))
    document = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    checked: dict[str, object] = Bundle.model_validate(document).model_dump(
        mode="json", exclude_none=True
    )
    return checked
