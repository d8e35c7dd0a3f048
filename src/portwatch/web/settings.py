"""The caregiver page's and the terminal commands' settings, read from portwatch.config.

The one place that maps the settings file onto what :mod:`portwatch.web` takes: the display
(placement, zone, unit, threshold, the rule's settings in force), who a symptom report is
about (:class:`~portwatch.web.source.ClinicTarget`), how the page is served
(:class:`~portwatch.web.app.WebSettings`, its token from a file), and the next care
reminder for the status screen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from portwatch.alerts.delivery import load_secret
from portwatch.alerts.notices import NOTICES, NoticeKind
from portwatch.alerts.payloads import Thermometer
from portwatch.config import ConfigError, Settings, alert_context
from portwatch.identity import gateway_id as installation_id
from portwatch.service.care import reminder_plan
from portwatch.web.source import ClinicTarget
from portwatch.web.view import DisplaySettings

if TYPE_CHECKING:
    # The page's server (aiohttp) is imported where the page is served, not by the
    # terminal commands that read the settings (issue 20: ~250 ms of `portwatch status`).
    from portwatch.web.app import WebSettings

__all__ = [
    "WEB_TOKEN_CREDENTIAL",
    "clinic_target",
    "display_settings",
    "next_reminder",
    "pinned_address",
    "web_settings",
]

# systemd credential name of the page's access token (LoadCredential=web-token:FILE), used
# when [web] token_file is not set; the same scheme as the clinic secret.
WEB_TOKEN_CREDENTIAL: Final = "web-token"  # noqa: S105  (a credential's name, not a secret)
# How far ahead the status screen looks for the next care reminder: past the monitored
# period, so the first monthly flush shows too (care.py: FLUSH_EVERY_MONTHS).
REMINDER_HORIZON: Final = timedelta(days=45)


def display_settings(settings: Settings) -> DisplaySettings:
    """What the pages show, from the settings file."""
    rule = settings.rule.rule_settings()
    return DisplaySettings(
        threshold_f=rule.threshold_f,
        placement=settings.patient.placement,
        healing_days=rule.healing_days,
        unit=settings.display.unit,
        zone=settings.zone,
        patient=settings.patient.reference,
        pair_window=rule.pair_window,
        rule_settings=rule.as_pairs(),
        thermometer=pinned_address(settings),
        stale_after=settings.watch.stale_after,
        spot_stale_after=settings.watch.spot_stale_after,
        notice_addresses=notice_addresses(settings),
    )


def notice_addresses(settings: Settings) -> frozenset[str]:
    """The notice channels that have somewhere to go: the caregiver's ("notify") with a
    caregiver URL, the patient's with a patient URL (alerts.md, "Who is told what")."""
    from portwatch.log.vocabulary import Channel

    urls = {
        Channel.NOTIFY: settings.notify.caregiver_url,
        Channel.PATIENT: settings.notify.patient_url,
    }
    return frozenset(str(channel) for channel, url in urls.items() if url is not None)


def pinned_address(settings: Settings) -> str | None:
    """The thermometer readings count from: the configured address, else the one pinned at
    pairing (``<state_dir>/pinned.json``); None while none is pinned."""
    if settings.bluetooth.address:
        return settings.bluetooth.address
    from portwatch.ble.pin import PinError, load_pin

    try:
        return load_pin(settings.store.state_directory).address
    except PinError:
        return None


def clinic_target(settings: Settings, gateway_id: str | None = None) -> ClinicTarget:
    """Who symptom reports are about and how the clinic takes them.

    Raises:
        ConfigError: no clinic recipient configured.
    """
    patient = settings.patient.reference
    context = alert_context(settings, gateway_id or installation_id(patient))
    pinned = pinned_address(settings)
    if pinned is not None:  # the pinned thermometer, not the placeholder (issue 18)
        context = replace(context, thermometer=Thermometer(address=pinned.upper()))
    return ClinicTarget(context, settings.clinic.format)


def web_settings(settings: Settings, environ: Mapping[str, str]) -> WebSettings:
    """How the page is served: its address and its access token (read from a file).

    Raises:
        ConfigError: no token file (nor systemd credential), or one that cannot be read or
            is too short; the message names the file, never the token.
    """
    configured = settings.web.token_file
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if configured is None and not directory:
        raise ConfigError(
            [
                "web.token_file: missing; the caregiver page needs an access token "
                f"(or systemd LoadCredential={WEB_TOKEN_CREDENTIAL})"
            ]
        )
    from portwatch.web.app import WebSettings

    path = configured if configured is not None else Path(str(directory)) / WEB_TOKEN_CREDENTIAL
    host, _, port = settings.web.address.rpartition(":")
    try:
        return WebSettings(token=load_secret(path), host=host.strip("[]"), port=int(port))
    except ValueError as exc:  # DeliveryError (unreadable) or a token too short
        raise ConfigError([f"web.token_file: {path}: {exc}"]) from exc


def next_reminder(settings: Settings) -> Callable[[datetime], tuple[datetime, str] | None]:
    """For the status screen: the next care reminder after `now`, with its title."""
    placement = settings.patient.placement
    zone, at = settings.zone, settings.notify.reminders_at
    in_use = settings.patient.port_in_regular_use

    def upcoming(now: datetime) -> tuple[datetime, str] | None:
        plan = reminder_plan(
            placement, now + REMINDER_HORIZON, zone=zone, at=at, port_in_regular_use=in_use
        )
        for item in plan:
            if item.due > now:
                return item.due, NOTICES[NoticeKind(item.reminder.value)].title
        return None

    return upcoming
