"""The caregiver page: an aiohttp application the daemon serves (issue 8).

Every request needs the access token, in an HttpOnly, SameSite=Strict cookie checked in
constant time. The token itself never travels in a URL (issue 19): a phone gets the cookie
by opening a one-time link (``/login?code=…``, :mod:`portwatch.web.login`), which
``portwatch setup`` or ``portwatch web link`` prints as a QR code. Without the cookie the
answer is 401 with an empty body and nothing else; only ``/login`` answers without it.

Every answer carries ``Cache-Control: no-store`` (health data must not linger in caches)
and a Content-Security-Policy that allows the one inline stylesheet by its hash and
nothing else: no scripts, no third-party anything, forms only to this server.

Pages are built in a worker thread (SQLite reads block) under a timeout, by a
:class:`Pages` implementation; :func:`make_app` wires the one that reads the log.

Hostile input is a 4xx, never a 500 (issue 21): a ``day`` must be ASCII digits, a form that
is not what its Content-Type says is 400, and a request whose ``Host`` is not this server
(an address literal, ``localhost``, the machine's own names, ``WebSettings.host_names``)
is 421, so a name rebound to the Pi reaches nothing. The daemon serves the app with
:func:`portwatch.serving.serve` within :data:`PAGE_LIMITS` (connection cap, deadlines,
per-peer cap on the home network).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from portwatch.clock import Clock
from portwatch.model import Symptom
from portwatch.serving import ServerLimits, host_allowed
from portwatch.web.entry import COOKIE_NAME, LOGIN_PATH, EntryRoutes, LogEntrance
from portwatch.web.forms import Entrance
from portwatch.web.login import CodeStore
from portwatch.web.pages import STYLE_CSP_SOURCE
from portwatch.web.view import DisplaySettings

if TYPE_CHECKING:
    from portwatch.web.source import ClinicTarget

__all__ = [
    "COOKIE_NAME",
    "PAGE_LIMITS",
    "SECURITY_HEADERS",
    "PageEntry",
    "Pages",
    "ReportRejectedError",
    "WebSettings",
    "build_app",
    "make_app",
]

_LOGGER = logging.getLogger(__name__)

# The largest body a page accepts: the symptom form is a few checkboxes and a 500-character
# note; anything bigger is refused with 413 before it is read.
MAX_BODY_BYTES: Final = 16 * 1024
MAX_NOTE_CHARS: Final = 500
# A page build reads SQLite in a worker thread; a reader never waits on the writer in WAL
# mode, so a page that takes this long means the disk is in trouble.
PAGE_TIMEOUT_S: Final = 15.0

SECURITY_HEADERS: Final[dict[str, str]] = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src {STYLE_CSP_SOURCE}; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # "same-origin", not "no-referrer": under no-referrer a browser posts forms with
    # "Origin: null", and the forms' same-origin check would refuse the caregiver's own
    # posts. No URL of the page carries a secret, and nothing goes to other sites.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


# The page's server bounds (issue 21): a few phones on the home network need a few dozen
# connections; 256 is plenty and, with the unit's LimitNOFILE, leaves descriptors for the log,
# the radio and clinic delivery however many connections a neighbour opens.
PAGE_LIMITS: Final = ServerLimits(
    name="web", max_connections=256, fd_reserve=512, per_peer=16, header_timeout_s=10.0
)


def _own_names() -> tuple[str, ...]:
    """This machine's own names: its hostname, and that name under mDNS's ``.local``."""
    name = socket.gethostname().lower().rstrip(".")
    short = name.split(".", 1)[0]
    return tuple(sorted({name, short, f"{short}.local"} - {""}))


class ReportRejectedError(ValueError):
    """A symptom report that cannot be sent as given (no symptom, unknown name, long note)."""


class Pages(Protocol):
    """What the app shows: each method returns a whole HTML page. Called in a worker thread."""

    def now(self, now: datetime) -> str: ...

    def chart(self, now: datetime, day: int | None) -> str: ...

    def log(self, now: datetime, day: int | None, events: bool) -> str: ...

    def alerts(self, now: datetime) -> str: ...

    def summary(self, now: datetime) -> str: ...

    def report_form(
        self, done: str | None, error: str | None, ticked: Sequence[str] = (), note: str = ""
    ) -> str:
        """The symptom form; a refused one (`error`) as it was filled in."""
        ...

    def submit_report(self, symptoms: Sequence[Symptom], note: str, now: datetime) -> str:
        """Record the report and queue its urgent clinic alert; returns the alert's id."""
        ...

    def close(self) -> None:
        """Release what the pages hold (a database connection); called on shutdown."""
        ...


