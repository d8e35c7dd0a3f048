"""What `portwatch run` needs beyond valid settings: files it reads, addresses it binds.

:func:`portwatch.config.load_settings` checks the file's values; this checks the world they
point at, so that `portwatch config check` says "ok" only when `run` can start (issue 21):
the caregiver page's token file (readable, at least 16 characters), its address (parsed
and resolvable), the clinic's CA bundle (readable, holding certificates). `run` refuses to
start on the same page problems; a CA bundle it cannot use it only reports, one line, and
runs: every other channel still works, and an alert the clinic cannot take is escalated to
the caregiver, where a service that refused to start would tell nobody anything.
:func:`placeholder_problems` is for `config check` alone: the example file's sample
values, each named (issue 19). :func:`secret_url_problems` is a problem for `config check`
and a warning for `run`: a notification URL whose password sits in the settings file
(readable by every user of the Pi) is moved to a credential file, but a Pi that has one
keeps sending its notices until someone moves it.
:func:`settings_for_input` is what `add` and `import` need: the placement, the log's place.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from portwatch.config import Settings, config_path, load_settings

__all__ = [
    "WEB_TOKEN_MIN",
    "ca_problems",
    "placeholder_problems",
    "runtime_problems",
    "secret_url_problems",
    "settings_for_input",
    "web_problems",
    "web_token_path",
]

WEB_TOKEN_CREDENTIAL: Final = "web-token"  # noqa: S105 (a credential's name, not a secret)
WEB_TOKEN_MIN: Final = 16  # web.app.WebSettings refuses a shorter token
# The example settings file's sample values (config/portwatch.toml): a settings file still
# holding one would alert about the wrong patient, to nobody, or publish a patient's
# temperatures on a public push topic that every such household shares.
EXAMPLE_PATIENT: Final = "Patient/0001234"
EXAMPLE_DOMAINS: Final = ("example.org", "example.com", "example.net")
PLACEHOLDER_WORD: Final = "change-me"

Resolver = Callable[..., Any]


def web_token_path(settings: Settings, environ: Mapping[str, str]) -> Path | None:
    """The page's token file as `run` finds it: the setting, else the systemd credential."""
    if settings.web.token_file is not None:
        return settings.web.token_file
    directory = environ.get("CREDENTIALS_DIRECTORY", "")
    credential = Path(directory) / WEB_TOKEN_CREDENTIAL if directory else None
    return credential if credential is not None and credential.exists() else None


def runtime_problems(
    settings: Settings, environ: Mapping[str, str], *, resolve: Resolver = socket.getaddrinfo
) -> list[str]:
    """One line per thing `run` would trip over: the page's token and address, the CA file."""
    return [*web_problems(settings, environ, resolve), *ca_problems(settings.clinic.ca_bundle)]


def web_problems(
    settings: Settings, environ: Mapping[str, str], resolve: Resolver = socket.getaddrinfo
) -> list[str]:
    """The page's token file (readable, 16 characters or more) and address (resolvable)."""
    from portwatch.alerts.delivery import DeliveryError, load_secret

    path = web_token_path(settings, environ)
    if path is None:
        return []  # no token, no page: nothing is bound
    problems: list[str] = []
    try:
        token = load_secret(path)
    except DeliveryError as exc:
        problems.append(f"web.token_file: {exc}")
    else:
        if len(token) < WEB_TOKEN_MIN:
            problems.append(
                f"web.token_file: {path}: the token is {len(token)} characters long; the page "
                f"needs at least {WEB_TOKEN_MIN} (the token is not shown)"
            )
    host, port = settings.web.host, settings.web.port
    try:
        resolve(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        problems.append(
            f"web.address = {settings.web.address!r}: the page cannot listen on {host!r} "
            f"({reason}); use an address of this machine such as '127.0.0.1:8470'"
        )
    return problems


def ca_problems(path: Path | None) -> list[str]:
    """The clinic's CA bundle: readable, holding certificates in PEM format."""
    if path is None:
        return []
    try:
        context = ssl.create_default_context()
        if path.is_dir():
            context.load_verify_locations(capath=str(path))
        else:
            context.load_verify_locations(cafile=str(path))
    except ssl.SSLError:
        return [
            f"clinic.ca_bundle = '{path}': cannot be used (it holds no certificate in PEM format)"
        ]
    except OSError as exc:
        what = exc.strerror or str(exc)
        return [f"clinic.ca_bundle = '{path}': cannot be used ({what})"]
    return []


def placeholder_problems(settings: Settings) -> list[str]:
    """The example file's sample values still in place, one line each naming the setting."""
    problems: list[str] = []
    if settings.patient.reference == EXAMPLE_PATIENT:
        problems.append(
            f"patient.reference = '{EXAMPLE_PATIENT}': the example's sample patient; "
            "write the patient's reference at the clinic"
        )
    urls = {
        "clinic.url": settings.clinic.url,
        "notify.caregiver_url": settings.notify.caregiver_url,
        "notify.patient_url": settings.notify.patient_url,
    }
    for name, url in urls.items():
        if url is None:
            continue
        host = (urlsplit(url).hostname or "").lower()
        if PLACEHOLDER_WORD in url.lower():
            # The value is not shown: a push topic URL is its own secret (config.py).
            problems.append(
                f"{name}: still the example's placeholder (CHANGE-ME); a shared public push "
                "topic would publish the patient's temperatures: set your own"
            )
        elif any(host == d or host.endswith(f".{d}") for d in EXAMPLE_DOMAINS):
            problems.append(
                f"{name}: {host} is the example's placeholder domain; write the real address"
            )
    return problems


def secret_url_problems(settings: Settings) -> list[str]:
    """One line per notification URL whose password or token is written in the settings
    file itself, naming the setting and where the URL goes instead (never the URL)."""
    from portwatch.alerts.notify_credentials import NOTIFY_CREDENTIALS, secret_url_settings
    from portwatch.setup.files import CREDENTIALS_DIR

    problems: list[str] = []
    for name in secret_url_settings(dict(settings.notify)):
        key = name.removeprefix("notify.")
        problems.append(
            f"{name} (value not shown): holds a password or token in the settings file, which "
            f"every user of this machine can read; move the URL to "
            f"{CREDENTIALS_DIR / NOTIFY_CREDENTIALS[key]} (0600; `sudo portwatch setup "
            f"--{key.replace('_', '-')} URL` does it) and delete {name}, or name a 0600 file "
            f"with {name}_file"
        )
    return problems


def settings_for_input(argument: str | None, now: datetime) -> Settings | None:
    """The settings `add` and `import` judge input by (the placement, the log's place):
    ``--config FILE``, else the default file when it exists, else None. No secret is read.

    Raises:
        ConfigError: the file named is missing, or a settings file is invalid.
    """
    path = config_path(argument)
    if argument is None and not path.exists():
        return None
    return load_settings(path, now=now, secrets=False)
