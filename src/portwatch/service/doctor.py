"""`portwatch doctor`'s checks: each says passed or failed, and what to do about a failure.

Every check reads the system through arguments (a settings path, an environment, a root
directory for /sys and /run), so the tests point them at a temporary tree. Whether BlueZ
sees the adapter powered joins this list with the link stage.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from portwatch.alerts.apprise_sender import notify_sender
from portwatch.alerts.delivery import (
    ClinicSender,
    DeliveryError,
    NotifyEndpoint,
    Outcome,
    classify,
    clock_refused,
)
from portwatch.alerts.notify_url import describe_notify_url
from portwatch.alerts.payloads import connectivity_test_alert, render
from portwatch.alerts.posting import Note
from portwatch.ble.pin import PinError, load_pin
from portwatch.config import (
    BluetoothBackend,
    ConfigError,
    Settings,
    alert_context,
    clinic_endpoint,
    load_settings,
)
from portwatch.log.store import (
    DB_FILE_NAME,
    STATE_DIRECTORY_ENV,
    Priority,
    Store,
    StoreError,
    check,
)
from portwatch.service.status import age_text
from portwatch.service.watch import silence_limit

__all__ = [
    "Check",
    "DoctorError",
    "check_clinic",
    "check_notify",
    "check_notify_send",
    "check_settings",
    "run_checks",
]

# A reading row with its raw bytes is ~150 B; a wearable at 1 Hz for the ten-day period
# is ~130 MB. Below this much free space, the log could fill the card mid-period.
MIN_FREE_BYTES: Final = 256 * 1024 * 1024
# timedatectl answers at once; anything slower means systemd is in trouble.
TIMEDATECTL_TIMEOUT_S: Final = 5.0


class DoctorError(ValueError):
    """A check was asked about something it cannot examine (a relative root path)."""


@dataclass(frozen=True, slots=True)
class Check:
    """One check's verdict; ``advice`` says what to do when it failed."""

    name: str
    passed: bool
    detail: str
    advice: str = ""

    def line(self) -> str:
        """``PASS name: detail`` or ``FAIL name: detail -> advice``, for the terminal."""
        if self.passed:
            return f"PASS {self.name}: {self.detail}"
        return f"FAIL {self.name}: {self.detail} -> {self.advice}"


def check_settings(path: Path, now: datetime, environ: Mapping[str, str]) -> Check | Settings:
    """The settings, or a failed check listing every problem."""
    try:
        return load_settings(path, now=now, environ=environ)
    except ConfigError as exc:
        return Check(
            "settings",
            False,
            "; ".join(exc.problems),
            f"fix {path} (portwatch config check --config {path} lists each problem)",
        )


def _state_directory(settings: Settings, environ: Mapping[str, str]) -> Path:
    # systemd's StateDirectory= sets $STATE_DIRECTORY, and the log's own commands honour
    # $PORTWATCH_STATE_DIRECTORY; either wins over the setting. systemd may list several
    # directories separated by ':'; the first is ours.
    chosen = environ.get("STATE_DIRECTORY") or environ.get(STATE_DIRECTORY_ENV)
    return Path(chosen.split(":")[0]) if chosen else settings.store.state_directory


def check_log(path: Path) -> Check:
    """The log passes SQLite's integrity check and is not from a newer portwatch."""
    if not path.exists():
        return Check("log", True, f"no log at {path} yet; the service creates it on start")
    try:
        version = check(path)
    except StoreError as exc:
        # The store's message already says what to do (copy aside, .recover, ...).
        return Check("log", False, f"{path}: {exc}", "follow the steps above, then rerun doctor")
    return Check("log", True, f"{path} is intact (schema version {version})")


