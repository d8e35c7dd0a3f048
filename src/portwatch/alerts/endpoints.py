"""Where alerts go: the clinic's and a person's notification endpoints, their secrets (alerts.md).

Settings only, checked when made: a URL that must be https (or loopback http), a secret
file read without its contents ever reaching a log or an error.
"""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from portwatch.alerts.notify_url import NotifyTransport, apprise_problem, is_loopback, transport_of
from portwatch.alerts.payloads import ClinicFormat

__all__ = [
    "CLINIC_CREDENTIAL",
    "CONNECT_TIMEOUT_S",
    "ESCALATE_AFTER",
    "NOTIFY_CONTENT_TYPE",
    "READ_TIMEOUT_S",
    "ClinicEndpoint",
    "DeliveryError",
    "NotifyEndpoint",
    "check_notify_url",
    "check_url",
    "load_secret",
    "notification_body",
    "secret_file",
]

_LOGGER = logging.getLogger(__name__)

# alerts.md, "Who is told what": escalate_after (15 min) of trying.
ESCALATE_AFTER: Final = timedelta(minutes=15)
# Default per-attempt timeouts; the read timeout covers a slow clinic server's answer.
CONNECT_TIMEOUT_S: Final = 5.0
READ_TIMEOUT_S: Final = 15.0
NOTIFY_CONTENT_TYPE: Final = "application/vnd.portwatch.notification+json"
# The systemd credential name the unit passes the clinic secret under.
CLINIC_CREDENTIAL: Final = "clinic-secret"


class DeliveryError(ValueError):
    """A delivery setting is unusable (bad URL, unreadable secret file, bad argument)."""


# --- settings ---------------------------------------------------------------------------


def check_url(url: str, what: str) -> None:
    """Require https unless the host is a loopback address (alerts.md, "Delivery").

    Raises:
        DeliveryError: not http(s), no host, or plain http to a non-loopback host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"{what} must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise DeliveryError(f"{what} must not carry credentials; use the secret file")
    if parts.scheme == "https":
        return
    if not is_loopback(parts.hostname):
        raise DeliveryError(f"{what} must use https (plain http only to a loopback address)")


def check_notify_url(url: str, what: str) -> str:
    """Check a person's notification URL the way it will be sent (see
    :mod:`portwatch.alerts.notify_url`): an http(s) ntfy topic by :func:`check_url`'s rule,
    any other scheme as an Apprise URL. Returns the URL (a settings validator).

    Raises:
        DeliveryError: the URL cannot be sent to; the message never repeats the URL.
    """
    if transport_of(url) is NotifyTransport.NTFY:
        check_url(url, what)
        return url
    problem = apprise_problem(url)
    if problem is not None:
        raise DeliveryError(f"{what} {problem}")
    return url


@dataclass(frozen=True, slots=True)
class ClinicEndpoint:
    """Where and how clinic alerts go; the secret never appears in repr or errors."""

    url: str
    format: ClinicFormat
    secret: bytes = field(repr=False)  # the HMAC key of the clinic's whsec_ secret
    ca_bundle: Path | None = None
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    read_timeout_s: float = READ_TIMEOUT_S
    escalate_after: timedelta = ESCALATE_AFTER

    def __post_init__(self) -> None:
        check_url(self.url, "clinic URL")
        if not self.secret:
            raise DeliveryError("clinic secret is empty")
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise DeliveryError("clinic timeouts must be positive")
        if self.escalate_after <= timedelta(0):
            raise DeliveryError("escalate_after must be positive")


@dataclass(frozen=True, slots=True)
class NotifyEndpoint:
    """A person's notification URL: an ntfy-style topic (plain POST, unsigned) or an
    Apprise URL (e-mail, SMS gateways, ...), told apart by :func:`check_notify_url`. The
    timeouts and CA bundle apply to the ntfy POST; Apprise uses its own (``?cto=``/``?rto=``)."""

    url: str = field(repr=False)  # a topic URL, or an Apprise URL's password, is a secret
    ca_bundle: Path | None = None
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    read_timeout_s: float = READ_TIMEOUT_S

    def __post_init__(self) -> None:
        check_notify_url(self.url, "notification URL")

    @property
    def transport(self) -> NotifyTransport:
        """How notices to this URL are sent."""
        return transport_of(self.url)


def load_secret(path: Path | str) -> str:
    """Read a secret file (or a systemd credential); warn if others may read it.

    Raises:
        DeliveryError: the file is missing, unreadable or empty (the message names the path,
            never the contents).
    """
    secret_path = Path(path)
    try:
        text = secret_path.read_text(encoding="utf-8").strip()
        mode = secret_path.stat().st_mode
    except OSError as exc:
        raise DeliveryError(f"cannot read secret file {secret_path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise DeliveryError(f"secret file {secret_path} is not UTF-8 text") from exc
    if not text:
        raise DeliveryError(f"secret file {secret_path} is empty")
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        _LOGGER.warning(
            "secret file %s is readable by other users (mode %o); run: chmod 600 %s",
            secret_path,
            stat.S_IMODE(mode),
            secret_path,
        )
    return text


def secret_file(
    configured: Path | None, environ: Mapping[str, str], credential: str = CLINIC_CREDENTIAL
) -> Path:
    """Where the clinic secret lives: the configured file, else systemd's credential
    (``LoadCredential=clinic-secret:/etc/portwatch/clinic.secret`` in the unit).

    Raises:
        DeliveryError: neither is set.
    """
    if configured is not None:
        return configured
    directory = environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        return Path(directory) / credential
    raise DeliveryError(
        f"no clinic secret: set the clinic secret file, or give systemd LoadCredential={credential}"
    )


def notification_body(title: str, message: str) -> str:
    """An outbox body for the notify channel (stored with :data:`NOTIFY_CONTENT_TYPE`)."""
    return json.dumps({"title": title, "message": message}, sort_keys=True)
