"""`portwatch alerts`: what the clinic has and has not accepted; resend; send a test."""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from portwatch.cli.commands._log import EXIT_FAILED
from portwatch.log.vocabulary import OutboxStatus

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

    from portwatch.alerts.delivery import ClinicEndpoint
    from portwatch.alerts.payloads import AlertContext
    from portwatch.config import Settings
    from portwatch.log.store import OutboxRow
    from portwatch.web.view import Delivery, DisplaySettings

STATUSES = tuple(status.value for status in OutboxStatus)

HELP = "list clinic alerts (pending, delivered, failed), resend one, or send a test message"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from portwatch.cli.commands._log import add_db_argument

    db_help = "override: this log file, written directly (default: as for `portwatch add`)"
    config_help = "the settings file whose state directory holds the log"
    add_db_argument(parser)
    parser.add_argument("--status", choices=STATUSES, default=None, help="only rows with it")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = sub.add_parser("list", help="alerts with their status, attempts and last answer")
    listing.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE", help=config_help)
    listing.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=db_help)
    listing.add_argument("--status", choices=STATUSES, default=argparse.SUPPRESS)
    resend = sub.add_parser("resend", help="queue a failed or delivered alert again (same id)")
    resend.add_argument("id", help="the alert's identifier, as `portwatch alerts list` shows it")
    resend.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    resend.add_argument("--db", type=Path, default=argparse.SUPPRESS, help=db_help)
    test = sub.add_parser("test", help="send a signed test message now and print the answer")
    test.add_argument(
        "--url", default=None, help="the clinic's endpoint (https or loopback; default: configured)"
    )
    test.add_argument(
        "--secret-file", type=Path, default=None, help="the whsec_ secret file (with --url)"
    )
    test.add_argument("--format", choices=("json", "fhir"), default=None)
    test.add_argument("--ca-bundle", type=Path, default=None, help="private CA bundle (PEM)")
    test.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="the settings file: its patient, clinic and pinned thermometer (default: "
        "$PORTWATCH_CONFIG or /etc/portwatch/portwatch.toml when it exists)",
    )
    test.add_argument(
        "--patient", default=None, help="FHIR reference of the patient (default: configured)"
    )
    test.add_argument("--clinic", default=None, help="FHIR reference of the clinic")
    test.add_argument("--gateway-id", default=None, help="this gateway's name (default: hostname)")


def format_rows(rows: Sequence[OutboxRow], shown: DisplaySettings | None = None) -> list[str]:
    """One line per outbox row, for a person: what is stuck and what the clinic said; with
    `shown`, a notice whose channel has no address says so instead of "-"."""
    from portwatch.web.text import NOT_SENT_ROW, row_title  # "fever alert", not "fever.confirmed"

    lines = [f"{'id':36}  {'channel':7}  {'what':28}  {'status':9}  tries  last answer"]
    for row in rows:
        if row.last_error:
            answer = row.last_error
        elif row.last_status is not None:
            answer = f"HTTP {row.last_status}"
        elif shown is not None and row.status == "pending" and not shown.addressed(row.channel):
            answer = NOT_SENT_ROW
        else:
            answer = "-"
        escalated = "  (caregiver told)" if row.escalated_at is not None else ""
        lines.append(
            f"{row.id!s:36}  {row.channel:7}  {row_title(row.kind, row.body, row.channel):28.28}  "
            f"{row.status:9}  {row.attempts:5}  {answer}{escalated}"
        )
    return lines


def _list(args: argparse.Namespace) -> int:
    from portwatch.clock import SystemClock
    from portwatch.log.store import Store
    from portwatch.web.cliargs import db_path, settings_from
    from portwatch.web.source import delivery, is_alert

    now = SystemClock().now()
    config = settings_from(args, now)  # the patient's zone, where the log is
    with Store.open_reader(db_path(args, config)) as log:
        rows = log.outbox_all(None if args.status is None else OutboxStatus(args.status))
        everything = log.outbox_all()
    shown = _shown(config, now)
    # issue 18: heartbeats are not alerts; they only say whether the clinic can be reached
    for line in format_rows([row for row in rows if is_alert(row)], shown):
        print(line)
    told = delivery(everything, now, shown)
    for line in delivery_lines(told, shown.zone):
        print(line)
    return 0


def _shown(config: Settings | None, now: datetime) -> DisplaySettings:
    """The zone times are shown in and the notice channels that have an address: the
    settings file's; without one, the machine's zone and every channel taken as set up."""
    from portwatch.web.cliargs import person_zone
    from portwatch.web.settings import notice_addresses
    from portwatch.web.view import DisplaySettings

    addresses = notice_addresses(config) if config is not None else None
    return DisplaySettings(zone=person_zone(config, now), notice_addresses=addresses)


def delivery_lines(told: Delivery, zone: tzinfo) -> list[str]:
    """Whether the clinic can be reached, and the notices never sent, on the patient's clock."""
    from portwatch.web.text import NO_ADDRESS, plural
    from portwatch.web.view import fmt_time

    lines = []
    if told.clinic_silent_since is not None:
        lines.append(f"gateway silent since {fmt_time(told.clinic_silent_since, zone)}")
    elif told.clinic_last_reached is not None:
        lines.append(f"clinic last reached at {fmt_time(told.clinic_last_reached, zone)}")
    if told.notices_unaddressed:
        unsent = plural(told.notices_unaddressed, "notice")
        lines.append(f"{unsent} to the caregiver or patient not sent: {NO_ADDRESS}")
    return lines


