"""`portwatch setup`: the guided first run (issue 19), asked at the terminal or from flags."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "set up this Pi: ask what only you know, make the secrets, pin the thermometer, start"

# Flags of the questions (portwatch.setup.answers.QUESTIONS), in the order they are asked.
_QUESTION_FLAGS: tuple[tuple[str, str], ...] = (
    ("--patient", "the patient as the clinic knows them: Patient/<id>"),
    ("--timezone", "the patient's time zone, such as Europe/Berlin (default: this machine's)"),
    (
        "--placement",
        "when the port was placed: YYYY-MM-DD HH:MM on the patient's clock, "
        "ISO 8601, or now (the default on a first setup)",
    ),
    ("--clinic-url", "where the clinic takes alerts (https)"),
    ("--clinic-recipient", "the clinic as it names itself: Organization/<id>"),
    ("--clinic-format", "json (signed JSON, the default) or fhir"),
    (
        "--caregiver-url",
        "where the caregiver's notices go (default on a first setup: a new private ntfy topic)",
    ),
    ("--unit", "temperatures shown in C or F"),
    (
        "--web-address",
        "where the page listens: lan (phones at home), local (this Pi only), or host:port",
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--non-interactive",
        action="store_true",
        help="ask nothing: take the flags; on a configured Pi, change only what is flagged",
    )
    for flag, text in _QUESTION_FLAGS:
        parser.add_argument(flag, metavar="VALUE", help=text)
    parser.add_argument(
        "--clinic-secret-file",
        type=Path,
        metavar="FILE",
        help="a file holding the clinic's signing secret (whsec_...), instead of pasting it",
    )
    pair = parser.add_mutually_exclusive_group()
    pair.add_argument("--thermometer", metavar="ADDRESS", help="pin this thermometer")
    pair.add_argument("--skip-pair", action="store_true", help="pin no thermometer now")
    parser.add_argument(
        "--virtual",
        action="store_true",
        help="the virtual radio and its demo thermometers (tests, trying out)",
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, metavar="N", help="scan for N seconds (default 10)"
    )
    _add_where_arguments(parser)


def _add_where_arguments(parser: argparse.ArgumentParser) -> None:
    """Where setup writes, what it checks and starts, where the link goes."""
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        metavar="DIR",
        help="write under DIR instead of / (an image being prepared, tests)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("/etc/portwatch/portwatch.toml"),
        metavar="FILE",
        help="the settings file, as the system sees it",
    )
    parser.add_argument(
        "--state-directory",
        type=Path,
        metavar="DIR",
        help="where the log lives (default /var/lib/portwatch)",
    )
    parser.add_argument(
        "--no-send", action="store_true", help="do not send the clinic a signed test message"
    )
    parser.add_argument(
        "--no-enable", action="store_true", help="do not enable and start the service"
    )
    parser.add_argument(
        "--qr-dir",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="where the phone link's QR code goes as SVG and PNG (default: here)",
    )
    parser.add_argument(
        "--link-valid",
        default="1d",
        metavar="DURATION",
        help="how long the phone link works (default 1d, at most 7d)",
    )
    parser.add_argument(
        "--service-user",
        default="portwatch",
        metavar="USER",
        help="the user the service runs as (owns the state directory)",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from portwatch.clock import SystemClock
    from portwatch.config import parse_duration
    from portwatch.setup.asking import Asker, NoAnswerError
    from portwatch.setup.flow import EXIT_BAD_INPUT, Options, SetupError, run_setup

    given = {
        flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_"))
        for flag, _ in _QUESTION_FLAGS
        if getattr(args, flag[2:].replace("-", "_")) is not None
    }
    try:
        valid = parse_duration(args.link_valid)
    except ValueError as exc:
        print(f"portwatch setup: --link-valid: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for path, flag in ((args.root, "--root"), (args.config, "--config")):
        if not path.is_absolute():
            print(f"portwatch setup: {flag} {path}: must be an absolute path", file=sys.stderr)
            return EXIT_BAD_INPUT
    opts = Options(
        root=args.root,
        config=args.config,
        state_directory=args.state_directory,
        interactive=not args.non_interactive,
        given=given,
        clinic_secret_file=args.clinic_secret_file,
        thermometer=args.thermometer,
        virtual=args.virtual,
        skip_pair=args.skip_pair,
        seconds=args.seconds,
        send_test=not args.no_send,
        enable=not args.no_enable,
        qr_dir=args.qr_dir,
        link_valid=valid,
        service_user=args.service_user,
    )
    try:
        return run_setup(opts, Asker(sys.stdin, sys.stdout), SystemClock().now())
    except SetupError as exc:
        print(f"portwatch setup: {exc}", file=sys.stderr)
        return exc.status
    except NoAnswerError as exc:
        print(f"portwatch setup: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PermissionError as exc:
        print(f"portwatch setup: {exc.filename}: {exc.strerror}; run it with sudo", file=sys.stderr)
        return EXIT_BAD_INPUT