@dataclass(frozen=True, slots=True)
class WebSettings:
    """How the page is served; the daemon maps its settings onto this."""

    token: str  # the access token (from a secret file); at least 16 characters
    host: str = "127.0.0.1"  # loopback by default (issue 8)
    port: int = 8470  # the default of [web] address in the settings: 127.0.0.1:8470
    # Names (besides address literals and "localhost") the page answers for, e.g. the Pi's
    # "raspberrypi.local"; any other Host is refused so a rebound name reaches nothing.
    host_names: tuple[str, ...] = field(default_factory=_own_names)

    def __post_init__(self) -> None:
        if len(self.token) < 16:
            raise ValueError("web access token must be at least 16 characters long")


def _token_ok(candidate: str | None, token: bytes) -> bool:
    if not candidate:
        return False
    return hmac.compare_digest(candidate.encode("utf-8", "surrogateescape"), token)


def _unauthorized() -> web.Response:
    return web.Response(status=401, body=b"")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _guard(settings: WebSettings) -> Middleware:
    """The middleware every request passes: a Host that is this server, then the cookie
    (``/login`` alone answers without it: it is where a phone gets the cookie)."""
    token = settings.token.encode()
    names = (*settings.host_names, settings.host)  # the name it was told to listen on, too

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not host_allowed(request.headers.get("Host"), names):
            # A name rebound to this address (DNS rebinding) is not the caregiver's page.
            raise web.HTTPMisdirectedRequest(text="this server does not answer for that name")
        if request.path == LOGIN_PATH and request.method == "GET":
            return await handler(request)  # the one way in without the cookie
        if not _token_ok(request.cookies.get(COOKIE_NAME), token):
            return _unauthorized()
        return await handler(request)

    return guard


def day_of(request: web.Request) -> int | None:
    """The ``day`` query parameter: ASCII digits 1 to 366, or absent.

    ``str.isdigit`` also says yes to "²" and "①", which ``int`` refuses, and ``int``
    reads other scripts' digits; only 0-9 are a day here.
    """
    raw = request.query.get("day")
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= 366):
        raise web.HTTPBadRequest(text="day must be a number from 1 to 366")
    return int(raw)


