"""`portwatch config check`: validate the settings file and say what is wrong, line by line.

"ok" means `portwatch run` can start: beyond the values, the files and addresses they name
are checked as `run` uses them (portwatch.settings_check), and the example file's sample
values are refused, each named.
"""

from __future__ import annotations

import argparse
import sys

HELP = "check the settings file: one line per problem, exit status 2 if any"

EXIT_BAD_SETTINGS = 2  # the issue: a bad file is refused with exit status 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action", choices=("check",), help="check: validate the settings and report problems"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: $PORTWATCH_CONFIG or /etc/portwatch/portwatch.toml)",
    )


def run(args: argparse.Namespace) -> int:
    import os

    from portwatch.clock import SystemClock
    from portwatch.config import ConfigError, Settings, config_path, load_settings
    from portwatch.settings_check import (
        placeholder_problems,
        runtime_problems,
        secret_url_problems,
    )

    path, now = config_path(args.config), SystemClock().now()
    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = load_settings(path, now=now)
    except ConfigError as exc:
        problems.extend(exc.problems)
        # A missing secret must not hide the rest: the example file named only its secret,
        # not its placeholders. The values without the secret, checked on.
        try:
            settings = load_settings(path, now=now, secrets=False)
        except ConfigError:
            settings = None  # the values themselves are wrong; their lines say so
    if settings is not None:
        # Everything `run` needs besides the values (issue 21), and no example left (issue 19).
        more = [
            *runtime_problems(settings, os.environ),
            *placeholder_problems(settings),
            *secret_url_problems(settings),  # a password in a file everyone reads (issue 19)
        ]
        problems.extend(line for line in more if line not in problems)
    if problems or settings is None:
        for line in problems:
            print(f"{path}: {line}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    from portwatch.web.view import fmt_time  # the patient's clock, its zone named

    ends = fmt_time(settings.monitoring_ends, settings.zone)
    print(f"{path}: ok (patient {settings.patient.reference}, monitored until {ends})")
    return 0
