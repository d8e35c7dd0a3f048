"""What ``scan`` and ``pair`` share: ``--virtual``, ``--seconds`` and opening the radio."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from portwatch.ble.radio import Radio

# Exit status when the radio cannot be used or nothing was found.
EXIT_FAILED = 1
# A scan this long hears a thermometer advertising every second or two several times.
DEFAULT_SCAN_S = 10.0


def add_radio_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SCAN_S, metavar="N", help="scan for N seconds"
    )
    parser.add_argument(
        "--virtual",
        action="store_true",
        help="use the virtual radio and its demo thermometers instead of the system radio",
    )


def state_dir(args: argparse.Namespace) -> Path:
    """``--state-dir`` (an override), else the state directory every command finds: the
    settings' (``--config``, ``$PORTWATCH_CONFIG``, /etc/portwatch/portwatch.toml), else
    ``$PORTWATCH_STATE_DIRECTORY`` or /var/lib/portwatch.

    Raises:
        ConfigError: the settings file named is missing, or a settings file is invalid.
    """
    chosen: Path | None = getattr(args, "state_dir", None)
    if chosen is not None:
        return chosen
    from portwatch.cli.commands._log import log_place

    return log_place(args).db.parent


@contextlib.asynccontextmanager
async def open_radio(virtual: bool) -> AsyncIterator[Radio]:
    """The system radio, or a virtual one with the demo set."""
    from portwatch.ble.radio import SYSTEM_RADIO

    if not virtual:
        yield SYSTEM_RADIO
        return
    from portwatch.clock import SystemClock
    from portwatch.sim.radio import VirtualRadio, add_demo_thermometers

    async with VirtualRadio(SystemClock()) as radio:
        await add_demo_thermometers(radio)
        yield radio
