"""Options shared by the terminal commands that read the log (status, log, report, export,
summary): where the log is, and what the display needs to know about the setup.

Until `portwatch.config` is on main these come from flags; :func:`display_from` is the one
place that will read the settings file instead.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Final

from portwatch.model import Unit
from portwatch.web.view import DEFAULT_HEALING_DAYS, DEFAULT_THRESHOLD_F, DisplaySettings

if TYPE_CHECKING:
    from portwatch.web.source import ClinicTarget

_RELATIVE: Final = re.compile(r"^(\d+)\s*([dhm])$")
_RELATIVE_UNIT: Final = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


class TimeArgumentError(ValueError):
    """A --since/--until/--placement value that is neither ISO 8601 nor like '24h' or '2d'."""


def parse_time(text: str, now: datetime, zone: tzinfo) -> datetime:
    """ISO 8601 (a time without offset is in `zone`), or '24h' / '2d' / '90m' before `now`.

    Raises:
        TimeArgumentError: naming the text and the accepted forms.
    """
    match = _RELATIVE.match(text.strip())
    if match:
        return now - int(match.group(1)) * _RELATIVE_UNIT[match.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimeArgumentError(
            f"time {text!r}: use ISO 8601 (2026-11-20T08:00+01:00) or a span back from now "
            "(24h, 2d, 90m)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(now.tzinfo)


def add_common(parser: argparse.ArgumentParser) -> None:
    from portwatch.commands._log import add_db_argument

    add_db_argument(parser)
    parser.add_argument(
        "--placement", default=None, help="when the port was placed (ISO 8601): day 1 starts then"
    )
    parser.add_argument("--patient", default="", help="the patient reference, for titles")
    parser.add_argument(
        "--threshold-f",
        type=float,
        default=DEFAULT_THRESHOLD_F,
        help="the fever threshold in °F (default 101.0)",
    )
    parser.add_argument(
        "--healing-days", type=int, default=DEFAULT_HEALING_DAYS, help="the monitored period"
    )
    parser.add_argument(
        "--unit", choices=("F", "C"), default="F", help="show temperatures in °F or °C"
    )


def db_path(args: argparse.Namespace) -> Path:
    from portwatch.commands import _log

    return _log.db_path(args)


def display_from(args: argparse.Namespace, now: datetime) -> DisplaySettings:
    """The display settings for a command run at `now`, in the machine's own time zone.

    Raises:
        TimeArgumentError: for a --placement that cannot be read.
    """
    zone = now.astimezone().tzinfo or now.tzinfo
    assert zone is not None  # `now` is aware (the Clock's contract)
    placement = parse_time(args.placement, now, zone) if args.placement else None
    return DisplaySettings(
        threshold_f=args.threshold_f,
        placement=placement,
        healing_days=args.healing_days,
        unit=Unit(args.unit),
        zone=zone,
        patient=args.patient,
        rule_settings=(("threshold_f", f"{args.threshold_f:.1f}"),),
    )


def add_clinic(parser: argparse.ArgumentParser) -> None:
    """Who the clinic's messages are about and for (until portwatch.config is on main)."""
    parser.add_argument(
        "--clinic", default="Organization/clinic", help="the clinic's FHIR reference"
    )
    parser.add_argument(
        "--clinic-format", choices=("json", "fhir"), default="json", help="the clinic's format"
    )
    parser.add_argument(
        "--thermometer",
        default=None,
        help="the thermometer's Bluetooth address (default: the latest reading's device)",
    )


_ADDRESS: Final = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


def target_from(args: argparse.Namespace, latest_device: str | None) -> ClinicTarget:
    """The clinic target for `portwatch report` and `portwatch export --format fhir`.

    Raises:
        ValueError: without a patient reference, or without a thermometer address.
    """
    import socket

    from portwatch import __version__
    from portwatch.alerts.payloads import AlertContext, ClinicFormat, Thermometer
    from portwatch.web.source import ClinicTarget

    if not args.patient:
        raise ValueError("--patient is needed: the clinic's patient reference, e.g. Patient/123")
    address = args.thermometer or latest_device
    if not address or not _ADDRESS.match(address):
        raise ValueError(
            "--thermometer is needed: the thermometer's Bluetooth address (AA:BB:CC:DD:EE:FF)"
        )
    context = AlertContext(
        patient=args.patient,
        clinic=args.clinic,
        gateway_id=socket.gethostname(),
        gateway_version=__version__,
        thermometer=Thermometer(address=address.upper()),
    )
    return ClinicTarget(context, ClinicFormat(args.clinic_format))
