"""Settings: one TOML file plus ``PORTWATCH_*`` environment overrides, validated up front.

A bad file is refused before anything starts, with one line per problem naming the
setting, its value and what is allowed (:class:`ConfigError`). A setting that would
silence fever alerts (no clinic endpoint while monitoring, an http clinic URL off
loopback, a rule setting outside its bounds) is an error, never a warning.

Secrets never sit in the file or the environment: they are read from files, either a
``*_file`` setting or systemd's ``$CREDENTIALS_DIRECTORY/<name>`` (``LoadCredential=``).

Environment overrides nest with ``__``: ``PORTWATCH_RULE__THRESHOLD_F=100.4`` overrides
``[rule] threshold_f``. The environment wins over the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from portwatch import __version__
from portwatch.alerts.delivery import (
    ClinicEndpoint,
    DeliveryError,
    check_url,
    load_secret,
    secret_file,
)
from portwatch.alerts.endpoints import check_notify_url
from portwatch.alerts.notify_credentials import urls_from_files
from portwatch.alerts.payloads import AlertContext, ClinicFormat, Thermometer
from portwatch.alerts.signing import SignatureError, parse_secret
from portwatch.durations import Duration, PositiveDuration, parse_duration
from portwatch.durations import format_duration as _format_duration
from portwatch.fever.settings import (
    DEFAULTS,
    THRESHOLD_MAX_F,
    THRESHOLD_MIN_F,
    WINDOW_MIN,
    RuleSettings,
    RuleSettingsError,
)
from portwatch.model import Unit
from portwatch.settings_file import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    config_path,
    read_toml,
    without_credentials,
)

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "BluetoothBackend",
    "ConfigError",
    "Settings",
    "config_path",
    "load_settings",
    "parse_duration",
]

ENV_PREFIX: Final = "PORTWATCH_"

# --- bounds ---------------------------------------------------------------------------
# The defaults are fever-rule.md's; the threshold's bounds and the shortest window the rule's
# own (issue 5, portwatch.fever.settings); the others are guard rails: a value outside them would
# miss fevers the clinic names (or cry wolf until ignored), so it is refused, never obeyed.
MIN_SEPARATION_MIN: Final = timedelta(hours=1)  # fever-rule.md §4: "four hours apart"
MIN_SEPARATION_MAX: Final = timedelta(hours=12)  # fever-rule.md §4
PAIR_WINDOW_MAX: Final = timedelta(hours=72)  # fever-rule.md §4 (default 24 h)
WINDOW_MAX: Final = timedelta(minutes=30)  # fever-rule.md §2
MIN_SAMPLES_MIN: Final = 1  # fever-rule.md §2 (default 3)
MIN_SAMPLES_MAX: Final = 30  # fever-rule.md §2
SITE_OFFSET_C_MIN: Final = -0.5  # fever-rule.md §2: a negative offset hides fevers
SITE_OFFSET_C_MAX: Final = 1.5  # fever-rule.md §2: armpit/skin sensors read up to ~1 °C low
HEALING_DAYS_MIN: Final = 10  # fever-rule.md §7: the check is 7-10 days after placement
HEALING_DAYS_MAX: Final = 60  # fever-rule.md §7
REALERT_AFTER_MIN: Final = timedelta(hours=1)  # fever-rule.md §5 (default 24 h)
REALERT_AFTER_MAX: Final = timedelta(hours=72)  # fever-rule.md §5
RESOLVE_AFTER_MIN: Final = timedelta(hours=4)  # fever-rule.md §5 (default 24 h)
RESOLVE_AFTER_MAX: Final = timedelta(hours=72)  # fever-rule.md §5
STALE_AFTER_MAX: Final = timedelta(hours=2)  # alerts.md: thermometer silent (default 30 min)
# Issue 19: a spot thermometer silent for a whole day is a gap in monitoring (default 16 h).
SPOT_STALE_AFTER_MAX: Final = timedelta(hours=24)
ESCALATE_AFTER_MAX: Final = timedelta(hours=1)  # alerts.md: alert not accepted (default 15 min)
HEARTBEAT_MAX: Final = timedelta(hours=1)  # alerts.md: gateway heartbeat (default 15 min)
# A heartbeat's id is its 15-minute slot (payloads.heartbeat_slot): more often, ids would clash.
HEARTBEAT_MIN: Final = timedelta(minutes=15)
DURABLE_WITHIN_MAX: Final = timedelta(seconds=10)  # design.md: durable before the rule acts

# A placement outside these years is a typo (near datetime's ends it breaks UTC; issue 21).
PLACEMENT_YEARS: Final = (2000, 9000)

_ADDRESS: Final = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
# Settings whose value is never repeated in a problem line (see _problem_line).
_UNECHOED: Final = frozenset({("notify", "caregiver_url"), ("notify", "patient_url")})
# Keys people are tempted to write instead of the *_file setting.
_SECRET_WORDS: Final = ("secret", "token", "password", "key")


def _parse_local_time(text: object) -> time:
    if isinstance(text, time):
        return text
    if isinstance(text, str):
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
        if match and int(match[1]) < 24 and int(match[2]) < 60:
            return time(int(match[1]), int(match[2]))
    raise ValueError("expected a local time of day such as '07:00' or '21:30'")


LocalTime = Annotated[
    time,
    BeforeValidator(_parse_local_time),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
]


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("expected an IANA time zone such as 'Europe/Berlin'") from exc
    return text


def _checked_url(text: str) -> str:
    # The delivery stage's own rule (alerts.md, "Delivery"), applied before anything starts.
    try:
        check_url(text, "the URL")
    except DeliveryError as exc:
        raise ValueError(str(exc)) from exc
    return text


HttpUrl = Annotated[str, AfterValidator(_checked_url)]
NotifyUrl = Annotated[str, AfterValidator(lambda u: check_notify_url(u, "the URL"))]


class _Section(BaseModel):
    # A typo in a key must not be silently ignored: unknown keys are refused.
    model_config = ConfigDict(extra="forbid", frozen=True)


class BluetoothBackend(StrEnum):
    """Which radio the link uses."""

    SYSTEM = "system"  # BlueZ over D-Bus: the Pi's own adapter
    VIRTUAL = "virtual"  # the Bumble virtual thermometer (demo, tests)


# A FHIR relative reference "Type/id" (R4 §2.3.0; id: 1-64 of [A-Za-z0-9-.]), as alerts name.
_FHIR_REFERENCE: Final = re.compile(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}")


def _fhir_reference(text: str) -> str:
    if not _FHIR_REFERENCE.fullmatch(text):
        raise ValueError("expected a FHIR reference such as 'Patient/123' (Type/id)")
    return text


FhirReference = Annotated[str, AfterValidator(_fhir_reference)]


def _placement(value: datetime) -> datetime:
    first, last = PLACEMENT_YEARS
    if not first < value.year < last:
        raise ValueError(f"expected a time between the years {first} and {last}")
    return value.astimezone(UTC)


class PatientSection(_Section):
    """Whom portwatch watches, and since when."""

    reference: FhirReference
    placement: Annotated[AwareDatetime, AfterValidator(_placement)]
    timezone: Annotated[str, AfterValidator(_zone)] = "UTC"
    port_in_regular_use: bool = False


class RuleSection(_Section):
    """The fever rule's settings, 1:1 with ``portwatch.fever.rule.RuleSettings`` (fever-rule.md)."""

    # The defaults are the rule's own (portwatch.fever.settings, the one place of them).
    threshold_f: float = Field(default=DEFAULTS.threshold_f, ge=THRESHOLD_MIN_F, le=THRESHOLD_MAX_F)
    min_separation: Duration = Field(
        default=DEFAULTS.min_separation, ge=MIN_SEPARATION_MIN, le=MIN_SEPARATION_MAX
    )
    pair_window: Duration = Field(default=DEFAULTS.pair_window, le=PAIR_WINDOW_MAX)
    window: Duration = Field(default=DEFAULTS.window, ge=WINDOW_MIN, le=WINDOW_MAX)
    min_samples: int = Field(default=DEFAULTS.min_samples, ge=MIN_SAMPLES_MIN, le=MIN_SAMPLES_MAX)
    site_offset_c: float = Field(
        default=DEFAULTS.site_offset_c, ge=SITE_OFFSET_C_MIN, le=SITE_OFFSET_C_MAX
    )
    healing_days: int = Field(
        default=DEFAULTS.healing_days, ge=HEALING_DAYS_MIN, le=HEALING_DAYS_MAX
    )
    realert_after: Duration = Field(
        default=DEFAULTS.realert_after, ge=REALERT_AFTER_MIN, le=REALERT_AFTER_MAX
    )
    resolve_after: Duration = Field(
        default=DEFAULTS.resolve_after, ge=RESOLVE_AFTER_MIN, le=RESOLVE_AFTER_MAX
    )

    @model_validator(mode="after")
    def _window_holds_a_pair(self) -> RuleSection:
        if self.pair_window < self.min_separation:
            raise ValueError(
                f"rule.pair_window = '{_format_duration(self.pair_window)}': must be at least "
                f"rule.min_separation ('{_format_duration(self.min_separation)}'), "
                "or no two readings can ever confirm a fever"
            )
        return self

    def rule_settings(self) -> RuleSettings:
        """The fever rule's settings, field for field.

        Raises:
            RuleSettingsError: a combination the rule itself refuses.
        """
        return RuleSettings(
            threshold_f=self.threshold_f,
            min_separation=self.min_separation,
            pair_window=self.pair_window,
            window=self.window,
            min_samples=self.min_samples,
            site_offset_c=self.site_offset_c,
            healing_days=self.healing_days,
            realert_after=self.realert_after,
            resolve_after=self.resolve_after,
        )


