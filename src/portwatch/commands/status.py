"""`portwatch status`: one screen about the patient now."""

from __future__ import annotations

import argparse

HELP = "one screen: day N, last temperature, link and battery, fever, undelivered alerts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.web.cliargs import add_common

    add_common(parser)


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock
    from portwatch.store import Store, StoreError
    from portwatch.web.cliargs import db_path, display_from
    from portwatch.web.source import status_data
    from portwatch.web.text import status_text

    now = SystemClock().now()
    try:
        settings = display_from(args, now)
        with Store.open_reader(db_path(args)) as store:
            status = status_data(store, settings, now)
    except (StoreError, ValueError) as exc:
        print(f"portwatch status: {exc}")
        return 1
    print(status_text(status), end="")
    return 0
