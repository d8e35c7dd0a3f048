"""`portwatch report`: a symptom report that goes to the clinic as an urgent alert."""

from __future__ import annotations

import argparse

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
    from portwatch.clock import SystemClock
    from portwatch.log.store import Store, StoreError
    from portwatch.web.app import ReportRejectedError, parse_report
    from portwatch.web.cliargs import db_path, settings_from, target_from
    from portwatch.web.source import submit_symptom_report

    now = SystemClock().now()
    try:
        symptoms, note = parse_report(args.symptoms, args.note)
        config = settings_from(args, now)
        with Store.open(db_path(args, config)) as store:
            latest = store.latest_reading()
            target = target_from(args, latest.reading.device if latest else None, config)
            entry = submit_symptom_report(store, symptoms, note, now, target=target)
    except ReportRejectedError as exc:
        print(f"portwatch report: {exc}")
        return 2
    except (StoreError, ValueError) as exc:
        print(f"portwatch report: {exc}")
        return 1
    print(f"Queued as urgent alert {entry.id}; the running portwatch service sends it now")
    print("and keeps trying until the clinic has it (see `portwatch status`).")
    return 0