def _pinned(address: str | None) -> str | None:
    if address is None:
        return None
    if not _ADDRESS.fullmatch(address.upper()):
        raise ValueError("expected a Bluetooth address such as 'A4:C1:38:00:11:22'")
    return address.upper()


class BluetoothSection(_Section):
    """The radio and the one thermometer the patient's setup is pinned to."""

    backend: BluetoothBackend = BluetoothBackend.SYSTEM
    adapter: str = Field(default="hci0", pattern=r"^hci\d+$")
    address: Annotated[str | None, AfterValidator(_pinned)] = None


class ClinicSection(_Section):
    """Where alerts go, in which shape, signed with which secret."""

    url: HttpUrl | None = None
    recipient: FhirReference | None = None
    format: ClinicFormat = ClinicFormat.JSON
    secret_file: Path | None = None
    ca_bundle: Path | None = None
    connect_timeout: PositiveDuration = Field(
        default=timedelta(seconds=10), le=timedelta(minutes=1)
    )
    read_timeout: PositiveDuration = Field(default=timedelta(seconds=30), le=timedelta(minutes=5))
    escalate_after: PositiveDuration = Field(default=timedelta(minutes=15), le=ESCALATE_AFTER_MAX)
    heartbeat_every: PositiveDuration = Field(
        default=timedelta(minutes=15), ge=HEARTBEAT_MIN, le=HEARTBEAT_MAX
    )

    @model_validator(mode="after")
    def _recipient_with_url(self) -> ClinicSection:
        if self.url is not None and self.recipient is None:
            raise ValueError(
                "clinic.recipient: missing; with clinic.url, name the clinic as a FHIR "
                "reference such as 'Organization/clinic-1' (alerts are addressed to it)"
            )
        return self


