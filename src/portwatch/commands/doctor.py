"""`portwatch doctor`: check the settings and the machine, each as passed or failed."""

from __future__ import annotations

import argparse
import os

HELP = "check settings, state directory, disk, Bluetooth adapter and clock; say what to fix"

EXIT_BAD_SETTINGS = 2  # the issue: a bad settings file gives exit status 2
EXIT_CHECK_FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: $PORTWATCH_CONFIG or /etc/portwatch/portwatch.toml)",
    )
    parser.add_argument(
        "--config-only", action="store_true", help="check only the settings and secrets"
    )


def run(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock
    from portwatch.config import config_path
    from portwatch.doctor import run_checks

    path = config_path(args.config)
    checks = run_checks(path, SystemClock().now(), os.environ, config_only=args.config_only)
    for check in checks:
        print(check.line())
    if not checks[0].passed:
        return EXIT_BAD_SETTINGS
    return 0 if all(check.passed for check in checks) else EXIT_CHECK_FAILED