class _Routes:
    """The page's request handlers: each reads the request, builds its page off the loop."""

    def __init__(self, pages: Pages, clock: Clock) -> None:
        self.pages = pages
        self.clock = clock

    async def build(self, func: Callable[[], str]) -> web.Response:
        async with asyncio.timeout(PAGE_TIMEOUT_S):
            text = await asyncio.to_thread(func)
        return web.Response(text=text, content_type="text/html", charset="utf-8")

    async def now_page(self, request: web.Request) -> web.Response:
        now = self.clock.now()
        return await self.build(lambda: self.pages.now(now))

    async def chart_page(self, request: web.Request) -> web.Response:
        now, day = self.clock.now(), day_of(request)
        return await self.build(lambda: self.pages.chart(now, day))

    async def log_page(self, request: web.Request) -> web.Response:
        now, day = self.clock.now(), day_of(request)
        events = request.query.get("events", "1") != "0"
        return await self.build(lambda: self.pages.log(now, day, events))

    async def alerts_page(self, request: web.Request) -> web.Response:
        now = self.clock.now()
        return await self.build(lambda: self.pages.alerts(now))

    async def summary_page(self, request: web.Request) -> web.Response:
        now = self.clock.now()
        return await self.build(lambda: self.pages.summary(now))

    async def report_form(self, request: web.Request) -> web.Response:
        done = "Sent. The clinic is alerted as urgent; portwatch keeps trying until it has it."
        shown = done if request.query.get("sent") == "1" else None
        return await self.build(lambda: self.pages.report_form(shown, None))

    async def _refused_form(
        self, message: str, ticked: Sequence[str] = (), note: str = ""
    ) -> web.Response:
        response = await self.build(lambda: self.pages.report_form(None, message, ticked, note))
        response.set_status(400)
        return response

    async def report_submit(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise web.HTTPForbidden(text="form posted from another site")
        try:
            form = await request.post()  # raises 413 beyond client_max_size
        except (ValueError, LookupError):
            # A body that is not the form its Content-Type says (no multipart boundary, an
            # unknown charset, bytes that are not UTF-8): the form cannot be read.
            raise web.HTTPBadRequest(text="the form could not be read") from None
        now = self.clock.now()
        ticked, typed = [str(v) for v in form.getall("symptom", [])], str(form.get("note", ""))
        try:
            symptoms, note = parse_report(ticked, typed)
        except ReportRejectedError as exc:
            return await self._refused_form(str(exc), ticked, typed)
        try:
            async with asyncio.timeout(PAGE_TIMEOUT_S):
                alert_id = await asyncio.to_thread(self.pages.submit_report, symptoms, note, now)
        except ValueError as exc:  # the payload builder's PayloadError: the report as given
            return await self._refused_form(str(exc), ticked, typed)
        _LOGGER.info("web: symptom report queued as alert %s", alert_id)
        raise web.HTTPSeeOther(location="/report?sent=1")


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    del request
    response.headers.update(SECURITY_HEADERS)


@dataclass(frozen=True, slots=True)
class PageEntry:
    """What the page's forms and its one-time links need (issue 19)."""

    display: DisplaySettings  # the forms' unit and the patient's clock
    entrance: Entrance  # where a hand reading and a pause go: the running service
    codes: CodeStore | None  # the state directory's one-time codes (None: no login links)


def build_app(
    pages: Pages, settings: WebSettings, clock: Clock, entry: PageEntry | None = None
) -> web.Application:
    """The application for `pages`, guarded by `settings.token`. No globals: one per call.

    With `entry`, the page also takes one-time links and has the reading and pause forms.
    """
    routes = _Routes(pages, clock)

    async def close_pages(app: web.Application) -> None:
        del app
        await asyncio.to_thread(pages.close)

    app = web.Application(middlewares=[_guard(settings)], client_max_size=MAX_BODY_BYTES)
    app.on_response_prepare.append(_add_headers)
    app.on_cleanup.append(close_pages)
    app.router.add_get("/", routes.now_page)
    app.router.add_get("/chart", routes.chart_page)
    app.router.add_get("/log", routes.log_page)
    app.router.add_get("/alerts", routes.alerts_page)
    app.router.add_get("/summary", routes.summary_page)
    app.router.add_get("/report", routes.report_form)
    app.router.add_post("/report", routes.report_submit)
    if entry is not None:
        token = settings.token.encode()
        EntryRoutes(
            settings.token,
            clock,
            entry.display,
            entry.codes,
            entry.entrance,
            lambda offered: _token_ok(offered, token),
        ).add_to(app)
    return app


def parse_report(names: Sequence[str], note: str) -> tuple[tuple[Symptom, ...], str]:
    """Validate a symptom report from a form or the command line.

    Raises:
        ReportRejectedError: with no symptom, an unknown symptom name, or a note too long.
    """
    if not names:
        raise ReportRejectedError("tick at least one symptom")
    symptoms: list[Symptom] = []
    for name in names:
        try:
            symptom = Symptom(name.strip().lower())
        except ValueError:
            known = ", ".join(s.value for s in Symptom)
            raise ReportRejectedError(f"unknown symptom {name!r}; known: {known}") from None
        if symptom not in symptoms:
            symptoms.append(symptom)
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise ReportRejectedError(f"note is {len(note)} characters; at most {MAX_NOTE_CHARS}")
    if Symptom.OTHER in symptoms and not note:
        raise ReportRejectedError("say what 'other' is in the note")
    return tuple(symptoms), note


def make_app(
    store_path: Path,
    settings: WebSettings,
    display: DisplaySettings,
    target: ClinicTarget,
    clock: Clock,
    *,
    submit: Callable[[Sequence[Symptom], str, datetime], str] | None = None,
    next_reminder: Callable[[datetime], tuple[datetime, str] | None] | None = None,
    entrance: Entrance | None = None,
) -> web.Application:
    """The caregiver page over the log at `store_path` (what `portwatch run` serves).

    `target` says who symptom reports are about and how the clinic takes them.
    `submit` lets the daemon record a symptom report on its own writer thread and wake
    its deliverer (it returns the alert's id); without it the page opens the log for
    writing itself, as `portwatch report` does. `next_reminder(now)` gives the next care
    reminder for the status page, from the daemon's calendar. `entrance` takes the forms'
    hand readings and pauses (the daemon's own reading path); without it they write the
    log, as the commands do when no service runs. One-time links are those of the log's
    state directory.
    """
    from portwatch.web.source import StorePages

    pages = StorePages(
        store_path,
        display,
        target,
        submit=submit,
        next_reminder=next_reminder,
        clock_trust=lambda: clock.trust,
    )
    entry = PageEntry(
        display,
        entrance if entrance is not None else LogEntrance(store_path, clock),
        CodeStore(store_path.parent),
    )
    return build_app(pages, settings, clock, entry)