class QuietHours(_Section):
    """Local times between which non-urgent notices wait; urgent ones never do."""

    start: LocalTime
    end: LocalTime


class NotifySection(_Section):
    """How the caregiver and the patient are reached: an ntfy topic or an Apprise URL each."""

    caregiver_url: NotifyUrl | None = None
    caregiver_url_file: Path | None = None
    patient_url: NotifyUrl | None = None
    patient_url_file: Path | None = None
    quiet_hours: QuietHours | None = None
    daily_summary_at: LocalTime = Field(default_factory=lambda: time(20, 0))
    reminders_at: LocalTime = Field(default_factory=lambda: time(9, 0))


class WatchSection(_Section):
    """The stale-data watch (alerts.md, "thermometer silent"): ``stale_after`` for a
    wearable's stream, ``spot_stale_after`` for a spot thermometer or hand readings (issue
    19); zero, or longer than the bound, is refused: it would silence the watch."""

    stale_after: PositiveDuration = Field(default=timedelta(minutes=30), le=STALE_AFTER_MAX)
    stale_after_pending: PositiveDuration = Field(default=timedelta(minutes=10), le=STALE_AFTER_MAX)
    spot_stale_after: PositiveDuration = Field(default=timedelta(hours=16), le=SPOT_STALE_AFTER_MAX)

    @model_validator(mode="after")
    def _sooner_while_pending(self) -> WatchSection:
        if self.stale_after_pending > self.stale_after:
            raise ValueError(
                f"watch.stale_after_pending = '{_format_duration(self.stale_after_pending)}': "
                f"must not exceed watch.stale_after ('{_format_duration(self.stale_after)}'); "
                "a pending fever needs the sooner warning"
            )
        if self.spot_stale_after < self.stale_after:
            raise ValueError(
                f"watch.spot_stale_after = '{_format_duration(self.spot_stale_after)}': "
                f"must be at least watch.stale_after ('{_format_duration(self.stale_after)}'); "
                "a spot thermometer is taken a few times a day, not every minute"
            )
        return self


