"""`portwatch run`: the daemon (what systemd starts on the Pi)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from portwatch.alerts.delivery import ClinicEndpoint
    from portwatch.clock import Clock, VirtualClock
    from portwatch.config import Settings
    from portwatch.model import Reading
    from portwatch.service.daemon import Daemon
    from portwatch.sim.radio import VirtualRadio, VirtualSpotThermometer
    from portwatch.sim.scenario import Course

HELP = "run the daemon: read the thermometer, log, apply the fever rule, alert the clinic"

EXIT_BAD_SETTINGS: Final = 2  # issue 7: a bad settings file is refused with exit status 2
# Issue 4: a log that cannot be opened (damaged, from a newer portwatch, on a read-only
# disk) stops portwatch with a message; a person must act, so systemd must not restart it
# forever: systemd/portwatch.service names this status in RestartPreventExitStatus=.
# 65 is EX_DATAERR in sysexits.h ("the input data was incorrect").
EXIT_LOG_REFUSED: Final = 65
# Issue 7: a clean stop within 10 s; the virtual radio and leftovers get what is left of it.
RADIO_STOP_S: Final = 3.0
LEFTOVER_S: Final = 2.0
# The caregiver page's token as a systemd credential (LoadCredential=web-token:...).
WEB_TOKEN_CREDENTIAL: Final = "web-token"  # noqa: S105 (a name, not a secret)
# --received-journal: how often (simulated seconds) a tick line tells simulated time.
JOURNAL_TICK_S: Final = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: $PORTWATCH_CONFIG or /etc/portwatch/portwatch.toml)",
    )
    # For the end-to-end tests: run on a simulated clock from START at SPEED x real time
    # (SPEED 0: as fast as the machine allows, as the demo runs), up to UNTIL if given,
    # where simulated time stands still until the daemon is stopped. With the virtual
    # radio, the wearable plays the demo's course (scenario.COURSE) from START on.
    parser.add_argument("--virtual-clock", metavar="START", help=argparse.SUPPRESS)
    parser.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)
    # For the power-loss campaign (issue 10): which course the virtual radio plays
    # (portwatch.sim.scenario.COURSES), and a test seam: a file each received reading is
    # appended to (device time, real monotonic seconds), written unbuffered with os.write
    # so that the lines survive a SIGKILL. Not for use on a Pi.
    parser.add_argument("--scenario", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--received-journal", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--until", metavar="UNTIL", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from portwatch.clock import SystemClock
    from portwatch.config import ConfigError, config_path, load_settings
    from portwatch.service.daemon import DaemonError

    start = until = None
    try:
        if args.virtual_clock:
            start, until = _virtual_times(args.virtual_clock, args.until, args.speed)
        elif args.until:
            raise RunOptionError(f"--until = {args.until!r}: only with --virtual-clock")
    except RunOptionError as exc:
        print(f"portwatch run: {exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    from portwatch.sim.scenario import COURSES, DEFAULT_COURSE

    scenario = args.scenario or DEFAULT_COURSE
    if scenario not in COURSES:
        known = ", ".join(COURSES)
        print(f"portwatch run: --scenario {scenario}: not one of {known}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    now = start or SystemClock().now()
    try:
        settings = load_settings(config_path(args.config), now=now)
        clinic, web_token = _secrets(settings)
        _runtime_checks(settings)  # what `config check` checks besides the values (issue 21)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"portwatch: {line}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    journal = None
    if args.received_journal:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        journal = os.open(args.received_journal, flags, 0o600)
    loop = asyncio.new_event_loop()
    try:
        pace = None if start is None else _Pace(start, args.speed or None, until)
        loop.run_until_complete(_main(settings, clinic, web_token, pace, scenario, journal))
    except DaemonError as exc:
        # The message already says what was found and how to recover: one line, no traceback.
        print(f"portwatch: {' '.join(str(exc).splitlines())}", file=sys.stderr)
        return EXIT_LOG_REFUSED
    finally:
        _close(loop)
        if journal is not None:
            os.close(journal)
    return 0


def _journal_hook(fd: int, clock: Clock) -> Callable[[Reading], None]:
    """``DaemonHooks.on_received`` for ``--received-journal``: one line per reading.

    ``<device time ISO> <real monotonic seconds>``, in one ``os.write`` each (no buffer to
    lose at SIGKILL). The monotonic clock is the system's, comparable across processes.
    """

    def write(reading: Reading) -> None:
        os.write(fd, f"{reading.time.isoformat()} {clock.monotonic():.6f}\n".encode())

    return write


class RunOptionError(ValueError):
    """A simulated-clock option (``--virtual-clock``, ``--until``, ``--speed``) is wrong."""


@dataclass(frozen=True, slots=True)
class _Pace:
    """Simulated time for the tests: from ``start`` at ``speed``x (None: flat out) to ``until``."""

    start: datetime
    speed: float | None
    until: datetime | None


def _virtual_times(
    start_text: str, until_text: str | None, speed: float
) -> tuple[datetime, datetime | None]:
    """``--virtual-clock`` and ``--until`` as aware times.

    Raises:
        RunOptionError: a time that is not ISO 8601 or has no offset, ``until`` before
            ``start``, or a negative speed.
    """
    start = _aware("--virtual-clock", start_text)
    until = None if until_text is None else _aware("--until", until_text)
    if until is not None and until < start:
        raise RunOptionError(f"--until = {until_text!r}: is before --virtual-clock")
    if speed < 0:
        raise RunOptionError(f"--speed = {speed}: must not be negative (0: as fast as possible)")
    return start, until


def _aware(option: str, text: str) -> datetime:
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


def _close(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left and close the loop, waiting a bounded time (issue 7: stop in 10 s).

    ``asyncio.run`` waits for every leftover task without limit; a library task that does
    not end on cancellation (seen with the virtual radio) must not keep the process alive.
    """
    import asyncio
    import logging

    left = asyncio.all_tasks(loop)
    for task in left:
        task.cancel()
    if left:
        _, stuck = loop.run_until_complete(asyncio.wait(left, timeout=LEFTOVER_S))
        for task in stuck:
            logging.getLogger(__name__).debug("left running at exit: %s", task.get_name())
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def _secrets(settings: Settings) -> tuple[ClinicEndpoint | None, str | None]:
    """The clinic endpoint (with its secret) and the page's token, from files or credentials.

    Raises:
        ConfigError: a secret is configured but unusable.
    """
    from portwatch.alerts.delivery import DeliveryError, load_secret, secret_file
    from portwatch.config import ConfigError, clinic_endpoint

    clinic = clinic_endpoint(settings, os.environ) if settings.clinic.url is not None else None
    credentials = os.environ.get("CREDENTIALS_DIRECTORY", "")
    has_credential = bool(credentials) and os.path.exists(
        os.path.join(credentials, WEB_TOKEN_CREDENTIAL)
    )
    if settings.web.token_file is None and not has_credential:
        return clinic, None  # no token, no page
    try:
        path = secret_file(settings.web.token_file, os.environ, WEB_TOKEN_CREDENTIAL)
        return clinic, load_secret(path)
    except DeliveryError as exc:
        raise ConfigError([f"web.token_file: {exc}"]) from exc


