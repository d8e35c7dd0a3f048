"""What ``portwatch setup`` asks, and how each answer is read.

Every question is asked the same way at the terminal and taken the same way from a flag
(``--non-interactive``): one reader per answer that returns the value to write or raises
:class:`ValueError` saying what is wrong and what would be right. The readers refuse the
example file's placeholders (example.org, CHANGE-ME, the sample patient): a household that
copies them would send a patient's temperatures to a public topic or nowhere.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portwatch.setup.tomledit import Scalar

__all__ = [
    "QUESTIONS",
    "Question",
    "default_zone",
    "new_push_topic",
    "read_address",
    "read_secret_text",
]

_FHIR_REFERENCE: Final = re.compile(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}")
_PLACEHOLDERS: Final = ("example.org", "example.com", "change-me", "changeme")
_SAMPLE_PATIENT: Final = "Patient/0001234"
# ntfy.sh: anyone who knows a topic's name can read it, so the name is the secret. 16
# random bytes (128 bits) cannot be guessed; the prefix tells the caregiver what it is.
PUSH_SERVER: Final = "https://ntfy.sh"
PUSH_TOPIC_BYTES: Final = 16
WEB_PORT: Final = 8470
_BT_ADDRESS: Final = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")


def new_push_topic() -> str:
    """A fresh ntfy topic URL nobody else has (never a shared example)."""
    return f"{PUSH_SERVER}/portwatch-{secrets.token_urlsafe(PUSH_TOPIC_BYTES)}"


def default_zone(root: Path) -> str:
    """The machine's own time zone (``/etc/localtime``'s link or ``/etc/timezone``), else UTC."""
    link = root / "etc/localtime"
    try:
        target = str(link.readlink())
        if "zoneinfo/" in target:
            return _zone(target.split("zoneinfo/", 1)[1])
    except (OSError, ValueError):
        pass
    try:
        return _zone((root / "etc/timezone").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return "UTC"


def _no_placeholder(text: str, what: str) -> str:
    lowered = text.lower()
    for word in _PLACEHOLDERS:
        if word in lowered:
            raise ValueError(f"{what} still holds the example's {word!r}; give the real one")
    return text


def _reference(kind: str) -> Callable[[str, Mapping[str, Any]], Scalar]:
    def read(text: str, answers: Mapping[str, Any]) -> Scalar:
        del answers
        text = text.strip()
        if "/" not in text and text:
            text = f"{kind}/{text}"
        if not _FHIR_REFERENCE.fullmatch(text) or not text.startswith(f"{kind}/"):
            raise ValueError(f"expected {kind}/<id> as the clinic writes it, such as {kind}/123")
        if text == _SAMPLE_PATIENT:
            raise ValueError(f"{text} is the example's sample patient; give the real one")
        return _no_placeholder(text, "the reference")

    return read


def _zone(text: str) -> str:
    text = text.strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{text!r} is not a time zone; write it like Europe/Berlin or America/Chicago"
        ) from None
    return text


def _read_zone(text: str, answers: Mapping[str, Any]) -> Scalar:
    del answers
    return _zone(text)


def _read_placement(text: str, answers: Mapping[str, Any]) -> Scalar:
    """``now``, ``YYYY-MM-DD HH:MM`` on the patient's clock, or ISO 8601 with an offset."""
    zone = ZoneInfo(str(answers["timezone"]))
    now: datetime = answers["now"].astimezone(zone).replace(microsecond=0)
    text = text.strip()
    if text.lower() == "now":
        return now
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r}: write when the port was placed as YYYY-MM-DD HH:MM "
            "(on the patient's clock), or now"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    if moment - now > timedelta(days=1):
        raise ValueError(f"{moment.isoformat()} is in the future; give when it was placed")
    if now - moment > timedelta(days=60):
        raise ValueError(f"{moment.isoformat()} is over 60 days ago; check the date")
    return moment.astimezone(zone)


def _read_url(what: str, *, notify: bool = False) -> Callable[[str, Mapping[str, Any]], Scalar]:
    """A URL checked as it will be used: the clinic's (https), or a person's notification
    URL (``notify``: an ntfy topic or any Apprise URL, as the settings accept it)."""

    def read(text: str, answers: Mapping[str, Any]) -> Scalar:
        del answers
        from portwatch.alerts.delivery import DeliveryError, check_url
        from portwatch.alerts.endpoints import check_notify_url

        text = text.strip()
        try:
            (check_notify_url if notify else check_url)(text, what)
        except DeliveryError as exc:
            raise ValueError(str(exc)) from None
        return _no_placeholder(text, what)

    return read