class StoreSection(_Section):
    """Where the log lives."""

    state_directory: Path = Path("/var/lib/portwatch")
    durable_within: PositiveDuration = Field(default=timedelta(seconds=1), le=DURABLE_WITHIN_MAX)


def _host_port(text: str) -> tuple[str, int]:
    """``host:port``, the host bare or an IPv6 address in brackets (``[::1]:8470``)."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or "[" in host or "]" in host:
        raise ValueError("expected host:port such as '127.0.0.1:8470' or '[::1]:8470'")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected host:port such as '127.0.0.1:8470' or '[::1]:8470'")
    return host, int(port)


def _web_address(text: str) -> str:
    _host_port(text)
    return text


class DisplaySection(_Section):
    """How temperatures are shown to people (notices, the page, the daily summary)."""

    unit: Unit = Unit.FAHRENHEIT


class WebSection(_Section):
    """The caregiver's local page."""

    address: Annotated[str, AfterValidator(_web_address)] = "127.0.0.1:8470"
    token_file: Path | None = None

    @property
    def host(self) -> str:
        """The address's host, an IPv6 address without its brackets (what bind() takes)."""
        return _host_port(self.address)[0]

    @property
    def port(self) -> int:
        """The address's port."""
        return _host_port(self.address)[1]


class Settings(BaseSettings):
    """Everything portwatch is told, validated; built with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )
    patient: PatientSection
    rule: RuleSection = Field(default_factory=RuleSection)
    bluetooth: BluetoothSection = Field(default_factory=BluetoothSection)
    clinic: ClinicSection = Field(default_factory=ClinicSection)
    notify: NotifySection = Field(default_factory=NotifySection)
    watch: WatchSection = Field(default_factory=WatchSection)
    store: StoreSection = Field(default_factory=StoreSection)
    web: WebSection = Field(default_factory=WebSection)
    display: DisplaySection = Field(default_factory=DisplaySection)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (passed as init values); secrets are read by name.
        del settings_cls, dotenv_settings, file_secret_settings
        return (env_settings, init_settings)

    @property
    def monitoring_ends(self) -> datetime:
        """The end of the monitored period (fever-rule.md §7)."""
        return self.patient.placement + timedelta(days=self.rule.healing_days)

    @property
    def zone(self) -> ZoneInfo:
        """The patient's local time zone (quiet hours, daily summary, reminders)."""
        return ZoneInfo(self.patient.timezone)