def _runtime_checks(settings: Settings) -> None:
    """The page's token and address and the CA file, checked as `config check` does.

    Raises:
        ConfigError: one line each.
    """
    from portwatch.config import ConfigError
    from portwatch.settings_check import runtime_problems

    problems = runtime_problems(settings, os.environ)
    if problems:
        raise ConfigError(problems)


async def _main(
    settings: Settings,
    clinic: ClinicEndpoint | None,
    web_token: str | None,
    simulated: _Pace | None,
    scenario: str | None = None,
    journal: int | None = None,
) -> None:
    import asyncio
    import signal

    from portwatch.clock import SystemClock, VirtualClock
    from portwatch.service.daemon import Daemon, DaemonHooks
    from portwatch.service.systemd import Notifier, watchdog_interval_s
    from portwatch.sim.pacing import TrackingExecutor

    virtual = None if simulated is None else VirtualClock(simulated.start)
    clock: Clock
    if virtual is None:
        clock = await asyncio.to_thread(_trusted_clock, settings, SystemClock())
    else:
        clock = virtual  # the demo and the end-to-end tests: simulated time is right time
    store_thread = None
    if virtual is not None:
        # Simulated time waits for real work in threads (portwatch.sim.pacing).
        io_threads = TrackingExecutor(4, thread_name_prefix="portwatch-io")
        asyncio.get_running_loop().set_default_executor(io_threads)
        store_thread = TrackingExecutor(1, thread_name_prefix="portwatch-store")
    radio = away = None
    backend = None
    if settings.bluetooth.backend.value == "virtual":
        radio, away = await _virtual_radio(clock, settings, scenario)
        backend = radio.backend
    hooks = ticks = None
    if journal is not None:
        hooks = DaemonHooks(on_received=_journal_hook(journal, SystemClock()))
        if virtual is not None:
            ticks = asyncio.create_task(_journal_ticks(journal, virtual, SystemClock()))
    daemon = Daemon(
        settings,
        clock=clock,
        backend=backend,
        clinic=clinic,
        web_token=web_token,
        notifier=Notifier(os.environ),
        watchdog_s=watchdog_interval_s(os.environ, os.getpid()),
        executor=store_thread,
        hooks=hooks,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, daemon.stop)
    pacer = None
    if virtual is not None and store_thread is not None and simulated is not None:
        threads = (io_threads, store_thread)
        pacer = asyncio.create_task(
            _pace_forever(virtual, simulated, daemon, lambda: all(t.idle for t in threads))
        )
    try:
        await daemon.run()
    finally:
        for task in (pacer, away, ticks):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if radio is not None:
            try:
                async with asyncio.timeout(RADIO_STOP_S):
                    await radio.__aexit__(None, None, None)
            except TimeoutError:
                print("portwatch run: the virtual radio did not stop in time", file=sys.stderr)


