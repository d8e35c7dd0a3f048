"""`portwatch status`: one screen about the patient now."""

from __future__ import annotations

import argparse

HELP = "one screen: day N, last temperature, link and battery, fever, what the clinic has"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.web.cliargs import add_common

    add_common(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="one JSON object: day, period_days, fever, recheck_due, last_reading, "
        "thermometer, clinic_undelivered, notices_waiting, clinic_last_reached",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from portwatch.clock import SystemClock
    from portwatch.log.store import Store, StoreError
    from portwatch.web.cliargs import db_path, display_from, settings_from
    from portwatch.web.source import status_data
    from portwatch.web.text import status_text

    now = SystemClock().now()
    try:
        config = settings_from(args, now)
        settings = display_from(args, now, config)
        reminder = None
        if config is not None:
            from portwatch.web.settings import next_reminder

            reminder = next_reminder(config)(now)
        with Store.open_reader(db_path(args, config)) as store:
            status = status_data(store, settings, now, reminder)
    except (StoreError, ValueError) as exc:
        print(f"portwatch status: {exc}", file=sys.stderr if args.json else sys.stdout)
        return 1
    if args.json:
        import json

        from portwatch.web.text import status_json

        print(json.dumps(status_json(status), indent=2))
        return 0
    print(status_text(status), end="")
    return 0
