"""`portwatch run`: the daemon (what systemd starts on the Pi).

The wiring is :func:`serve`, which the test entry point :mod:`portwatch.sim.run` shares: it
builds the same daemon on a simulated clock (the end-to-end tests and the campaigns).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import asyncio

    from portwatch.alerts.delivery import ClinicEndpoint
    from portwatch.ble.radio import Radio
    from portwatch.clock import Clock
    from portwatch.config import Settings
    from portwatch.service.daemon import Daemon, DaemonHooks

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

# What runs the daemon once the settings and secrets are read: settings, clinic, page token.
Main = Callable[["Settings", "ClinicEndpoint | None", "str | None"], Awaitable[None]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: $PORTWATCH_CONFIG or /etc/portwatch/portwatch.toml)",
    )


def run(args: argparse.Namespace) -> int:
    return launch(args.config, _main)


def launch(
    config: str | None, main: Main, *, now: datetime | None = None, prog: str = "portwatch"
) -> int:
    """Read the settings and secrets, then run ``main`` on a new event loop until it ends.

    Args:
        config: the settings file given (None: the default place).
        main: runs the daemon.
        now: the time the settings are read at (default: the system clock's).
        prog: how error lines begin.

    Returns:
        0, :data:`EXIT_BAD_SETTINGS` or :data:`EXIT_LOG_REFUSED`.
    """
    import asyncio

    from portwatch.clock import SystemClock
    from portwatch.config import ConfigError, config_path, load_settings
    from portwatch.service.daemon import DaemonError

    try:
        settings = load_settings(config_path(config), now=now or SystemClock().now())
        clinic, web_token = _secrets(settings)
        _runtime_checks(settings)  # what `config check` checks besides the values (issue 21)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"{prog}: {line}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main(settings, clinic, web_token))
    except DaemonError as exc:
        # The message already says what was found and how to recover: one line, no traceback.
        print(f"{prog}: {' '.join(str(exc).splitlines())}", file=sys.stderr)
        return EXIT_LOG_REFUSED
    finally:
        _close(loop)
    return 0


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
    """The page's token and address, checked as `config check` does; the CA file reported.

    A CA bundle that cannot be used does not stop the service (portwatch.settings_check):
    the other channels work on, and undelivered clinic alerts are escalated.

    Raises:
        ConfigError: one line per page problem.
    """
    import logging

    from portwatch.config import ConfigError
    from portwatch.settings_check import ca_problems, secret_url_problems, web_problems

    for line in ca_problems(settings.clinic.ca_bundle):
        logging.getLogger(__name__).error("%s; clinic alerts cannot be delivered", line)
    for line in secret_url_problems(settings):
        # Said once, at start; the notices keep going (refusing to run would silence them).
        logging.getLogger(__name__).warning("%s; notices are still sent", line)
    problems = web_problems(settings, os.environ)
    if problems:
        raise ConfigError(problems)


@dataclass(slots=True)
class Wiring:
    """What a run is built from besides the settings: the product's defaults, or a test's.

    Args:
        clock: the one clock every stage reads.
        signing_clock: the clock clinic signatures are timed on: the system wall clock for
            a real clinic (``clock`` may be counted from the placement or the log while
            the system clock is unsynchronised), ``clock`` itself for a simulated run whose
            inbox checks them on virtual time (:class:`~portwatch.service.daemon.Daemon`).
        scenario: the course the virtual radio plays (``bluetooth.backend = "virtual"``).
        hooks: observers (None: none).
        beside: tasks to run beside the daemon once it exists (cancelled when it stops).
    """

    clock: Clock
    signing_clock: Clock
    scenario: str | None = None
    hooks: DaemonHooks | None = None
    beside: list[Callable[[Daemon], Coroutine[None, None, None]]] = field(default_factory=list)


async def _main(settings: Settings, clinic: ClinicEndpoint | None, web_token: str | None) -> None:
    import asyncio

    from portwatch.clock import SystemClock

    system = SystemClock()
    clock = await asyncio.to_thread(_trusted_clock, settings, system)
    # The clinic checks signatures against its own wall clock: sign on the system's, never
    # on the trusted clock, which may count from the placement until NTP synchronises.
    await serve(settings, clinic, web_token, Wiring(clock, signing_clock=system))


async def serve(
    settings: Settings, clinic: ClinicEndpoint | None, web_token: str | None, wiring: Wiring
) -> None:
    """Build the daemon with its radio, run it until SIGTERM or SIGINT, stop what it used."""
    import asyncio
    import signal

    from portwatch.ble.radio import SYSTEM_RADIO
    from portwatch.config import BluetoothBackend
    from portwatch.service.daemon import Daemon
    from portwatch.service.systemd import Notifier, watchdog_interval_s

    radio: Radio = SYSTEM_RADIO
    virtual = None
    tasks: list[asyncio.Task[None]] = []
    if settings.bluetooth.backend is BluetoothBackend.VIRTUAL:
        from portwatch.sim.course_radio import course_radio

        virtual, away = await course_radio(wiring.clock, settings, wiring.scenario)
        radio = virtual
        tasks.append(away)
    daemon = Daemon(
        settings,
        clock=wiring.clock,
        radio=radio,
        signing_clock=wiring.signing_clock,
        clinic=clinic,
        web_token=web_token,
        notifier=Notifier(os.environ),
        watchdog_s=watchdog_interval_s(os.environ, os.getpid()),
        hooks=wiring.hooks,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, daemon.stop)
    tasks += [asyncio.create_task(work(daemon)) for work in wiring.beside]
    try:
        await daemon.run()
    finally:
        for task in tasks:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if virtual is not None:
            try:
                async with asyncio.timeout(RADIO_STOP_S):
                    await virtual.__aexit__(None, None, None)
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
