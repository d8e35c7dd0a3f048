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
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from aiohttp import web

from portwatch.clock import Clock
from portwatch.model import Symptom
from portwatch.web.entry import COOKIE_NAME, LOGIN_PATH, EntryRoutes, LogEntrance
from portwatch.web.forms import Entrance
from portwatch.web.login import CodeStore
from portwatch.web.pages import STYLE_CSP_SOURCE
from portwatch.web.view import DisplaySettings

if TYPE_CHECKING:
    from portwatch.web.source import ClinicTarget

__all__ = [
    "COOKIE_NAME",
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


class ReportRejectedError(ValueError):
    """A symptom report that cannot be sent as given (no symptom, unknown name, long note)."""


class Pages(Protocol):
    """What the app shows: each method returns a whole HTML page. Called in a worker thread."""

    def now(self, now: datetime) -> str: ...

    def chart(self, now: datetime, day: int | None) -> str: ...

    def log(self, now: datetime, day: int | None, events: bool) -> str: ...

    def alerts(self, now: datetime) -> str: ...

    def summary(self, now: datetime) -> str: ...

    def report_form(self, done: str | None, error: str | None) -> str: ...

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

    def __post_init__(self) -> None:
        if len(self.token) < 16:
            raise ValueError("web access token must be at least 16 characters long")


def _token_ok(candidate: str | None, token: bytes) -> bool:
    if not candidate:
        return False
    return hmac.compare_digest(candidate.encode("utf-8", "surrogateescape"), token)


def _unauthorized() -> web.Response:
    return web.Response(status=401, body=b"")


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
    token = settings.token.encode()

    def token_ok(candidate: str | None) -> bool:
        return _token_ok(candidate, token)

    @web.middleware
    async def auth(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path == LOGIN_PATH and request.method == "GET":
            return await handler(request)  # the one way in without the cookie
        if not token_ok(request.cookies.get(COOKIE_NAME)):
            return _unauthorized()
        return await handler(request)

    async def build(func: Callable[[], str]) -> web.Response:
        async with asyncio.timeout(PAGE_TIMEOUT_S):
            text = await asyncio.to_thread(func)
        return web.Response(text=text, content_type="text/html", charset="utf-8")

    def day_of(request: web.Request) -> int | None:
        raw = request.query.get("day")
        if raw is None or raw == "":
            return None
        if not raw.isdigit() or not 1 <= int(raw) <= 366:
            raise web.HTTPBadRequest(text="day must be a number from 1")
        return int(raw)

    async def now_page(request: web.Request) -> web.Response:
        now = clock.now()
        return await build(lambda: pages.now(now))

    async def chart_page(request: web.Request) -> web.Response:
        now, day = clock.now(), day_of(request)
        return await build(lambda: pages.chart(now, day))

    async def log_page(request: web.Request) -> web.Response:
        now, day = clock.now(), day_of(request)
        events = request.query.get("events", "1") != "0"
        return await build(lambda: pages.log(now, day, events))

    async def alerts_page(request: web.Request) -> web.Response:
        now = clock.now()
        return await build(lambda: pages.alerts(now))

    async def summary_page(request: web.Request) -> web.Response:
        now = clock.now()
        return await build(lambda: pages.summary(now))

    async def report_form(request: web.Request) -> web.Response:
        done = "Sent. The clinic is alerted as urgent; portwatch keeps trying until it has it."
        shown = done if request.query.get("sent") == "1" else None
        return await build(lambda: pages.report_form(shown, None))

    async def report_submit(request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise web.HTTPForbidden(text="form posted from another site")
        form = await request.post()  # raises 413 beyond client_max_size
        now = clock.now()
        try:
            symptoms, note = parse_report(
                [str(v) for v in form.getall("symptom", [])], str(form.get("note", ""))
            )
        except ReportRejectedError as exc:
            message = str(exc)
            response = await build(lambda: pages.report_form(None, message))
            response.set_status(400)
            return response
        try:
            async with asyncio.timeout(PAGE_TIMEOUT_S):
                alert_id = await asyncio.to_thread(pages.submit_report, symptoms, note, now)
        except ValueError as exc:  # the payload builder's PayloadError: the report as given
            message = str(exc)
            response = await build(lambda: pages.report_form(None, message))
            response.set_status(400)
            return response
        _LOGGER.info("web: symptom report queued as alert %s", alert_id)
        raise web.HTTPSeeOther(location="/report?sent=1")

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        del request
        response.headers.update(SECURITY_HEADERS)

    async def close_pages(app: web.Application) -> None:
        del app
        await asyncio.to_thread(pages.close)

    app = web.Application(middlewares=[auth], client_max_size=MAX_BODY_BYTES)
    app.on_response_prepare.append(add_headers)
    app.on_cleanup.append(close_pages)
    app.router.add_get("/", now_page)
    app.router.add_get("/chart", chart_page)
    app.router.add_get("/log", log_page)
    app.router.add_get("/alerts", alerts_page)
    app.router.add_get("/summary", summary_page)
    app.router.add_get("/report", report_form)
    app.router.add_post("/report", report_submit)
    if entry is not None:
        EntryRoutes(
            settings.token, clock, entry.display, entry.codes, entry.entrance, token_ok
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

    pages = StorePages(store_path, display, target, submit=submit, next_reminder=next_reminder)
    entry = PageEntry(
        display,
        entrance if entrance is not None else LogEntrance(store_path, clock),
        CodeStore(store_path.parent),
    )
    return build_app(pages, settings, clock, entry)
