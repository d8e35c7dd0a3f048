"""The daemon on a simulated clock, for the end-to-end tests and the campaigns (not for a Pi).

    python -m portwatch.sim.run [-v] --config FILE --virtual-clock START [--speed N]
        [--until UNTIL] [--scenario NAME] [--received-journal FILE]

Builds the daemon exactly as ``portwatch run`` does (:func:`portwatch.cli.commands.run.serve`)
on a :class:`~portwatch.clock.VirtualClock` from START, paced at SPEED x real time (0: as
fast as the machine allows, as the demo runs) from READY on, up to UNTIL if given, where
simulated time stands still until the daemon is stopped (SIGTERM). With the virtual radio
the embedded thermometer plays the course named by ``--scenario``
(:data:`portwatch.sim.scenario.COURSES`, default the demo's) from START on.

``--received-journal FILE`` (the power-loss campaign, issue 10): each received reading is
appended to FILE as ``<device time ISO> <real monotonic s>`` and each simulated minute as
``<simulated time ISO> <real monotonic s> tick``, one unbuffered ``os.write`` a line so that
the lines survive a SIGKILL.

Exit status as ``portwatch run``'s: 0, 2 for bad settings or options, 65 for a refused log.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from portwatch.cli.commands.run import EXIT_BAD_SETTINGS, Wiring, launch, serve
from portwatch.clock import Clock, SystemClock, VirtualClock
from portwatch.sim.scenario import COURSES, DEFAULT_COURSE

if TYPE_CHECKING:
    from portwatch.alerts.delivery import ClinicEndpoint
    from portwatch.config import Settings
    from portwatch.model import Reading
    from portwatch.service.daemon import Daemon

__all__ = ["RunOptionError", "journal_hook", "journal_ticks", "main", "simulated_times"]

PROG: Final = "portwatch.sim.run"
# --received-journal: how often (simulated seconds) a tick line tells simulated time.
JOURNAL_TICK_S: Final = 60.0
# Threads simulated time waits for (portwatch.sim.pacing): the loop's default executor.
IO_THREADS: Final = 4


class RunOptionError(ValueError):
    """A simulated-clock option (``--virtual-clock``, ``--until``, ``--speed``) is wrong."""


@dataclass(frozen=True, slots=True)
class Pace:
    """Simulated time: from ``start`` at ``speed``x (None: flat out) up to ``until``."""

    start: datetime
    speed: float | None
    until: datetime | None


def parser() -> argparse.ArgumentParser:
    parsed = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parsed.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parsed.add_argument("--config", metavar="FILE", help="settings file")
    parsed.add_argument("--virtual-clock", metavar="START", required=True)
    parsed.add_argument("--speed", type=float, default=1.0, help="x real time (0: flat out)")
    parsed.add_argument("--until", metavar="UNTIL", help="simulated time stands still here")
    parsed.add_argument("--scenario", default=DEFAULT_COURSE, help=", ".join(COURSES))
    parsed.add_argument("--received-journal", metavar="FILE")
    return parsed


def main(argv: Sequence[str] | None = None) -> int:
    from portwatch.cli.main import configure_logging

    args = parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        start, until = simulated_times(args.virtual_clock, args.until, args.speed)
        if args.scenario not in COURSES:
            known = ", ".join(COURSES)
            raise RunOptionError(f"--scenario {args.scenario}: not one of {known}")
    except RunOptionError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return EXIT_BAD_SETTINGS
    pace = Pace(start, args.speed or None, until)
    journal = None
    if args.received_journal:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        journal = os.open(args.received_journal, flags, 0o600)
    try:

        async def simulated(
            settings: Settings, clinic: ClinicEndpoint | None, web_token: str | None
        ) -> None:
            await _serve(settings, clinic, web_token, pace, args.scenario, journal)

        return launch(args.config, simulated, now=start, prog=PROG)
    finally:
        if journal is not None:
            os.close(journal)


async def _serve(
    settings: Settings,
    clinic: ClinicEndpoint | None,
    web_token: str | None,
    pace: Pace,
    scenario: str,
    journal: int | None,
) -> None:
    """``portwatch run``'s daemon on a VirtualClock that waits for real work in threads."""
    import asyncio

    from portwatch.log.store import writers_idle
    from portwatch.service.daemon import DaemonHooks
    from portwatch.sim.pacing import TrackingExecutor

    clock = VirtualClock(pace.start)
    io_threads = TrackingExecutor(IO_THREADS, thread_name_prefix="portwatch-io")
    asyncio.get_running_loop().set_default_executor(io_threads)

    async def pacer(daemon: Daemon) -> None:
        await pace_forever(clock, pace, daemon, lambda: io_threads.idle and writers_idle())

    # The simulated clinic (an inbox on the same virtual time) checks signatures on it.
    wiring = Wiring(clock, signing_clock=clock, scenario=scenario, beside=[pacer])
    if journal is not None:
        wiring.hooks = DaemonHooks(on_received=journal_hook(journal, SystemClock()))

        async def ticks(_daemon: Daemon) -> None:
            await journal_ticks(journal, clock, SystemClock())

        wiring.beside.append(ticks)
    await serve(settings, clinic, web_token, wiring)


