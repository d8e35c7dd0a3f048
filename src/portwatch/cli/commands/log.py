"""`portwatch log`: readings with elevated ones marked, events and decisions, a chart."""

from __future__ import annotations

import argparse

HELP = "the log: readings (observations for streams), events and decisions, and a chart"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.web.cliargs import add_common

    add_common(parser)
    parser.add_argument("--since", default="24h", help="ISO 8601 or a span back (24h, 2d)")
    parser.add_argument("--until", default=None, help="ISO 8601 or a span back (default: now)")
    parser.add_argument(
        "--events", action="store_true", help="interleave link events and decisions"
    )
    parser.add_argument(
        "--chart", action="store_true", help="draw the period as a chart, threshold included"
    )


def run(args: argparse.Namespace) -> int:
    import shutil
    from datetime import timedelta

    from portwatch.clock import SystemClock
    from portwatch.log.store import Store, StoreError
    from portwatch.printable import printable_lines
    from portwatch.web.cliargs import db_path, display_from, parse_time, settings_from
    from portwatch.web.source import chart_data, log_lines
    from portwatch.web.termchart import render_text
    from portwatch.web.text import log_text
    from portwatch.web.view import fmt_time

    now = SystemClock().now()
    try:
        config = settings_from(args, now)
        settings = display_from(args, now, config)
        since = parse_time(args.since, now, settings.zone)
        until = parse_time(args.until, now, settings.zone) if args.until else now
        if until <= since:
            raise ValueError(f"--until ({fmt_time(until, settings.zone)}) is not after --since")
        until += timedelta(microseconds=1)  # include a reading at exactly `until`
        with Store.open_reader(db_path(args, config)) as store:
            lines = log_lines(store, settings, since, until, events=args.events)
            chart = chart_data(store, settings, now, since, until) if args.chart else None
    except (StoreError, ValueError) as exc:
        print(f"portwatch log: {exc}")
        return 1
    if not lines:
        print(
            f"nothing logged from {fmt_time(since, settings.zone)} to "
            f"{fmt_time(until, settings.zone)} in {db_path(args, config)}"
        )
    print(printable_lines(log_text(lines, settings.zone)), end="")  # names from the radio
    if chart is not None:
        width = max(shutil.get_terminal_size().columns, 40)
        print()
        print(render_text(chart, width=min(width, 160)), end="")
    return 0
