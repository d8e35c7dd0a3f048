"""`portwatch summary`: the visit summary for the post-procedure check, as one HTML page."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "the visit summary for the day 7-10 check, printable (HTML)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.web.cliargs import add_common

    add_common(parser)
    parser.add_argument(
        "--out", type=Path, default=None, help="write to FILE.html (default: standard output)"
    )


def run(args: argparse.Namespace) -> int:
    import os

    from portwatch.clock import SystemClock
    from portwatch.log.store import Store, StoreError
    from portwatch.web.cliargs import db_path, display_from, settings_from
    from portwatch.web.pages import summary_page
    from portwatch.web.source import summary_data

    now = SystemClock().now()
    try:
        config = settings_from(args, now)
        settings = display_from(args, now, config)
        with Store.open_reader(db_path(args, config)) as store:
            page = summary_page(summary_data(store, settings, now), standalone=True)
        if args.out is None:
            print(page, end="")
            return 0
        # health data: readable by its owner only, like the log itself
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(page)
    except BrokenPipeError:
        raise  # the reader closed the pipe: main() exits 141 without a word
    except (StoreError, ValueError, OSError) as exc:
        print(f"portwatch summary: {exc}")
        return 1
    print(f"wrote {args.out}; open it in a browser and print it (1-2 pages)")
    return 0
