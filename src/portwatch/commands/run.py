"""`portwatch run`: the daemon (what systemd starts on the Pi)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable

    from portwatch.clock import Clock, VirtualClock
    from portwatch.config import Settings
    from portwatch.daemon import Daemon
    from portwatch.radio import VirtualRadio

HELP = "run the daemon: read the thermometer, log, apply the fever rule, alert the clinic"

EXIT_BAD_SETTINGS: Final = 2  # issue 7: a bad settings file is refused with exit status 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: $PORTWATCH_CONFIG or /etc/portwatch/portwatch.toml)",
    )
    # For the end-to-end tests: run on a simulated clock from START at SPEED x real time.
    parser.add_argument("--virtual-clock", metavar="START", help=argparse.SUPPRESS)
    parser.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from portwatch.clock import SystemClock
    from portwatch.config import ConfigError, config_path, load_settings

    start = None
    if args.virtual_clock:
        start = datetime.fromisoformat(args.virtual_clock)
        if start.tzinfo is None:
            print("portwatch run: --virtual-clock needs a time with an offset", file=sys.stderr)
            return EXIT_BAD_SETTINGS
    now = start or SystemClock().now()
    try:
        settings = load_settings(config_path(args.config), now=now)
        clinic_key, web_token = _secrets(settings)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"portwatch: {line}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    asyncio.run(_main(settings, clinic_key, web_token, start, args.speed))
    return 0


def _secrets(settings: Settings) -> tuple[bytes | None, str | None]:
    """The clinic's HMAC key and the page's token, from their files or systemd credentials.

    Raises:
        ConfigError: a secret is configured but unusable.
    """
    from portwatch.alerts.signing import SignatureError, parse_secret
    from portwatch.config import (
        CLINIC_SECRET_CREDENTIAL,
        WEB_TOKEN_CREDENTIAL,
        ConfigError,
        read_secret,
    )

    key = None
    if settings.clinic.url is not None:
        secret = read_secret(settings.clinic.secret_file, CLINIC_SECRET_CREDENTIAL, os.environ)
        try:
            key = parse_secret(secret.get_secret_value())
        except SignatureError as exc:
            raise ConfigError([f"clinic.secret_file: {exc}"]) from exc
    token = None
    has_credential = bool(os.environ.get("CREDENTIALS_DIRECTORY")) and os.path.exists(
        os.path.join(os.environ["CREDENTIALS_DIRECTORY"], WEB_TOKEN_CREDENTIAL)
    )
    if settings.web.token_file is not None or has_credential:
        token = read_secret(
            settings.web.token_file, WEB_TOKEN_CREDENTIAL, os.environ
        ).get_secret_value()
    return key, token


async def _main(
    settings: Settings,
    clinic_key: bytes | None,
    web_token: str | None,
    start: datetime | None,
    speed: float,
) -> None:
    import asyncio
    import signal

    from portwatch.clock import SystemClock, VirtualClock
    from portwatch.daemon import Daemon
    from portwatch.pacing import TrackingExecutor
    from portwatch.systemd import Notifier, watchdog_interval_s

    virtual = None if start is None else VirtualClock(start)
    clock: Clock = SystemClock() if virtual is None else virtual
    store_thread = None
    if virtual is not None:
        # Simulated time waits for real work in threads (portwatch.pacing).
        io_threads = TrackingExecutor(4, thread_name_prefix="portwatch-io")
        asyncio.get_running_loop().set_default_executor(io_threads)
        store_thread = TrackingExecutor(1, thread_name_prefix="portwatch-store")
    radio = None
    backend = None
    if settings.bluetooth.backend.value == "virtual":
        radio = await _virtual_radio(clock, settings)
        backend = radio.backend
    daemon = Daemon(
        settings,
        clock=clock,
        backend=backend,
        clinic_key=clinic_key,
        web_token=web_token,
        notifier=Notifier(os.environ),
        watchdog_s=watchdog_interval_s(os.environ, os.getpid()),
        executor=store_thread,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, daemon.stop)
    pacer = None
    if virtual is not None and store_thread is not None:
        threads = (io_threads, store_thread)
        pacer = asyncio.create_task(
            _pace_forever(virtual, speed, daemon, lambda: all(t.idle for t in threads))
        )
    try:
        await daemon.run()
    finally:
        if pacer is not None:
            pacer.cancel()
            await asyncio.gather(pacer, return_exceptions=True)
        if radio is not None:
            await radio.__aexit__(None, None, None)


async def _pace_forever(
    clock: VirtualClock, speed: float, daemon: Daemon, settled: Callable[[], bool]
) -> None:
    """Move simulated time at ``speed``x, from READY until the daemon stops."""
    from datetime import timedelta

    from portwatch.pacing import pace

    await daemon.ready.wait()
    while True:
        await pace(clock, clock.now() + timedelta(hours=1), speed=speed, settled=settled)


async def _virtual_radio(clock: Clock, settings: Settings) -> VirtualRadio:
    """The embedded default thermometer: the demo's CORE wearable on the virtual radio."""
    from portwatch.pin import Pin, save_pin
    from portwatch.radio import VirtualCoreWearable, VirtualRadio
    from portwatch.scenario import MEASUREMENT_INTERVAL_S, core_celsius

    placement = settings.patient.placement
    radio = VirtualRadio(clock)
    await radio.__aenter__()
    wearable = await radio.add(
        VirtualCoreWearable(
            clock,
            interval_s=MEASUREMENT_INTERVAL_S,
            temperature_at=lambda when: core_celsius(placement, when),
        )
    )
    save_pin(
        settings.store.state_directory,
        Pin(address=wearable.address, name=wearable.name, driver="core"),
    )
    return radio
