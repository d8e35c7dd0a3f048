"""`portwatch doctor`: check the settings and the machine, each as passed or failed."""

from __future__ import annotations

import argparse
import os

HELP = "check settings, log, disk, Bluetooth, clock, thermometer and clinic; say what to fix"

SEND_NOTICE_HELP = "also send the caregiver and the patient a test notice (it reaches them)"

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
    parser.add_argument(
        "--no-send", action="store_true", help="do not send the clinic a signed test message"
    )
    parser.add_argument("--send-notice", action="store_true", help=SEND_NOTICE_HELP)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import socket

    from portwatch.clock import SystemClock
    from portwatch.config import config_path
    from portwatch.service.doctor import run_checks

    path = config_path(args.config)
    checks = asyncio.run(
        run_checks(
            path,
            SystemClock().now(),
            os.environ,
            config_only=args.config_only,
            send_test=not args.no_send,
            send_notice=args.send_notice,
            gateway_id=socket.gethostname(),
        )
    )
    for check in checks:
        print(check.line())
    if not checks[0].passed:
        return EXIT_BAD_SETTINGS
    return 0 if all(check.passed for check in checks) else EXIT_CHECK_FAILED
