"""`portwatch alerts`: what the clinic has and has not accepted; resend; send a test."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from portwatch.log.vocabulary import OutboxStatus

if TYPE_CHECKING:
    from portwatch.log.store import OutboxRow

STATUSES = tuple(status.value for status in OutboxStatus)

HELP = "list clinic alerts (pending, delivered, failed), resend one, or send a test message"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.cli.commands._log import add_db_argument

    db_help = "the log file (default: as for `portwatch add`)"
    add_db_argument(parser)
    parser.add_argument("--status", choices=STATUSES, default=None, help="only rows with it")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = sub.add_parser("list", help="alerts with their status, attempts and last answer")
    listing.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=db_help)
    listing.add_argument("--status", choices=STATUSES, default=argparse.SUPPRESS)
    resend = sub.add_parser("resend", help="queue a failed or delivered alert again (same id)")
    resend.add_argument("id", help="the alert's identifier, as `portwatch alerts list` shows it")
    resend.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=db_help)
    test = sub.add_parser("test", help="send a signed test message now and print the answer")
    test.add_argument("--url", required=True, help="the clinic's endpoint (https, or loopback)")
    test.add_argument("--secret-file", type=Path, required=True, help="the whsec_ secret file")
    test.add_argument("--format", choices=("json", "fhir"), default="json")
    test.add_argument("--ca-bundle", type=Path, default=None, help="private CA bundle (PEM)")
    test.add_argument("--patient", default="Patient/test", help="FHIR reference of the patient")
    test.add_argument(
        "--clinic", default="Organization/clinic", help="FHIR reference of the clinic"
    )
    test.add_argument("--gateway-id", default=None, help="this gateway's name (default: hostname)")


def format_rows(rows: Sequence[OutboxRow]) -> list[str]:
    """One line per outbox row, for a person: what is stuck and what the clinic said."""
    lines = [f"{'id':36}  {'channel':7}  {'kind':18}  {'status':9}  tries  last answer"]
    for row in rows:
        if row.last_error:
            answer = row.last_error
        elif row.last_status is not None:
            answer = f"HTTP {row.last_status}"
        else:
            answer = "-"
        escalated = "  (caregiver told)" if row.escalated_at is not None else ""
        lines.append(
            f"{row.id!s:36}  {row.channel:7}  {row.kind:18}  {row.status:9}  {row.attempts:5}"
            f"  {answer}{escalated}"
        )
    return lines


def _list(args: argparse.Namespace) -> int:
    from portwatch.cli.commands._log import db_path
    from portwatch.log.store import Store

    with Store.open_reader(db_path(args)) as log:
        rows = log.outbox_all(None if args.status is None else OutboxStatus(args.status))
    for line in format_rows(rows):
        print(line)
    return 0


def _resend(args: argparse.Namespace) -> int:
    from portwatch.cli.commands._log import db_path
    from portwatch.clock import SystemClock
    from portwatch.log.store import Store

    with Store.open(db_path(args)) as log:
        log.outbox_requeue(args.id, SystemClock().now())
    print(f"alert {args.id} queued again with the same identifier; the daemon sends it within 60 s")
    return 0


def _test(args: argparse.Namespace) -> int:
    import asyncio
    import socket

    from portwatch import __version__
    from portwatch.alerts.delivery import (
        ClinicEndpoint,
        ClinicSender,
        DeliveryError,
        classify,
        load_secret,
    )
    from portwatch.alerts.payloads import (
        AlertContext,
        ClinicFormat,
        PayloadError,
        Thermometer,
        connectivity_test_alert,
        render,
    )
    from portwatch.alerts.signing import SignatureError, parse_secret
    from portwatch.clock import SystemClock

    clock = SystemClock()
    try:
        endpoint = ClinicEndpoint(
            url=args.url,
            format=ClinicFormat(args.format),
            secret=parse_secret(load_secret(args.secret_file)),
            ca_bundle=args.ca_bundle,
        )
        context = AlertContext(
            patient=args.patient,
            clinic=args.clinic,
            gateway_id=args.gateway_id or socket.gethostname(),
            gateway_version=__version__,
            thermometer=Thermometer(address="00:00:00:00:00:00", model="none (test message)"),
        )
    except (DeliveryError, SignatureError, PayloadError) as exc:
        print(f"portwatch alerts test: {exc}")
        return 2
    alert = connectivity_test_alert(context, clock.now())
    rendered = render(alert, context, endpoint.format)

    sender = ClinicSender(endpoint)
    try:
        answer = asyncio.run(
            sender.send_body(str(alert.id), rendered.body, rendered.content_type, clock.now())
        )
    finally:
        sender.close()
    print(f"test message {alert.id}: {answer.describe()} ({classify(answer).value})")
    return 0 if classify(answer).value == "delivered" else 1


def run(args: argparse.Namespace) -> int:
    from portwatch.cli.commands._log import EXIT_FAILED
    from portwatch.log.store import StoreError

    action = args.action or "list"
    if action == "test":
        return _test(args)
    try:
        return _resend(args) if action == "resend" else _list(args)
    except StoreError as exc:
        print(f"portwatch alerts: {exc}")
        return EXIT_FAILED
