"""Which way a person's notification URL is sent, and whether Apprise can use it (issue 19).

A notification URL is classified by its scheme alone:

- ``http://`` and ``https://`` (``https://ntfy.sh/topic``, ``https://host/topic``): an
  ntfy-style topic, POSTed by :class:`~portwatch.alerts.posting.NotifySender` exactly as
  before Apprise came: Title and Priority headers, X-Sequence-ID, https unless the host is
  a loopback address, no credentials in the URL.
- any other scheme: an `Apprise <https://github.com/caronc/apprise>`_ URL, sent by
  :class:`~portwatch.alerts.apprise_sender.AppriseSender`: e-mail (``mailto://``,
  ``mailtos://``), SMS gateways, Signal, Telegram (``tgram://``), Pushover (``pover://``)
  and many more. Apprise's own ``ntfy://``/``ntfys://`` go through Apprise too (without
  X-Sequence-ID); ``https://`` never does, so an existing ntfy topic keeps working as it did.

An Apprise URL must be one Apprise can build a service from, and one that sends in clear
(plain SMTP: ``mailto://`` whose mode is not TLS; ``ntfy://``, ``json://``, ``signal://``
and the other plain twins of a TLS scheme) must go to a loopback address, as plain http
must for ntfy (alerts.md, "Delivery"): a notice names the patient's temperatures, and
the URL holds the password. No message here repeats a URL: it is often its own only secret.

Apprise is imported here only for a URL that is not http(s), so the daemon and the
commands with an ntfy topic (or none) never load it. Its own lookup of a URL's service
imports all of its ~190 services (218 modules, +23 MiB peak in the daemon, measured on
x86-64 by benchmarks/bench_notify_memory.py), and Apprise 2.3 has no option to load fewer
(its plugin manager loads every module at the first lookup). So for the schemes in
:data:`PLUGINS` (e-mail, SMS gateways, the chat services the documentation names) the one
module that serves it is imported and its service built from the URL as Apprise's own
``Apprise.instantiate`` builds it (``parse_url``, then the class); any other scheme goes
through ``Apprise.instantiate`` and costs the full load. A test checks every entry against
Apprise's own choice, so an upgrade that moves a service fails there, not on a Pi.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import apprise
    from apprise.plugins.base import NotifyBase

__all__ = [
    "NTFY_SCHEMES",
    "PLUGINS",
    "NotifyTransport",
    "apprise_problem",
    "build_apprise",
    "describe_notify_url",
    "is_loopback",
    "plugin_class",
    "scheme_of",
    "transport_of",
    "url_holds_secret",
]

# The schemes POSTed as today (ntfy-style); every other scheme is Apprise's.
NTFY_SCHEMES: Final = frozenset({"http", "https"})
# A scheme as RFC 3986 allows one: only such text is ever repeated in a message.
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}")
# The Apprise module and class serving each scheme a household is likely to use: only that
# module is imported (see the module's docstring); any other scheme loads all of Apprise.
_EMAIL: Final = ("email.base", "NotifyEmail")
PLUGINS: Final[Mapping[str, tuple[str, str]]] = {
    "mailto": _EMAIL,
    "mailtos": _EMAIL,
    "ntfy": ("ntfy", "NotifyNtfy"),
    "ntfys": ("ntfy", "NotifyNtfy"),
    "tgram": ("telegram", "NotifyTelegram"),
    "pover": ("pushover", "NotifyPushover"),
    "pbul": ("pushbullet", "NotifyPushBullet"),
    "twilio": ("twilio", "NotifyTwilio"),
    "clicksend": ("clicksend", "NotifyClickSend"),
    "vonage": ("vonage", "NotifyVonage"),
    "nexmo": ("vonage", "NotifyVonage"),
    "bulksms": ("bulksms", "NotifyBulkSMS"),
    "sinch": ("sinch", "NotifySinch"),
    "whatsapp": ("whatsapp", "NotifyWhatsApp"),
    "signal": ("signal_api", "NotifySignalAPI"),
    "signals": ("signal_api", "NotifySignalAPI"),
    "threema": ("threema", "NotifyThreema"),
    "gotify": ("gotify", "NotifyGotify"),
    "gotifys": ("gotify", "NotifyGotify"),
    "matrix": ("matrix.base", "NotifyMatrix"),
    "matrixs": ("matrix.base", "NotifyMatrix"),
    "discord": ("discord", "NotifyDiscord"),
    "slack": ("slack", "NotifySlack"),
    "json": ("custom_json", "NotifyJSON"),
    "jsons": ("custom_json", "NotifyJSON"),
}
# Apprise's mail plugin's mode that sends without TLS.
_MAIL_IN_CLEAR: Final = "insecure"


class NotifyTransport(StrEnum):
    """How a notification URL is sent."""

    NTFY = "ntfy"  # portwatch's own POST (posting.NotifySender)
    APPRISE = "apprise"  # through Apprise (apprise_sender.AppriseSender)


def scheme_of(url: str) -> str:
    """The URL's scheme in lower case, or "" when it has none a person could be shown."""
    scheme, sep, _ = url.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        return ""
    return scheme.lower()