def _problem_line(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{loc}: missing; this setting is required"
    if error["type"] == "extra_forbidden":
        hint = "not a setting portwatch knows (a typo?)"
        last = str(error["loc"][-1]).lower()
        if any(word in last for word in _SECRET_WORDS) and not last.endswith("_file"):
            # The value is not repeated: it may be the secret itself, and stderr is journald.
            return f"{loc}: secrets are never written in settings; name a file with *_file"
        return f"{loc} = {error['input']!r}: {hint}"
    if message.startswith(tuple(f"{name}." for name in Settings.model_fields)):
        return message  # our own validators already name the setting and its value
    if tuple(error["loc"]) in _UNECHOED:
        # A push topic URL is often its only secret (anyone who knows it can read the
        # notices), and stderr is journald: name the problem, not the value.
        return f"{loc} (value not shown): {message}"
    value = error["input"]
    if isinstance(value, timedelta):
        value = _format_duration(value)
    elif isinstance(value, datetime | time):
        value = value.isoformat()
    elif isinstance(value, str):
        value = without_credentials(value)
    return f"{loc} = {value!r}: {message}"


def rule_settings_from(table: Mapping[str, Any]) -> RuleSettings:
    """A ``[rule]`` table read exactly as the daemon reads it (``portwatch replay --config``).

    Raises:
        ConfigError: one line per problem, each naming ``rule.<setting>``.
    """
    try:
        return RuleSection(**table).rule_settings()
    except ValidationError as exc:
        problems = [_problem_line({**e, "loc": ("rule", *e["loc"])}) for e in exc.errors()]
        raise ConfigError(problems) from exc
    except RuleSettingsError as exc:
        raise ConfigError([f"rule.{exc.setting} = {exc.value!s}: {exc.allowed}"]) from exc


def load_settings(
    path: Path, *, now: datetime, environ: Mapping[str, str] = os.environ, secrets: bool = True
) -> Settings:
    """Read, merge and validate the settings, or raise :class:`ConfigError` with every problem.

    ``now`` decides whether the patient is being monitored, when a clinic endpoint is
    mandatory. Environment variables ``PORTWATCH_<SECTION>__<KEY>`` override the file;
    ``environ`` is where secrets' ``$CREDENTIALS_DIRECTORY`` is looked up. ``secrets=False``
    for a command that sends nothing (`add`, `import`): the service's user reads the file
    without the credentials only the service is given.
    """
    data = read_toml(path)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError([_problem_line(e) for e in exc.errors()]) from exc
    problems = _problems_at(settings, now)
    try:
        settings.rule.rule_settings()
    except RuleSettingsError as exc:
        problems.append(f"rule.{exc.setting} = {exc.value!s}: {exc.allowed}")
    if secrets and settings.clinic.url is not None and settings.clinic.format is ClinicFormat.JSON:
        try:
            parse_secret(load_secret(secret_file(settings.clinic.secret_file, environ)))
        except (DeliveryError, SignatureError) as exc:
            problems.append(f"clinic.secret_file: {exc}")
    if secrets:  # a person's URL kept in a file (*_url_file), as the clinic's secret is
        found, unusable = urls_from_files(dict(settings.notify), environ)
        problems += unusable
        settings = settings.model_copy(update={"notify": settings.notify.model_copy(update=found)})
    if problems:
        raise ConfigError(problems)
    return settings


def _problems_at(settings: Settings, now: datetime) -> list[str]:
    problems: list[str] = []
    placement = settings.patient.placement
    if placement - now > timedelta(days=1):
        problems.append(
            f"patient.placement = '{placement.isoformat()}': more than a day in the future; "
            "set the time the port was placed"
        )
    if settings.clinic.url is None and now < settings.monitoring_ends:
        problems.append(
            "clinic.url: missing while the patient is monitored (until "
            f"{settings.monitoring_ends.isoformat()}); without it no fever alert can leave"
        )
    return problems


def clinic_endpoint(settings: Settings, environ: Mapping[str, str]) -> ClinicEndpoint:
    """The delivery stage's endpoint, built from the settings and the clinic secret.

    Raises:
        ConfigError: no clinic URL, or the secret cannot be found, read or parsed.
    """
    clinic = settings.clinic
    if clinic.url is None:
        raise ConfigError(["clinic.url: missing; there is no clinic to send to"])
    try:
        secret = parse_secret(load_secret(secret_file(clinic.secret_file, environ)))
        return ClinicEndpoint(
            url=clinic.url,
            format=clinic.format,
            secret=secret,
            ca_bundle=clinic.ca_bundle,
            connect_timeout_s=clinic.connect_timeout.total_seconds(),
            read_timeout_s=clinic.read_timeout.total_seconds(),
            escalate_after=clinic.escalate_after,
        )
    except (DeliveryError, SignatureError) as exc:
        raise ConfigError([f"clinic.secret_file: {exc}"]) from exc


# The address a clinic message names while no thermometer is pinned (as `alerts test`).
UNPINNED_ADDRESS: Final = "00:00:00:00:00:00"


def alert_context(settings: Settings, gateway_id: str) -> AlertContext:
    """Who alerts are about, from whom and for whom, from the settings."""
    recipient = settings.clinic.recipient
    if recipient is None:
        raise ConfigError(["clinic.recipient: missing; alerts need an addressee"])
    return AlertContext(
        patient=settings.patient.reference,
        clinic=recipient,
        gateway_id=gateway_id,
        gateway_version=__version__,
        thermometer=Thermometer(address=settings.bluetooth.address or UNPINNED_ADDRESS),
        zone=settings.zone,
        unit=settings.display.unit,
    )