def simulated_times(
    start_text: str, until_text: str | None, speed: float
) -> tuple[datetime, datetime | None]:
    """``--virtual-clock`` and ``--until`` as aware times.

    Raises:
        RunOptionError: a time that is not ISO 8601 or has no offset, ``until`` before
            ``start``, or a negative speed.
    """
    start = aware("--virtual-clock", start_text)
    until = None if until_text is None else aware("--until", until_text)
    if until is not None and until < start:
        raise RunOptionError(f"--until = {until_text!r}: is before --virtual-clock")
    if speed < 0:
        raise RunOptionError(f"--speed = {speed}: must not be negative (0: as fast as possible)")
    return start, until


def aware(option: str, text: str) -> datetime:
    """An option's ISO 8601 time, which must carry an offset.

    Raises:
        RunOptionError: the text is not ISO 8601, or has no offset.
    """
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise RunOptionError(f"{option} = {text!r}: not an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise RunOptionError(f"{option} = {text!r}: needs a time with an offset")
    return value


async def pace_forever(
    clock: VirtualClock, simulated: Pace, daemon: Daemon, settled: Callable[[], bool]
) -> None:
    """Move simulated time from READY until the daemon stops, or until ``simulated.until``."""
    import logging

    from portwatch.sim.pacing import pace

    await daemon.ready.wait()
    while simulated.until is None or clock.now() < simulated.until:
        step = clock.now() + timedelta(hours=1)
        if simulated.until is not None:
            step = min(step, simulated.until)
        await pace(clock, step, speed=simulated.speed, settled=settled)
    logging.getLogger(__name__).info("simulated time holds at %s", clock.now().isoformat())


def journal_hook(fd: int, clock: Clock) -> Callable[[Reading], None]:
    """``DaemonHooks.on_received`` for ``--received-journal``: one line per reading.

    ``<device time ISO> <real monotonic seconds>``, in one ``os.write`` each (no buffer to
    lose at SIGKILL). The monotonic clock is the system's, comparable across processes.
    """

    def write(reading: Reading) -> None:
        os.write(fd, f"{reading.time.isoformat()} {clock.monotonic():.6f}\n".encode())

    return write


async def journal_ticks(fd: int, clock: Clock, system: Clock) -> None:
    """``--received-journal``: a line ``<simulated time ISO> <monotonic s> tick`` each
    simulated minute, so that a campaign follows simulated time between sparse readings."""
    while True:
        await clock.sleep(JOURNAL_TICK_S)
        os.write(fd, f"{clock.now().isoformat()} {system.monotonic():.6f} tick\n".encode())


if __name__ == "__main__":
    sys.exit(main())
