"""`portwatch report`: a symptom report that goes to the clinic as an urgent alert."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portwatch.cli.commands._log import LogPlace
    from portwatch.model import Symptom

HELP = "report symptoms at the port site: an urgent alert to the clinic"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.model import Symptom
    from portwatch.web.cliargs import add_clinic, add_common

    add_common(parser)
    add_clinic(parser)
    parser.add_argument(
        "symptoms",
        nargs="+",
        metavar="SYMPTOM",
        help="one or more of: " + ", ".join(s.value for s in Symptom),
    )
    parser.add_argument("--note", default="", help="what you see, in a few words")


def run(args: argparse.Namespace) -> int:
    from portwatch.cli.commands._log import log_place
    from portwatch.cli.commands._through import CommandFailed, ask_service
    from portwatch.clock import SystemClock
    from portwatch.web.app import ReportRejectedError, parse_report

    now = SystemClock().now()
    try:
        symptoms, note = parse_report(args.symptoms, args.note)
        place = log_place(args, now)
        body = {"symptoms": [s.value for s in symptoms], "note": note}
        answer = ask_service(place, "POST", "reports", body)
    except (ReportRejectedError, CommandFailed) as exc:
        print(f"portwatch report: {exc}")
        return 2
    except ValueError as exc:
        print(f"portwatch report: {exc}")
        return 1
    if answer is not None:
        print(f"Sent as urgent alert {answer['id']}: the running portwatch service is sending")
        print("it now and keeps trying until the clinic has it (see `portwatch status`).")
        return 0
    return _queue(args, place, symptoms, note, now)


def _queue(
    args: argparse.Namespace,
    place: LogPlace,
    symptoms: tuple[Symptom, ...],
    note: str,
    now: datetime,
) -> int:
    """No service runs: queue the alert in the log; the service sends it when it starts."""
    from portwatch.cli.commands._log import offline_note
    from portwatch.log.store import Store, StoreError
    from portwatch.web.cliargs import settings_from, target_from
    from portwatch.web.source import submit_symptom_report

    try:
        config = place.settings if place.settings is not None else settings_from(args, now)
        with Store.open(place.db) as store:
            latest = store.latest_reading()
            target = target_from(args, latest.reading.device if latest else None, config)
            entry = submit_symptom_report(store, symptoms, note, now, target=target)
    except (StoreError, ValueError) as exc:
        print(f"portwatch report: {exc}")
        return 1
    print(
        offline_note(
            place,
            "the report is queued in the log; the service sends it to the clinic when it starts",
        )
    )
    print(f"Queued as urgent alert {entry.id}; it is retried until the clinic has it.")
    return 0
