"""`portwatch run`: the stages wired into one asyncio event loop. A wiring module only.

thermometer → :class:`~portwatch.ble.link.Link` → :class:`~portwatch.log.writer.ReadingWriter`
(durable, :mod:`portwatch.service.readings`) → :class:`~portwatch.fever.rule.FeverRule`
(durable readings only) → :class:`~portwatch.service.recorder.Recorder` (the decision and its
outbox rows in one transaction, :mod:`portwatch.alerts.outbound`) →
:class:`~portwatch.alerts.delivery.Deliverer` (clinic and notify channels). Timed work
(:mod:`portwatch.service.schedule`) advances the rule, watches for silence
(:mod:`portwatch.service.watch`), sends care reminders (:mod:`portwatch.service.care`), the
heartbeat and the daily summary; :mod:`portwatch.service.storage_alarm` tells the caregiver
when the log refuses writes; :mod:`portwatch.service.fever_state` remembers the episode.
Everything reads one :class:`~portwatch.clock.Clock`, so the demo and the tests run this
same code on a VirtualClock.

The parts are built once, in order, by :func:`~portwatch.service.wiring.open_service`; every
stage runs under :func:`~portwatch.stages.supervise`: a failure is logged and that stage
alone restarted after a backoff, never taking the daemon or a sibling down. :meth:`Daemon.stop`
(SIGTERM) ends it cleanly: the link first, then every waiting reading written and decided,
then delivery, the scheduler and the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from portwatch.alerts.delivery import ClinicEndpoint
from portwatch.clock import Clock
from portwatch.config import Settings
from portwatch.fever.rule import RuleSettings
from portwatch.identity import gateway_id as installation_id
from portwatch.log.store import Store
from portwatch.model import Symptom
from portwatch.service.hooks import DaemonHooks
from portwatch.service.readings import Facts
from portwatch.service.storage_alarm import SENT_DIRECTLY_HOLD
from portwatch.service.systemd import Notifier
from portwatch.service.wiring import (
    DaemonError,
    Launch,
    Service,
    new_fever_state,
    open_service,
    status_text,
)

if TYPE_CHECKING:
    from portwatch.ble.radio import Radio
    from portwatch.serving import ServerStats

__all__ = [
    "SENT_DIRECTLY_HOLD",
    "Daemon",
    "DaemonError",
    "DaemonHooks",
    "rule_settings",
]


def rule_settings(settings: Settings) -> RuleSettings:
    """The rule's settings from the ``[rule]`` section (same names, same units)."""
    return settings.rule.rule_settings()


class Daemon:
    """The whole product on one event loop; ``await Daemon(...).run()`` until :meth:`stop`.

    A handle: it holds what the daemon is started with (a frozen
    :class:`~portwatch.service.wiring.Launch`); :meth:`run` builds the parts once
    (:func:`~portwatch.service.wiring.open_service`) and :attr:`service` is them while it runs.

    Args:
        settings: validated settings (:func:`portwatch.config.load_settings`).
        clock: the one clock every stage reads.
        signing_clock: the clock clinic signatures are timed on (``webhook-timestamp``),
            which the clinic checks against its own within 5 minutes: the system wall
            clock for ``portwatch run`` (``clock`` is a
            :class:`~portwatch.service.timekeeping.TrustedClock`, counted from the
            placement or the log until the system clock is synchronised), the virtual
            clock for the simulation, whose inbox runs on it. Required: no default can be
            right for both.
        radio: the radio (``SYSTEM_RADIO`` on the Pi; a ``VirtualRadio`` for the demo and
            the tests).
        clinic: where clinic alerts go (:func:`portwatch.config.clinic_endpoint`; None: no
            clinic URL, alerts wait in the outbox).
        web_token: the caregiver page's access token (None: no page).
        web_port: overrides the port of ``web.address`` (0 picks a free one).
        notifier: systemd's notify socket (a no-op outside systemd).
        watchdog_s: how often to send WATCHDOG=1 (None: systemd expects none).
        gateway_id: this gateway's identity in alerts (default: the host name).
        hooks: observers for the demo and the tests.

    Raises:
        DaemonError: at :meth:`run`, when the log cannot be opened.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        radio: Radio,
        signing_clock: Clock,
        clinic: ClinicEndpoint | None = None,
        web_token: str | None = None,
        web_port: int | None = None,
        notifier: Notifier | None = None,
        watchdog_s: float | None = None,
        gateway_id: str | None = None,
        hooks: DaemonHooks | None = None,
    ) -> None:
        self.launch = Launch(
            settings,
            clock,
            radio,
            signing_clock,
            clinic=clinic,
            web_token=web_token,
            web_port=web_port,
            notifier=notifier or Notifier({}),
            watchdog_s=watchdog_s,
            gateway_id=gateway_id or installation_id(settings.patient.reference),
            hooks=hooks or DaemonHooks(),
        )
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._service: Service | None = None
        self._facts = Facts(started_at=clock.now())  # the running service's; kept after it

    # -- public ---------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.launch.settings

    @property
    def state_dir(self) -> Path:
        return self.launch.settings.store.state_directory

    @property
    def db_path(self) -> Path:
        return self.launch.db_path

    @property
    def service(self) -> Service:
        """The running daemon's parts.

        Raises:
            DaemonError: the daemon is not running.
        """
        if self._service is None:
            raise DaemonError("the daemon is not running")
        return self._service

    @property
    def store(self) -> Store:
        """The event loop's connection to the log (open while running)."""
        return self.service.store

    @property
    def web_url(self) -> str | None:
        """The caregiver page's address once it serves (None: no page, or not yet)."""
        service = self._service
        return None if service is None or service.page is None else service.page.url

    @property
    def web_stats(self) -> ServerStats | None:
        """The page's connection guard's figures once it serves (issue 21; for campaigns)."""
        service = self._service
        return None if service is None or service.page is None else service.page.stats

    @property
    def ready(self) -> asyncio.Event:
        """Set once the log is open, the rule rebuilt and the link started."""
        return self._ready

    @property
    def readings_received(self) -> int:
        """Readings the link handed over in the last run (still counted after it stops)."""
        return self._facts.readings_received

    @property
    def readings_durable(self) -> int:
        """Readings written durably in the last run (still counted after it stops)."""
        return self._facts.readings_durable

    def status_text(self) -> str:
        """The status line systemd shows (before the start: as the daemon would begin)."""
        if self._service is not None:
            return self._service.status_text()
        launch = self.launch
        fever = new_fever_state(launch.settings)
        return status_text(launch.settings, launch.clock, self._facts, fever)

    def stop(self) -> None:
        """Ask for a clean stop (what SIGTERM does); :meth:`run` returns when it is done."""
        self._stop.set()

    async def run(self) -> None:
        """Run until :meth:`stop` (or cancellation); always stops cleanly on the way out."""
        try:
            async with open_service(self.launch) as service:
                self._service, self._facts = service, service.facts
                self._ready.set()
                if self.launch.hooks.on_ready is not None:
                    self.launch.hooks.on_ready()
                await self._stop.wait()
        finally:
            self._service = None

    async def report_symptoms(self, symptoms: Sequence[Symptom], note: str) -> str:
        """Queue the clinic's urgent alert for a symptom report, then log it; returns its id.

        Raises:
            PayloadError: no symptom, or "other" without a note.
        """
        return self.service.recorder.report_symptoms(symptoms, note)

    def pause(self, duration: timedelta, reason: str) -> None:
        """Off the body on purpose from now (issue 7, ``portwatch pause``): a note in the log."""
        now = self.launch.clock.now()
        self.store.add_note(now, now + duration, reason)