def check_state_directory(directory: Path) -> Check:
    """The log's directory exists and this user may write there."""
    if not directory.is_dir():
        return Check(
            "state directory",
            False,
            f"{directory} does not exist",
            "create it (systemd's StateDirectory=portwatch does) or set store.state_directory",
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        return Check(
            "state directory",
            False,
            f"{directory} is not writable by this user",
            "run as the portwatch user, or chown the directory to it",
        )
    return Check("state directory", True, f"{directory} is writable")


def check_free_disk(directory: Path) -> Check:
    """Enough free space for the whole monitored period's readings."""
    try:
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        return Check(
            "free disk",
            False,
            f"cannot measure {directory}: {exc.strerror}",
            "check that the state directory exists",
        )
    detail = f"{free // (1024 * 1024)} MiB free in {directory}"
    if free < MIN_FREE_BYTES:
        return Check(
            "free disk",
            False,
            detail,
            f"free at least {MIN_FREE_BYTES // (1024 * 1024)} MiB (old logs, apt clean)",
        )
    return Check("free disk", True, detail)


def check_adapter(adapter: str, root: Path) -> Check:
    """The Bluetooth adapter exists and is not switched off by rfkill."""
    if not root.is_absolute():
        raise DoctorError(f"root = {root}: must be an absolute path")
    device = root / "sys/class/bluetooth" / adapter
    if not device.exists():
        return Check(
            "bluetooth adapter",
            False,
            f"{adapter} not found",
            "check `bluetoothctl list`; on a Pi, enable Bluetooth in raspi-config",
        )
    for rfkill in sorted((device).glob("rfkill*")):
        for kind in ("soft", "hard"):
            state = rfkill / kind
            if state.exists() and state.read_text().strip() == "1":
                return Check(
                    "bluetooth adapter",
                    False,
                    f"{adapter} is {kind}-blocked",
                    "unblock it: `rfkill unblock bluetooth`",
                )
    return Check("bluetooth adapter", True, f"{adapter} present, not blocked")


def check_pin(directory: Path, address: str | None) -> Check:
    """A thermometer is pinned, and it is the one the settings name (if they name one)."""
    try:
        pin = load_pin(directory)
    except PinError as exc:
        return Check(
            "pinned thermometer", False, str(exc), "pin the patient's thermometer: portwatch pair"
        )
    if address is not None and pin.address.upper() != address.upper():
        return Check(
            "pinned thermometer",
            False,
            f"pinned {pin.address}, but bluetooth.address is {address}",
            "pin the right one (portwatch pair ADDRESS) or correct bluetooth.address",
        )
    return Check("pinned thermometer", True, f"{pin.address} ({pin.name or pin.driver})")


# How far back the thermometer check looks for the pinned thermometer's last reading.
SEEN_LOOKBACK: Final = timedelta(days=1)


def check_thermometer(
    path: Path,
    address: str | None,
    within: timedelta,
    now: datetime,
    *,
    spot_within: timedelta | None = None,
) -> Check:
    """The pinned thermometer sent a reading within ``within`` (the stale-data limit), or
    within ``spot_within`` when its last reading was a spot or hand reading (issue 19: the
    watch's spot limit; a spot thermometer hours silent between readings is working)."""
    who = address or "any thermometer"
    if not path.exists():
        return Check(
            "thermometer",
            False,
            f"no log at {path} yet",
            "start the service: systemctl start portwatch",
        )
    try:
        with Store.open_reader(path) as store:
            readings = store.readings(
                now - SEEN_LOOKBACK, now + timedelta(minutes=5), device=address
            )
    except StoreError as exc:
        return Check("thermometer", False, f"cannot read {path}: {exc}", "see the log check")
    if not readings:
        return Check(
            "thermometer",
            False,
            f"nothing from {who} in the last day",
            "check it is on, charged and near the base station; "
            "`portwatch scan` shows what is in range",
        )
    latest = readings[-1].reading
    last = latest.time
    detail = f"{who} last heard {age_text(now - last)}"
    if spot_within is not None:
        within = silence_limit(latest.kind, stale_after=within, spot_stale_after=spot_within)
    if now - last > within:
        return Check(
            "thermometer", False, detail, "check it is on, charged and near the base station"
        )
    return Check("thermometer", True, detail)


async def check_clinic(
    settings: Settings, environ: Mapping[str, str], now: datetime, gateway_id: str
) -> Check:
    """The clinic accepts a signed test message (it alerts nobody)."""
    if settings.clinic.url is None:
        return Check("clinic", True, "no clinic configured (the monitored period is over)")
    try:
        endpoint = clinic_endpoint(settings, environ)
        context = alert_context(settings, gateway_id)
    except ConfigError as exc:
        return Check("clinic", False, "; ".join(exc.problems), "fix the settings first")
    alert = connectivity_test_alert(context, now)
    rendered = render(alert, context, endpoint.format)
    # Signed at ``now``: the doctor's wall-clock time (the system clock; a test's fixed
    # time), which the clinic checks against its own; never a trusted or virtual clock.
    sender = ClinicSender(endpoint, signing_time=lambda: now)
    try:
        answer = await sender.send_body(str(alert.id), rendered.body, rendered.content_type)
    finally:
        sender.close()
    outcome = classify(answer)
    if outcome is Outcome.DELIVERED:
        return Check("clinic", True, f"accepted a signed test message ({answer.describe()})")
    if clock_refused(answer):
        return Check(
            "clinic",
            False,
            f"refused the test message's signed time: {answer.describe()}",
            "this gateway's clock and the clinic's differ by over 5 min: check the clock "
            "check above and `timedatectl`; alerts are retried until the clocks agree",
        )
    if outcome is Outcome.PERMANENT:
        return Check(
            "clinic",
            False,
            f"refused the test message: {answer.describe()}",
            "check clinic.url, clinic.format and the secret with the clinic",
        )
    return Check(
        "clinic",
        False,
        f"did not answer: {answer.describe()}",
        "check the network and the clinic's address; alerts wait until it answers",
    )


def _notify_urls(settings: Settings) -> dict[str, str]:
    """Each person's notification URL that is set, by whom it reaches."""
    section = settings.notify
    urls = {"caregiver": section.caregiver_url, "patient": section.patient_url}
    return {who: url for who, url in urls.items() if url is not None}


def check_notify(settings: Settings) -> Check:
    """Each person's notification URL is one portwatch can send to, and how: an ntfy POST
    or a service through Apprise. Nothing is sent (a test notice would reach a person).

    The URLs were checked when the settings loaded; checked again here as the daemon will
    build its senders, and named by how they are sent, never by their text (a topic or a
    mail password is a secret).
    """
    said: list[str] = []
    for who, url in _notify_urls(settings).items():
        try:
            NotifyEndpoint(url=url)
        except DeliveryError as exc:
            return Check(
                "notifications",
                False,
                f"{who}: {exc}",
                f"fix notify.{who}_url (an https ntfy topic, or an Apprise URL)",
            )
        said.append(f"{who}: {describe_notify_url(url)}")
    if not said:
        return Check("notifications", True, "no notification URL (notices wait in the log)")
    return Check("notifications", True, "; ".join(said))


# What `portwatch doctor --send-notice` sends each person: it says what it is.
TEST_NOTICE_TITLE: Final = "portwatch test"
TEST_NOTICE_MESSAGE: Final = (
    "A test from portwatch doctor: portwatch's notices reach you here. Nothing to do."
)


async def check_notify_send(settings: Settings, now: datetime) -> list[Check]:
    """Each notification URL accepts a test notice (only when asked: it reaches a person)."""
    checks: list[Check] = []
    for who, url in _notify_urls(settings).items():
        name = f"{who} notice"
        sender = notify_sender(NotifyEndpoint(url=url))
        note = Note(f"doctor-{who}", TEST_NOTICE_TITLE, TEST_NOTICE_MESSAGE, Priority.ROUTINE)
        try:
            answer = await sender.send_note(note, now)
        finally:
            sender.close()
        if classify(answer) is Outcome.DELIVERED:
            checks.append(Check(name, True, f"accepted a test notice ({answer.describe()})"))
        else:
            checks.append(
                Check(
                    name,
                    False,
                    f"did not take the test notice: {answer.describe()}",
                    f"check notify.{who}_url (the journal has the service's own reason)",
                )
            )
    return checks


def parse_ntp_synchronized(answer: str) -> bool:
    """``timedatectl show -p NTPSynchronized --value`` answers 'yes' or 'no'."""
    return answer.strip() == "yes"


Runner = Callable[[list[str]], str]


def _timedatectl(argv: list[str]) -> str:
    return subprocess.run(  # noqa: S603 (fixed argv, no shell)
        argv, capture_output=True, text=True, check=True, timeout=TIMEDATECTL_TIMEOUT_S
    ).stdout


def check_clock(root: Path, run: Runner = _timedatectl) -> Check:
    """The system clock is synchronised (a Pi has no battery-backed clock)."""
    marker = root / "run/systemd/timesync/synchronized"
    synced = marker.exists()
    if not synced:
        try:
            synced = parse_ntp_synchronized(
                run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
            )
        except (OSError, subprocess.SubprocessError):
            synced = False
    if synced:
        return Check("clock", True, "synchronised")
    return Check(
        "clock",
        False,
        "not synchronised",
        "check the network and `timedatectl timesync-status`; readings are timed "
        "from the last trusted time until it is, and the clinic may refuse alerts "
        "signed by a wrong clock (they are retried until it is right)",
    )


async def run_checks(
    path: Path,
    now: datetime,
    environ: Mapping[str, str],
    *,
    root: Path = Path("/"),
    config_only: bool = False,
    send_test: bool = True,
    send_notice: bool = False,
    gateway_id: str = "portwatch",
    run: Runner = _timedatectl,
) -> list[Check]:
    """Every check that can run, in the order a person should fix them."""
    loaded = check_settings(path, now, environ)
    if isinstance(loaded, Check):
        return [loaded]
    # load_settings has already found, read and parsed the clinic secret.
    checks = [Check("settings", True, f"{path} is valid, the clinic secret readable")]
    if config_only:
        return checks
    directory = _state_directory(loaded, environ)
    log = directory / DB_FILE_NAME
    checks += [
        check_state_directory(directory),
        check_log(log),
        check_free_disk(directory),
        check_adapter(loaded.bluetooth.adapter, root)
        if loaded.bluetooth.backend is BluetoothBackend.SYSTEM
        else Check("bluetooth adapter", True, "virtual radio, no adapter needed"),
        check_clock(root, run),
        check_pin(directory, loaded.bluetooth.address),
        check_thermometer(
            log,
            loaded.bluetooth.address,
            loaded.watch.stale_after,
            now,
            spot_within=loaded.watch.spot_stale_after,
        ),
        check_notify(loaded),
    ]
    if send_test:
        checks.append(await check_clinic(loaded, environ, now, gateway_id))
    if send_notice:
        checks += await check_notify_send(loaded, now)
    return checks
