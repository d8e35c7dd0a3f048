"""The page's ways in and its forms' handlers (issue 19): the one-time link, a hand reading,
a pause.

``GET /login?code=…`` is the only request the guard lets through without the cookie. A good
code is used up and answered with the HttpOnly, SameSite=Strict cookie and a redirect to
``/``, so neither the token nor a usable code stays in the address bar or the history. A
used, expired or unknown code gets a page saying how to get a new link (410, or 404 for a
code never issued).

The forms post like the symptom form: same-origin only (the ``Origin`` header, and the
SameSite=Strict cookie that a cross-site post never carries), then POST-redirect-GET so a
reload does not record a reading twice.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from aiohttp import web

from portwatch.clock import Clock
from portwatch.model import Reading
from portwatch.web.forms import (
    Entrance,
    FormRejectedError,
    login_failed_page,
    parse_hand_reading,
    parse_pause,
    record_page,
)
from portwatch.web.login import CodeStore, Redeemed
from portwatch.web.view import DisplaySettings, fmt_time

__all__ = ["LOGIN_PATH", "EntryRoutes", "LogEntrance", "set_token_cookie"]

_LOGGER = logging.getLogger(__name__)

LOGIN_PATH: Final = "/login"
COOKIE_NAME: Final = "portwatch_token"
# The cookie outlives the monitored period (fever-rule.md §7: 10 days) with room to spare,
# so a caregiver who opened the link on day 1 is not locked out at the check.
COOKIE_MAX_AGE_S: Final = 30 * 24 * 3600
# A form's write waits at most this long for the service (the log's writer, a busy disk).
ENTRY_TIMEOUT_S: Final = 15.0


def set_token_cookie(response: web.StreamResponse, token: str, secure: bool) -> None:
    """The page's cookie: the token, out of reach of scripts and of other sites' requests."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=COOKIE_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=secure,
    )


class LogEntrance:
    """:class:`~portwatch.web.forms.Entrance` without a service: the forms write the log
    themselves, as ``portwatch add`` and ``pause`` do when no service runs."""

    def __init__(self, store_path: Path, clock: Clock) -> None:
        self._path = store_path
        self._clock = clock

    async def add_reading(self, reading: Reading) -> None:
        from portwatch.log.store import Store

        def write() -> None:
            with Store.open(self._path) as store:
                store.add_readings([reading])

        await asyncio.to_thread(write)

    async def pause(self, duration: timedelta, reason: str) -> datetime:
        from portwatch.log.store import Store
        from portwatch.service.watch import make_pause

        pause = make_pause(self._clock.now(), duration, reason)

        def write() -> None:
            with Store.open(self._path) as store:
                store.add_note(pause.start, pause.end, pause.reason)

        await asyncio.to_thread(write)
        return pause.end


def _same_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.host}":
        raise web.HTTPForbidden(text="form posted from another site")


async def _form(request: web.Request) -> dict[str, str]:
    _same_origin(request)
    try:
        form = await request.post()  # raises 413 beyond client_max_size
    except (ValueError, LookupError):
        raise web.HTTPBadRequest(text="the form could not be read") from None
    return {key: str(value) for key, value in form.items()}


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


@dataclass(slots=True)
class EntryRoutes:
    """The handlers of ``/login``, ``/record``, ``/reading`` and ``/pause``."""

    token: str
    clock: Clock
    display: DisplaySettings
    codes: CodeStore | None
    entrance: Entrance
    token_ok: Callable[[str | None], bool]

    def add_to(self, app: web.Application) -> None:
        app.router.add_get(LOGIN_PATH, self.login)
        app.router.add_get("/record", self.record_form)
        app.router.add_post("/reading", self.reading_submit)
        app.router.add_post("/pause", self.pause_submit)

    async def login(self, request: web.Request) -> web.StreamResponse:
        """Exchange a one-time code for the cookie; a phone with the cookie just goes on."""
        if self.token_ok(request.cookies.get(COOKIE_NAME)):
            raise web.HTTPSeeOther(location="/")
        code = request.query.get("code", "")
        outcome = Redeemed.UNKNOWN
        if self.codes is not None:
            now = self.clock.now()
            codes = self.codes
            outcome = await asyncio.to_thread(codes.redeem, code, now)
        if outcome is not Redeemed.OK:
            _LOGGER.info("web: a login link was refused (%s)", outcome.value)
            status = 404 if outcome is Redeemed.UNKNOWN else 410
            return _html(login_failed_page(outcome), status)
        _LOGGER.info("web: a login link was used; the phone has its cookie")
        response: web.StreamResponse
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            # Opened from another app or the camera: browsers withhold SameSite=Strict
            # cookies on a redirect chain that started elsewhere, so move on from our page.
            response = _html(
                '<!doctype html><meta charset="utf-8">'
                '<meta http-equiv="refresh" content="0;url=/">'
                f'<a href="{html.escape("/")}">Continue</a>'
            )
        else:
            response = web.Response(status=303, headers={"Location": "/"})
        set_token_cookie(response, self.token, request.secure)
        return response

    async def record_form(self, request: web.Request) -> web.Response:
        done = request.query.get("done")
        shown = _DONE.get(done or "")
        until = _paused_until(request.query.get("until", ""))
        if done == "pause" and until is not None:
            shown = (
                f"Paused until {fmt_time(until, self.display.zone)}: no “thermometer silent” "
                "notice until then; fever alerts still go out."
            )
        return _html(record_page(self.display, done=shown))

    async def _refused(self, message: str, form: dict[str, str]) -> web.Response:
        return _html(record_page(self.display, error=message, typed=form), 400)

    async def reading_submit(self, request: web.Request) -> web.StreamResponse:
        form = await _form(request)
        now = self.clock.now()
        try:
            reading = parse_hand_reading(
                form.get("temperature", ""),
                form.get("unit", ""),
                form.get("at", ""),
                form.get("site", ""),
                now,
                self.display,
            )
        except FormRejectedError as exc:
            return await self._refused(str(exc), form)
        async with asyncio.timeout(ENTRY_TIMEOUT_S):
            await self.entrance.add_reading(reading)
        _LOGGER.info("web: a hand reading was recorded")
        raise web.HTTPSeeOther(location="/record?done=reading")

    async def pause_submit(self, request: web.Request) -> web.StreamResponse:
        form = await _form(request)
        try:
            duration, reason = parse_pause(form.get("duration", ""), form.get("reason", ""))
            async with asyncio.timeout(ENTRY_TIMEOUT_S):
                until = await self.entrance.pause(duration, reason)
        except (FormRejectedError, ValueError) as exc:  # PauseError is a ValueError
            return await self._refused(str(exc), form)
        _LOGGER.info("web: paused until %s", until.isoformat())
        # The end travels in the redirect (it is no secret) so the page can say it.
        raise web.HTTPSeeOther(location=f"/record?done=pause&until={int(until.timestamp())}")


def _paused_until(text: str) -> datetime | None:
    """The pause's end from the redirect: Unix seconds in ASCII digits, else nothing said."""
    if not (text.isascii() and text.isdigit() and len(text) <= 11):
        return None
    return datetime.fromtimestamp(int(text), UTC)


_DONE: Final[dict[str, str]] = {
    "reading": "Recorded. The fever rule has it, like a reading from the thermometer.",
    "pause": "Paused. No “thermometer silent” notice until the pause ends; "
    "fever alerts still go out.",
}
