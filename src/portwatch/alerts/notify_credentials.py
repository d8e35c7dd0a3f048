"""A person's notification URL kept in a credential file instead of the settings (issue 19).

An Apprise URL such as ``mailtos://user:password@host`` holds its password, and the settings
file is 0644: every user of the Pi could read it. So, like the clinic's secret, the whole
URL may live in a file that only the service reads:

- ``notify.caregiver_url_file`` / ``notify.patient_url_file`` name such a file, or
- systemd hands the service ``$CREDENTIALS_DIRECTORY/caregiver-url`` (``patient-url``),
  from ``LoadCredential=caregiver-url:/etc/portwatch/credentials/caregiver-url``, which is
  where ``portwatch setup`` writes it (0600, in the 0700 credentials directory).

A URL written in the settings wins over a credential (the settings say what they mean),
and ``notify.caregiver_url`` together with ``notify.caregiver_url_file`` is refused. The
unit gives each credential a fallback (``SetCredential=caregiver-url:none``: systemd
would not start the service for a missing ``LoadCredential=`` file), and
:data:`NO_URL` read from the credentials directory means "no URL there".

No message here repeats a URL or the file's contents: the file exists to keep them private.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from portwatch.alerts.endpoints import DeliveryError, check_notify_url, load_secret

__all__ = [
    "NOTIFY_CREDENTIALS",
    "NO_URL",
    "notify_url_file",
    "secret_url_settings",
    "urls_from_files",
]

# The settings key of each person's URL and the systemd credential it may come from.
NOTIFY_CREDENTIALS: Final[Mapping[str, str]] = {
    "caregiver_url": "caregiver-url",
    "patient_url": "patient-url",
}
# The unit's SetCredential= fallback for a credential whose file does not exist.
NO_URL: Final = "none"


def notify_url_file(key: str, configured: Path | None, environ: Mapping[str, str]) -> Path | None:
    """Where ``key``'s URL is kept: the ``*_file`` setting, else the systemd credential when
    the credentials directory holds it, else None (no file: the settings' URL or none)."""
    if configured is not None:
        return configured
    directory = environ.get("CREDENTIALS_DIRECTORY", "")
    if not directory:
        return None
    credential = Path(directory) / NOTIFY_CREDENTIALS[key]
    return credential if credential.exists() else None


def _read(path: Path, *, fallback_allowed: bool) -> str | None:
    """The URL in ``path``, checked as the settings check one (never repeated)."""
    try:
        text = load_secret(path)
    except DeliveryError:
        if fallback_allowed and path.exists() and path.stat().st_size == 0:
            return None
        raise
    if fallback_allowed and text == NO_URL:
        return None
    check_notify_url(text, f"the URL in {path}")
    return text


def urls_from_files(
    values: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The notify section's URLs read from their files: the updates (``caregiver_url`` and
    the ``caregiver_url_file`` it came from) and one problem line per unusable file.

    ``values`` is the ``[notify]`` section as loaded from the settings.
    """
    updates: dict[str, Any] = {}
    problems: list[str] = []
    for key in NOTIFY_CREDENTIALS:
        configured = values.get(f"{key}_file")
        if values.get(key) is not None:
            if configured is not None:
                problems.append(
                    f"notify.{key} and notify.{key}_file: both set; keep the URL in the file "
                    f"and remove notify.{key}"
                )
            continue
        path = notify_url_file(key, configured, environ)
        if path is None:
            continue
        try:
            url = _read(path, fallback_allowed=configured is None)
        except DeliveryError as exc:
            problems.append(f"notify.{key}_file: {exc}")
            continue
        if url is not None:
            updates[key] = url
            updates[f"{key}_file"] = path
    return updates, problems


def secret_url_settings(values: Mapping[str, Any]) -> list[str]:
    """The notify settings whose URL, written in the settings file itself, holds a password
    or a token (``notify.caregiver_url``); a URL read from a file is not counted."""
    from portwatch.alerts.notify_url import url_holds_secret

    found: list[str] = []
    for key in NOTIFY_CREDENTIALS:
        url = values.get(key)
        if isinstance(url, str) and values.get(f"{key}_file") is None and url_holds_secret(url):
            found.append(f"notify.{key}")
    return found