def transport_of(url: str) -> NotifyTransport:
    """:attr:`NotifyTransport.NTFY` for http(s), :attr:`NotifyTransport.APPRISE` otherwise."""
    return NotifyTransport.NTFY if scheme_of(url) in NTFY_SCHEMES else NotifyTransport.APPRISE


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    return False


class _WhileChecking(logging.Filter):
    """Drops Apprise's records made on a thread that is only checking a URL: Apprise logs a
    URL it cannot load with parts of its password (``S...T``), and our own message says
    what is wrong. Other threads (a notice being sent) keep Apprise's log lines."""

    def __init__(self) -> None:
        super().__init__()
        self.checking: Counter[int] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        return self.checking[record.thread or 0] == 0


_CHECKING: Final = _WhileChecking()


@contextlib.contextmanager
def _apprise_silenced() -> Iterator[None]:
    logger = logging.getLogger("apprise")
    if _CHECKING not in logger.filters:
        logger.addFilter(_CHECKING)
    thread = threading.get_ident()
    _CHECKING.checking[thread] += 1
    try:
        yield
    finally:
        _CHECKING.checking[thread] -= 1


def build_apprise(url: str, *, quiet: bool = True) -> NotifyBase | None:
    """Apprise's service object for ``url`` (None when Apprise cannot use it); ``quiet``:
    Apprise logs nothing meanwhile (while a URL is only checked).

    Apprise's persistent storage is kept in memory: the Pi's service has no home directory
    to write a cache to, and nothing of a notice needs remembering across sends.
    """
    import apprise

    asset = apprise.AppriseAsset(storage_mode=apprise.PersistentStoreMode.MEMORY)
    if not quiet:
        return _instantiate(url, asset)
    with _apprise_silenced():
        return _instantiate(url, asset)


def plugin_class(scheme: str) -> type[NotifyBase] | None:
    """The Apprise class serving ``scheme``, importing its module alone; None for a
    scheme not in :data:`PLUGINS` (or one this Apprise no longer serves there)."""
    from apprise.plugins.base import NotifyBase

    where = PLUGINS.get(scheme)
    if where is None:
        return None
    try:
        module = importlib.import_module(f"apprise.plugins.{where[0]}")
    except ImportError:
        return None
    found = getattr(module, where[1], None)
    if not (isinstance(found, type) and issubclass(found, NotifyBase)):
        return None
    schemes = {*_names(found.protocol), *_names(found.secure_protocol)}
    return found if scheme in schemes else None


def _names(names: object) -> list[str]:
    if isinstance(names, str):
        return [names.lower()]
    return [str(n).lower() for n in names] if isinstance(names, tuple | list) else []