def _trusted_clock(
    settings: Settings, system: Clock, synchronised: Callable[[], bool] | None = None
) -> Clock:
    """The daemon's clock on a real machine: the system clock, watched (issue 7, issue 10).

    Until synchronised it counts monotonic time from the log's last trusted time (the
    latest reading's receive time; the placement for a new log); once synchronised, a jump
    of the wall clock is logged and not followed
    (:class:`~portwatch.service.timekeeping.TrustedClock`).
    A synchronised clock behind the log's last time at start (set back, then restarted) is
    held from that time until it catches up; one ahead is followed (a power-off).
    """
    from portwatch.log.store import DB_FILE_NAME, Store, StoreError
    from portwatch.service.timekeeping import TrustedClock, kernel_synchronised

    last_trusted = None
    try:
        with Store.open_reader(settings.store.state_directory / DB_FILE_NAME) as log:
            latest = log.latest_reading()
    except StoreError:
        latest = None  # no log yet (the daemon creates it), or one it will refuse itself
    if latest is not None:
        last_trusted = latest.reading.received_at
    return TrustedClock(
        system,
        synchronised=synchronised or kernel_synchronised,
        last_trusted=last_trusted,
        not_before=settings.patient.placement,
        hold_after_jump=True,
    )


async def _pace_forever(
    clock: VirtualClock, simulated: _Pace, daemon: Daemon, settled: Callable[[], bool]
) -> None:
    """Move simulated time from READY until the daemon stops, or until ``simulated.until``."""
    import logging
    from datetime import timedelta

    from portwatch.sim.pacing import pace

    await daemon.ready.wait()
    while simulated.until is None or clock.now() < simulated.until:
        step = clock.now() + timedelta(hours=1)
        if simulated.until is not None:
            step = min(step, simulated.until)
        await pace(clock, step, speed=simulated.speed, settled=settled)
    logging.getLogger(__name__).info("simulated time holds at %s", clock.now().isoformat())


