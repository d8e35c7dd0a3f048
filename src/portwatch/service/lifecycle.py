"""Starting and stopping the daemon's parts (:mod:`portwatch.service.wiring` builds them):
schedule the jobs, spawn the stages, tell systemd READY; on the way out, stop in the order
that loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from portwatch import __version__
from portwatch.alerts import payloads
from portwatch.service.schedule import every

if TYPE_CHECKING:
    from portwatch.service.wiring import Service

__all__ = ["STOP_STEP_S", "TICK", "close_parts", "notify", "start", "stop"]

_LOGGER = logging.getLogger("portwatch.service.daemon")

# How often the rule is advanced (fever-rule.md §2, §5): a stream window closes, a recheck
# falls due or an episode resolves at most this late.
TICK: Final = timedelta(minutes=1)
# Issue 7: SIGTERM stops cleanly within 10 s; each shutdown step gets a share of it.
STOP_STEP_S: Final = 3.0


def notify(send: Callable[..., bool], *args: str) -> None:
    """One message to systemd; a failure is not the daemon's (logged at DEBUG)."""
    try:
        send(*args)
    except OSError as exc:
        _LOGGER.debug("systemd notify failed: %s", exc)


async def start(service: Service) -> None:
    """Schedule the jobs, start every stage and the page; then tell systemd READY."""
    launch, scheduler, stages = service.launch, service.scheduler, service.stages
    settings, now = launch.settings, launch.clock.now()
    scheduler.add("rule", every(TICK, start=now + TICK), _job(service.tick))
    scheduler.add("status", every(TICK, start=now + TICK), _job(service.update_status))
    if launch.clinic is not None and settings.clinic.format is payloads.ClinicFormat.JSON:
        # alerts.md: the heartbeat travels on the JSON channel only.
        beat = settings.clinic.heartbeat_every
        scheduler.add("heartbeat", every(beat, start=now + beat), _job(service.heartbeat))
    await service.timed.start()
    stages.spawn("link", service.link.run)
    stages.spawn("store", service.readings.writer.run)
    stages.spawn("delivery", service.deliverer.run)
    stages.spawn("storage-notice", service.alarm.run)
    stages.spawn("schedule", scheduler.run)
    if launch.watchdog_s:
        stages.spawn("watchdog", service.pet_watchdog)
    if service.page is not None:
        stages.spawn("page", service.page.run)
        await service.page.tried.wait()  # its URL is known at READY, or its failure logged
    stages.spawn("logwatch", service.logwatch.run)
    from portwatch.service.control_server import ControlSocketError

    try:
        await service.control.start()
    except ControlSocketError as exc:
        _LOGGER.warning("%s; commands write the log directly meanwhile", exc)
    notify(launch.notifier.ready, service.status_text())
    _LOGGER.info("portwatch %s running; log at %s", __version__, launch.db_path)


def _job(func: Callable[[datetime], None]) -> Callable[[datetime], Awaitable[None]]:
    async def job(due: datetime) -> None:
        func(due)

    return job


async def stop(service: Service) -> None:
    """Stop in the order that loses nothing: no new readings, waiting ones written."""
    notify(service.launch.notifier.stopping)
    await service.control.close()  # commands from now on write the log themselves
    stages = service.stages
    await stages.cancel("link", STOP_STEP_S)
    await stages.cancel("store", STOP_STEP_S)
    writer = service.readings.writer
    try:
        async with asyncio.timeout(STOP_STEP_S):
            await writer.close()
    except TimeoutError:
        _LOGGER.warning("store: %s readings not written at stop", writer.buffered)
    # A storage notice not yet accepted is dropped: the next start tells again.
    await stages.cancel("storage-notice", STOP_STEP_S)
    await service.chores.wait(STOP_STEP_S)
    await stages.cancel_all(STOP_STEP_S)


async def close_parts(service: Service) -> None:
    service.logwatch.close()
    if service.page is not None:
        await service.page.close()
    for sender in service.senders:
        sender.close()
    _LOGGER.info(
        "stopped: %s readings received, %s written",
        service.facts.readings_received,
        service.facts.readings_durable,
    )