def _instantiate(url: str, asset: apprise.AppriseAsset) -> NotifyBase | None:
    """What ``Apprise.instantiate`` does for ``url``, with only the one plugin module it
    needs when :func:`plugin_class` knows it (else Apprise's own, all modules loaded)."""
    import apprise

    plugin = plugin_class(scheme_of(url))
    if plugin is None or not plugin.enabled:
        return apprise.Apprise.instantiate(url, asset=asset)
    results = plugin.parse_url(url.replace("/#", "/%23"))  # as apprise.plugins.url_to_dict
    if not results:
        return None
    try:
        service = plugin(**{**results, "tag": set(), "asset": asset})
    except Exception:  # noqa: BLE001 (Apprise's instantiate: a bad URL's arguments are None)
        return None
    return service if service.enabled else None


def _first(names: object) -> str:
    """Apprise's protocol attribute: a name, a tuple of names, or None."""
    if isinstance(names, str):
        return names
    if isinstance(names, tuple | list) and names:
        return str(names[0])
    return ""


def _in_clear_off_loopback(service: NotifyBase) -> bool:
    """Whether the service would send in clear to a host that is not loopback.

    E-mail by its mode and its SMTP server (``?smtp=`` may name another host than the
    URL's); any other service whose plain scheme has a TLS twin (``ntfy``/``ntfys``,
    ``json``/``jsons``, ``signal``/``signals``, ...) by the scheme used. A service with no
    host (``ntfy://topic``: ntfy.sh's own) sends to its cloud over TLS.
    """
    if type(service).__module__.startswith("apprise.plugins.email"):  # not imported otherwise
        mode = str(getattr(service, "secure_mode", ""))
        host = str(getattr(service, "smtp_host", "") or getattr(service, "host", ""))
        return mode == _MAIL_IN_CLEAR and not is_loopback(host)
    host = str(getattr(service, "host", "") or "")
    plain = _first(getattr(service, "protocol", None))
    return bool(plain and host and not getattr(service, "secure", True) and not is_loopback(host))


def apprise_problem(url: str) -> str | None:
    """Why Apprise cannot send to ``url``, as the rest of a sentence naming it ("the URL
    is not one ..."), never repeating it; None when it can."""
    scheme = scheme_of(url)
    shown = f"'{scheme}://'" if scheme else "no scheme"
    service = build_apprise(url)
    if service is None:
        return (
            f"is not one Apprise can send to ({shown}): give an http(s) ntfy topic, or an "
            "Apprise URL as its documentation for the service shows, such as "
            "mailtos://user:password@smtp.example.org?from=me@example.org&to=you@example.org"
        )
    if not _in_clear_off_loopback(service):
        return None
    secure = _first(getattr(service, "secure_protocol", None))
    if scheme == "mailto":
        return (
            "sends plain SMTP (mailto:// without TLS) to a mail server off loopback: use "
            "mailtos:// (STARTTLS, or ?mode=ssl) for a mail server on the network"
        )
    return (
        f"sends in clear ({shown}) to a host off loopback: use '{secure}://' (TLS), "
        "as plain http is only for a loopback address"
    )


def url_holds_secret(url: str) -> bool:
    """Whether ``url`` carries a secret beyond its address: a password (``user:password@``)
    or a token Apprise's service masks when it shows the URL (``tgram://``'s bot token,
    ``pover://``'s keys). An ntfy topic's name is not counted: it is the address itself."""
    from urllib.parse import urlsplit

    if transport_of(url) is NotifyTransport.NTFY:
        return bool(urlsplit(url).password)
    service = build_apprise(url)
    if service is None:
        return bool(urlsplit(url).password)
    shown = service.url(privacy=True)  # type: ignore[no-untyped-call]
    return bool(shown != service.url(privacy=False))  # type: ignore[no-untyped-call]


def describe_notify_url(url: str) -> str:
    """What a person may be shown of ``url``: how it is sent, never a topic or a password.

    ``"ntfy POST to https://ntfy.sh"``, ``"E-Mail through Apprise (mailtos://)"``.
    """
    scheme = scheme_of(url)
    if transport_of(url) is NotifyTransport.NTFY:
        from urllib.parse import urlsplit

        host = urlsplit(url).hostname or "?"
        return f"ntfy POST to {scheme}://{host}"
    service = build_apprise(url)
    name = str(getattr(service, "service_name", "")) or "a service"
    return f"{name} through Apprise ({scheme}://)"