async def _virtual_radio(
    clock: Clock, settings: Settings, scenario: str | None = None
) -> tuple[VirtualRadio, asyncio.Task[None]]:
    """The embedded default thermometer on the virtual radio, the one the course names.

    It plays the course named ``scenario`` (default: the demo's) from the clock's time on:
    the CORE wearable plays the temperatures and the shower and link drop as absences; the
    spot thermometer takes a reading at each of the course's spot times (see
    :func:`_play_spot_readings`). The task returned plays them (the caller's to cancel).
    """
    import asyncio

    from portwatch.ble.pin import Pin, save_pin
    from portwatch.sim.radio import VirtualCoreWearable, VirtualRadio, VirtualSpotThermometer
    from portwatch.sim.sandbox import play_absences
    from portwatch.sim.scenario import (
        COURSES,
        DEFAULT_COURSE,
        MEASUREMENT_INTERVAL_S,
        Thermometer,
        core_celsius,
        wearable_absences,
    )

    course = COURSES[scenario or DEFAULT_COURSE]
    fevers = course.fevers
    placement = settings.patient.placement
    radio = VirtualRadio(clock)
    await radio.__aenter__()
    if course.thermometer is Thermometer.SPOT:
        spot = await radio.add(
            VirtualSpotThermometer(
                clock,
                store_measurements=True,
                temperature_at=lambda when: core_celsius(placement, when, fevers),
            )
        )
        save_pin(settings.store.state_directory, Pin(spot.address, spot.name, "hts"))
        since = await asyncio.to_thread(_latest_logged_time, settings)
        play = _play_spot_readings(clock, spot, course, placement, since)
        return radio, asyncio.create_task(play, name="virtual-course")
    wearable = await radio.add(
        VirtualCoreWearable(
            clock,
            interval_s=MEASUREMENT_INTERVAL_S,
            temperature_at=lambda when: core_celsius(placement, when, fevers),
        )
    )
    save_pin(
        settings.store.state_directory,
        Pin(address=wearable.address, name=wearable.name, driver="core"),
    )
    absences = wearable_absences(course, placement, clock.now())
    away = asyncio.create_task(play_absences(clock, wearable, absences), name="virtual-course")
    return radio, away


def _latest_logged_time(settings: Settings) -> datetime | None:
    """The time of the log's latest reading (None: no log yet, or one the daemon refuses)."""
    from portwatch.log.store import DB_FILE_NAME, Store, StoreError

    try:
        with Store.open_reader(settings.store.state_directory / DB_FILE_NAME) as log:
            latest = log.latest_reading()
    except StoreError:
        return None
    return None if latest is None else latest.reading.time


async def _play_spot_readings(
    clock: Clock,
    thermometer: VirtualSpotThermometer,
    course: Course,
    placement: datetime,
    since: datetime | None,
) -> None:
    """The patient takes the course's spot readings on ``clock``, from its time on.

    A restarted ``portwatch run --virtual-clock`` starts a new virtual thermometer; the
    real one would still hold the measurements taken while the gateway was down (spot
    thermometers store what nobody received and send it at the next connection). So
    the course's readings after the log's latest (``since``) and up to now are put in the
    new thermometer's memory first, and sent once the daemon subscribes.
    """
    from portwatch.sim.scenario import spot_times

    now = clock.now()
    if since is not None:
        for taken in spot_times(course, placement, since, now):
            thermometer.stored.append(thermometer.measurement_bytes(taken))
    for taken in spot_times(course, placement, now, placement + course.length):
        await clock.sleep((taken - clock.now()).total_seconds())
        await thermometer.take_measurement()


async def _journal_ticks(fd: int, clock: Clock, system: Clock) -> None:
    """``--received-journal``: a line ``<simulated time ISO> <monotonic s> tick`` each
    simulated minute, so that a campaign follows simulated time between sparse readings."""
    while True:
        await clock.sleep(JOURNAL_TICK_S)
        os.write(fd, f"{clock.now().isoformat()} {system.monotonic():.6f} tick\n".encode())
