"""Options shared by the terminal commands that read the log (status, log, report, export,
summary): the settings file, where the log is, and what the display needs to know.

With a settings file (``--config FILE``, ``$PORTWATCH_CONFIG`` or the default path, when it
exists) everything comes from it, as the daemon reads it; flags given on the command line
override it. Without one, the flags alone describe the setup.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    # The display's types are imported where the display is made, not when a command's
    # options are (issue 20: `portwatch status` asking the service needs neither).
    from portwatch.config import Settings
    from portwatch.web.source import ClinicTarget
    from portwatch.web.view import DisplaySettings

_RELATIVE: Final = re.compile(r"^(\d+)\s*([dhm])$")
_RELATIVE_UNIT: Final = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
_ADDRESS: Final = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


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
    from portwatch.cli.commands._log import add_db_argument

    add_db_argument(parser)  # --config FILE (the flags below override it) and --db PATH
    parser.add_argument(
        "--placement", default=None, help="when the port was placed (ISO 8601): day 1 starts then"
    )
    parser.add_argument("--patient", default=None, help="the patient reference (Patient/123)")
    parser.add_argument(
        "--threshold-f", type=float, default=None, help="the fever threshold in °F (101.0)"
    )
    parser.add_argument(
        "--healing-days", type=int, default=None, help="the monitored period in days (10)"
    )
    parser.add_argument("--unit", choices=("F", "C"), default=None, help="show °F or °C")


def add_clinic(parser: argparse.ArgumentParser) -> None:
    """Who the clinic's messages are about and for, when there is no settings file."""
    parser.add_argument("--clinic", default=None, help="the clinic's FHIR reference")
    parser.add_argument(
        "--clinic-format", choices=("json", "fhir"), default=None, help="the clinic's format"
    )
    parser.add_argument(
        "--thermometer",
        default=None,
        help="the thermometer's Bluetooth address (default: the latest reading's device)",
    )


def settings_from(args: argparse.Namespace, now: datetime) -> Settings | None:
    """The settings file's settings, or None when there is none to read (a clinic secret
    this user may not read is no reason to refuse: the service holds it).

    Raises:
        ConfigError: the file named by --config is missing, or a settings file is invalid.
    """
    from portwatch.cli.commands._log import command_settings

    return command_settings(args.config, now)


def db_path(args: argparse.Namespace, settings: Settings | None = None) -> Path:
    from portwatch.cli.commands import _log
    from portwatch.log.store import DB_FILE_NAME

    if args.db is None and settings is not None:
        return settings.store.state_directory / DB_FILE_NAME
    return _log.db_path(args)


def person_zone(settings: Settings | None, now: datetime) -> tzinfo:
    """The zone a command shows times in: the patient's from the settings file, else the
    machine's own (a command run without settings is run by the person at the machine)."""
    if settings is not None:
        return settings.zone
    local = now.astimezone().tzinfo
    assert local is not None  # astimezone() always gives a zone
    return local


def person_time(
    when: datetime, settings: Settings | None, now: datetime, *, seconds: bool = False
) -> str:
    """`when` on the patient's clock (:func:`person_zone`), its zone named:
    "Fri 20 Nov 08:30 CET", or "08:30:15 CET" with `seconds` (a time moments ago)."""
    from portwatch.web.view import fmt_time

    zone = person_zone(settings, now)
    if not seconds:
        return fmt_time(when, zone)
    local = when.astimezone(zone)
    return f"{local:%H:%M:%S} {local.tzname() or ''}".rstrip()


def display_from(
    args: argparse.Namespace, now: datetime, settings: Settings | None = None
) -> DisplaySettings:
    """The display settings: the settings file's, with the flags given laid over them.

    Without a settings file, times are shown in the machine's own time zone.

    Raises:
        TimeArgumentError: for a --placement that cannot be read.
    """
    from dataclasses import replace  # not at import: `status` asking the service needs none

    from portwatch.model import Unit
    from portwatch.web.view import DEFAULT_HEALING_DAYS, DEFAULT_THRESHOLD_F, DisplaySettings

    if settings is not None:
        from portwatch.web.settings import display_settings

        base = display_settings(settings)
    else:
        base = DisplaySettings(
            threshold_f=DEFAULT_THRESHOLD_F,
            healing_days=DEFAULT_HEALING_DAYS,
            zone=person_zone(None, now),
        )
    display = replace(
        base,
        placement=(
            parse_time(args.placement, now, base.zone) if args.placement else base.placement
        ),
        threshold_f=args.threshold_f if args.threshold_f is not None else base.threshold_f,
        healing_days=args.healing_days if args.healing_days is not None else base.healing_days,
        unit=Unit(args.unit) if args.unit else base.unit,
        patient=args.patient or base.patient,
    )
    if settings is None:
        display = replace(display, rule_settings=(("threshold_f", f"{display.threshold_f:.1f}"),))
    return display


def target_from(
    args: argparse.Namespace, latest_device: str | None, settings: Settings | None = None
) -> ClinicTarget:
    """The clinic target for `portwatch report` and `portwatch export --format fhir`.

    Raises:
        ValueError: without a patient reference or a thermometer address (no settings file),
            or a settings file without a clinic recipient (ConfigError).
    """
    from dataclasses import replace

    if settings is not None:
        from portwatch.alerts.payloads import Thermometer
        from portwatch.web.settings import clinic_target

        target = clinic_target(settings)
        chosen = getattr(args, "thermometer", None)
        if chosen:  # --thermometer overrides the settings file, as every flag does
            if not _ADDRESS.match(chosen):
                raise ValueError(f"--thermometer {chosen!r}: expected AA:BB:CC:DD:EE:FF")
            thermometer = Thermometer(address=chosen.upper())
            target = replace(target, context=replace(target.context, thermometer=thermometer))
        return target

    from portwatch import __version__
    from portwatch.alerts.payloads import AlertContext, ClinicFormat, Thermometer
    from portwatch.identity import gateway_id
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
        clinic=args.clinic or "Organization/clinic",
        gateway_id=gateway_id(args.patient),
        gateway_version=__version__,
        thermometer=Thermometer(address=address.upper()),
    )
    return ClinicTarget(context, ClinicFormat(args.clinic_format or "json"))