def _resend(args: argparse.Namespace) -> int:
    """Through the service (sent at once), else requeued in the log for its next start."""
    from portwatch.cli.commands._log import log_place, offline_note
    from portwatch.cli.commands._through import CommandFailed, ask_service
    from portwatch.clock import SystemClock
    from portwatch.log.store import Store

    now = SystemClock().now()
    place = log_place(args, now)
    try:
        answer = ask_service(place, "POST", f"alerts/{quote(args.id, safe='')}/resend")
    except CommandFailed as exc:
        print(f"portwatch alerts: {exc}")
        return EXIT_FAILED
    if answer is not None:
        print(
            f"alert {args.id} queued again with the same identifier; the running portwatch "
            "service is sending it now"
        )
        return 0
    with Store.open(place.db) as log:
        log.outbox_requeue(args.id, now)
    print(
        offline_note(
            place, "the alert is queued again in the log; the service sends it when it starts"
        )
    )
    print(f"alert {args.id} queued again with the same identifier")
    return 0


def _test_context(args: argparse.Namespace, now: datetime) -> AlertContext:
    """Who the test message is about: the settings file's patient, clinic and pinned
    thermometer when there is one (issue 18), each overridden by its flag; without one,
    Patient/test and Organization/clinic. The message itself says it is a test."""
    import dataclasses

    from portwatch import __version__
    from portwatch.alerts.payloads import AlertContext, Thermometer
    from portwatch.identity import gateway_id
    from portwatch.web.cliargs import settings_from

    args.config = getattr(args, "config", None)
    settings = settings_from(args, now)
    if settings is None:
        return AlertContext(
            patient=args.patient or "Patient/test",
            clinic=args.clinic or "Organization/clinic",
            gateway_id=args.gateway_id or gateway_id(args.patient or "Patient/test"),
            gateway_version=__version__,
            thermometer=Thermometer(address="00:00:00:00:00:00", model="none (test message)"),
        )
    from portwatch.web.settings import clinic_target

    context = clinic_target(settings, args.gateway_id).context
    return dataclasses.replace(
        context, patient=args.patient or context.patient, clinic=args.clinic or context.clinic
    )


def _test_endpoint(args: argparse.Namespace, now: datetime) -> ClinicEndpoint:
    """The clinic to test: the one named by ``--url`` and ``--secret-file``, else the one the
    service sends to (the settings' clinic with its secret from the credentials, as
    ``portwatch setup`` wrote them), so that "is the clinic reachable?" needs no flags.

    Raises:
        ValueError: ``--url`` without ``--secret-file``, or no clinic is configured
            (ConfigError, DeliveryError and SignatureError are ValueErrors too).
    """
    from portwatch.alerts.delivery import ClinicEndpoint, load_secret
    from portwatch.alerts.payloads import ClinicFormat
    from portwatch.alerts.signing import parse_secret
    from portwatch.config import clinic_endpoint
    from portwatch.web.cliargs import settings_from

    if args.url is not None:
        if args.secret_file is None:
            raise ValueError("--url needs --secret-file (the clinic's whsec_ secret)")
        return ClinicEndpoint(
            url=args.url,
            format=ClinicFormat(args.format or "json"),
            secret=parse_secret(load_secret(args.secret_file)),
            ca_bundle=args.ca_bundle,
        )
    args.config = getattr(args, "config", None)
    settings = settings_from(args, now)
    if settings is None or settings.clinic.url is None:
        raise ValueError("no clinic is configured: give --config FILE, or --url and --secret-file")
    endpoint = clinic_endpoint(settings, os.environ)
    if args.format is not None:
        endpoint = dataclasses.replace(endpoint, format=ClinicFormat(args.format))
    if args.ca_bundle is not None:
        endpoint = dataclasses.replace(endpoint, ca_bundle=args.ca_bundle)
    return endpoint


def _test(args: argparse.Namespace) -> int:
    import asyncio

    from portwatch.alerts.delivery import (
        ClinicSender,
        DeliveryError,
        classify,
    )
    from portwatch.alerts.payloads import (
        connectivity_test_alert,
        render,
    )
    from portwatch.alerts.policy import clock_refused
    from portwatch.alerts.signing import SignatureError
    from portwatch.clock import SystemClock

    clock = SystemClock()
    try:
        endpoint = _test_endpoint(args, clock.now())
        context = _test_context(args, clock.now())
    except (DeliveryError, SignatureError, ValueError) as exc:  # PayloadError, ConfigError
        print(f"portwatch alerts test: {exc}")
        return 2
    alert = connectivity_test_alert(context, clock.now())
    rendered = render(alert, context, endpoint.format)

    sender = ClinicSender(endpoint, signing_time=clock.now)  # the wall clock the clinic checks
    try:
        answer = asyncio.run(sender.send_body(str(alert.id), rendered.body, rendered.content_type))
    finally:
        sender.close()
    print(f"test message {alert.id}: {answer.describe()} ({classify(answer).value})")
    if clock_refused(answer):
        print(
            "the clinic refused the signature's time: this gateway's clock or the clinic's "
            "is more than 5 minutes off (`portwatch doctor` checks this one's)"
        )
    return 0 if classify(answer).value == "delivered" else 1


def run(args: argparse.Namespace) -> int:
    from portwatch.log.store import StoreError

    action = args.action or "list"
    if action == "test":
        return _test(args)
    try:
        return _resend(args) if action == "resend" else _list(args)
    except (StoreError, ValueError) as exc:  # ValueError: ConfigError, an unknown id
        print(f"portwatch alerts: {exc}")
        return EXIT_FAILED