def _read_choice(*choices: str) -> Callable[[str, Mapping[str, Any]], Scalar]:
    def read(text: str, answers: Mapping[str, Any]) -> Scalar:
        del answers
        for choice in choices:
            if text.strip().lower() == choice.lower():
                return choice
        raise ValueError(f"{text.strip()!r}: choose one of {', '.join(choices)}")

    return read


def read_address(text: str, answers: Mapping[str, Any]) -> Scalar:
    """``lan`` (this Pi's address at home), ``local`` (this Pi only), or ``host:port``."""
    text = text.strip()
    if text.lower() == "lan":
        lan = answers.get("lan")
        if not lan:
            raise ValueError("no home network address found; type it as host:port")
        return f"{lan}:{WEB_PORT}"
    if text.lower() == "local":
        return f"127.0.0.1:{WEB_PORT}"
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: write lan, local, or host:port such as 192.168.1.20:8470")
    return text


def read_secret_text(text: str) -> str:
    """The clinic's signing secret as pasted (``whsec_…``), checked as the service reads it."""
    from portwatch.alerts.signing import SignatureError, parse_secret

    text = text.strip()
    try:
        parse_secret(text)
    except SignatureError as exc:
        raise ValueError(f"the clinic secret: {exc}") from None
    return text


def read_bluetooth_address(text: str) -> str:
    text = text.strip().upper()
    if not _BT_ADDRESS.fullmatch(text):
        raise ValueError(f"{text!r} is not a Bluetooth address such as A4:C1:38:00:11:22")
    return text


@dataclass(frozen=True, slots=True)
class Question:
    """One thing setup asks: its flag, where the answer goes, how it is read."""

    name: str  # the flag (--patient) and the key among the answers
    table: str  # where it goes in the settings file
    key: str
    prompt: str
    read: Callable[[str, Mapping[str, Any]], Scalar]
    # A default for a first setup, from the answers so far (None: no default, must answer).
    fresh: Callable[[Mapping[str, Any]], str | None] = lambda answers: None
    note: str = ""  # said before the prompt at the terminal, when there is more to know


QUESTIONS: Final[tuple[Question, ...]] = (
    Question(
        "patient",
        "patient",
        "reference",
        "The patient as the clinic knows them (Patient/<id>)",
        _reference("Patient"),
        note="The clinic gives you the patient's reference, its address and its secret.",
    ),
    Question(
        "timezone",
        "patient",
        "timezone",
        "The patient's time zone",
        _read_zone,
        lambda answers: str(answers["zone_guess"]),
    ),
    Question(
        "placement",
        "patient",
        "placement",
        "When the port was placed (YYYY-MM-DD HH:MM on the patient's clock, or now)",
        _read_placement,
        lambda answers: "now",
    ),
    Question(
        "clinic_url",
        "clinic",
        "url",
        "Where the clinic takes alerts (https://…)",
        _read_url("the clinic's URL"),
    ),
    Question(
        "clinic_recipient",
        "clinic",
        "recipient",
        "The clinic as it names itself (Organization/<id>)",
        _reference("Organization"),
    ),
    Question(
        "clinic_format",
        "clinic",
        "format",
        "How the clinic takes alerts: json (signed JSON) or fhir",
        _read_choice("json", "fhir"),
        lambda answers: "json",
    ),
    Question(
        "caregiver_url",
        "notify",
        "caregiver_url",
        "Where the caregiver's notices go (a ntfy topic or e-mail URL; Enter takes a new "
        "private ntfy topic)",
        _read_url("the caregiver's notification URL", notify=True),
        lambda answers: new_push_topic(),
        "The caregiver's phone gets notices (a high reading, a silent thermometer) through "
        "the free ntfy app: install it and subscribe to the topic setup shows at the end. "
        "Anyone who knows a topic's name can read it: keep it private, never share one. "
        "For e-mail instead, give mailtos://USER:PASSWORD@SMTP-SERVER?to=ADDRESS (SMS "
        "gateways, Signal, Telegram: any Apprise URL); a password is kept with the secrets.",
    ),
    Question(
        "unit",
        "display",
        "unit",
        "Temperatures shown in C or F",
        _read_choice("C", "F"),
        lambda answers: "F" if str(answers.get("timezone", "")).startswith("America/") else "C",
    ),
    Question(
        "web_address",
        "web",
        "address",
        "Where the page listens: lan (phones at home reach it), local (this Pi only), or host:port",
        read_address,
        lambda answers: "lan" if answers.get("lan") else "local",
        "The caregiver's page opens on phones on this home network when it listens on this "
        "Pi's address there; give the Pi a fixed address in the router (a DHCP reservation) "
        "so the page keeps its address.",
    ),
)
