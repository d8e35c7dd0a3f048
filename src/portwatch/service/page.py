"""The caregiver's page as one of the daemon's stages (web/app.py serves it).

A stage like any other: if it cannot start (its port is taken, its app fails to build) the
failure is logged and the page tried again after a backoff, while the readings, the rule and
delivery to the clinic go on (issue 21, "Stage isolation").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Final

from portwatch.clock import Clock
from portwatch.config import Settings
from portwatch.log.store import DB_FILE_NAME
from portwatch.model import Symptom
from portwatch.service.care import next_reminder_time
from portwatch.service.recorder import Recorder

if TYPE_CHECKING:
    from aiohttp import web

    from portwatch.serving import ServerStats

__all__ = ["Page", "next_reminder", "page_for"]

_LOGGER = logging.getLogger("portwatch.service.daemon")

# How long a symptom report from the page may wait for the event loop (web/app.py's
# PAGE_TIMEOUT_S is 15 s; answer before it gives up).
REPORT_TIMEOUT_S: Final = 10.0


class Page:
    """Serves ``make_app()`` on ``host:port`` from :meth:`run` until cancelled; :meth:`close`
    stops it. :attr:`tried` is set once the first start has succeeded or failed."""

    def __init__(self, make_app: Callable[[], web.Application], host: str, port: int) -> None:
        self._make_app = make_app
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url: str | None = None
        self.stats: ServerStats | None = None  # the connection guard's figures, once serving
        self.tried = asyncio.Event()

    async def run(self) -> None:
        """Start the page and serve it until cancelled (the stage)."""
        from portwatch.serving import serve
        from portwatch.web.app import PAGE_LIMITS

        await self.close()  # a restart after a failure
        try:
            # Bounded (issue 21): connection cap, head/body deadlines, per-peer cap on the LAN.
            served = await serve(self._make_app(), self._host, self._port, PAGE_LIMITS)
            self._runner = served.runner
            self.stats = served.stats
        finally:
            self.tried.set()
        host = f"[{self._host}]" if ":" in self._host else self._host  # IPv6 in brackets
        self.url = f"http://{host}:{served.port}/"
        _LOGGER.info("caregiver page at %s", self.url)
        await asyncio.get_running_loop().create_future()  # serve until cancelled

    async def close(self) -> None:
        """Stop serving (at stop, and before a restart)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


def page_for(
    settings: Settings, clock: Clock, recorder: Recorder, *, token: str, port: int | None
) -> Page:
    """The caregiver's page over the daemon's log, its symptom form on ``recorder``
    (``port`` overrides the one in ``web.address``; 0 picks a free one)."""
    host = settings.web.host  # an IPv6 address without its brackets (issue 21)
    web_port = settings.web.port if port is None else port
    loop = asyncio.get_running_loop()

    def submit(symptoms: Sequence[Symptom], note: str, now: datetime) -> str:
        """The page's symptom form, called from a worker thread: run it on the event loop."""
        del now  # the daemon's clock times the report, as it times everything it logs

        async def report() -> str:
            return recorder.report_symptoms(symptoms, note)

        future = asyncio.run_coroutine_threadsafe(report(), loop)
        return future.result(timeout=REPORT_TIMEOUT_S)

    def make_app() -> web.Application:
        from portwatch.web.app import WebSettings, make_app
        from portwatch.web.settings import display_settings
        from portwatch.web.source import ClinicTarget

        return make_app(
            settings.store.state_directory / DB_FILE_NAME,
            WebSettings(token=token, host=host, port=web_port),
            display_settings(settings),
            ClinicTarget(recorder.outbound.context, recorder.outbound.clinic_format),
            clock,
            submit=submit,
            next_reminder=partial(next_reminder, settings),
        )

    return Page(make_app, host, web_port)


def next_reminder(settings: Settings, now: datetime) -> tuple[datetime, str] | None:
    """The page's "next care reminder" line."""
    when = next_reminder_time(
        settings.patient.placement,
        now,
        zone=settings.zone,
        at=settings.notify.reminders_at,
        port_in_regular_use=settings.patient.port_in_regular_use,
    )
    return None if when is None else (when, "care reminder")
