"""`portwatch pair`: pin the patient's thermometer (the only one whose readings count)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from portwatch.cli.commands._radio import EXIT_FAILED, add_radio_arguments, open_radio, state_dir

if TYPE_CHECKING:
    from portwatch.ble.discovery import Seen

HELP = "pin the patient's thermometer: scan, choose one, remember it in the state directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", nargs="?", help="the thermometer's address (default: choose)")
    add_radio_arguments(parser)
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="the settings file (default: $PORTWATCH_CONFIG or /etc/portwatch/portwatch.toml "
        "when it exists); pinned.json goes in its state directory",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="override: put pinned.json here instead of the settings' state directory",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    from bleak.exc import BleakError

    from portwatch.ble.discovery import discover, read_identity
    from portwatch.ble.pin import Pin, save_pin
    from portwatch.cli.commands.scan import live_table
    from portwatch.clock import SystemClock
    from portwatch.printable import printable

    directory = _pin_directory(args)  # where the pin goes: known before the scan
    if directory is None:
        return EXIT_FAILED

    async def main() -> int:
        async with open_radio(args.virtual) as radio:
            # issue 18: on a terminal the table grows as thermometers are heard
            found = await discover(radio, SystemClock(), args.seconds, live_table())
            chosen = await _choose(found, args.address)
            if chosen is None:
                return EXIT_FAILED
            try:
                identity = await read_identity(radio, chosen.address)
            except (BleakError, TimeoutError, OSError) as exc:
                print(
                    f"note: could not read its identity ({exc}); pinning by address",
                    file=sys.stderr,
                )
                identity = {}
            path = save_pin(directory, Pin(chosen.address, chosen.name, chosen.driver, identity))
            print(
                f"pinned {printable(chosen.name or chosen.address)} ({chosen.address}, "
                f"{chosen.driver}) in {path}"
            )
            return 0

    try:
        return asyncio.run(main())
    except (BleakError, OSError) as exc:
        print(f"portwatch pair: the radio cannot scan: {exc}", file=sys.stderr)
        return EXIT_FAILED


async def _choose(found: Mapping[str, Seen], address: str | None) -> Seen | None:
    """The thermometer named by ``address``, else the one the person picks from a numbered
    table (strongest first); None, said why, when there is none to pin."""
    import asyncio

    from portwatch.cli.commands.scan import table

    if address:
        chosen = found.get(address.upper())
        if chosen is None:
            print(f"portwatch pair: {address} not heard", file=sys.stderr)
        return chosen
    if not found:
        print("portwatch pair: no thermometer heard", file=sys.stderr)
        return None
    rows = sorted(found.values(), key=lambda s: (-s.rssi, s.address))
    print("   " + table(dict(found))[0])
    for number, seen in enumerate(rows, 1):
        print(f"{number:>2} {table({seen.address: seen})[1]}")
    answer = (await asyncio.to_thread(input, "pin which one? ")).strip()
    if not answer.isdigit() or not 1 <= int(answer) <= len(rows):
        print(f"portwatch pair: {answer!r} is not a number in the list", file=sys.stderr)
        return None
    return rows[int(answer) - 1]


def _pin_directory(args: argparse.Namespace) -> Path | None:
    """The state directory for pinned.json, or None (said why) when the settings are bad."""
    try:
        return state_dir(args)
    except ValueError as exc:  # the settings file (ConfigError)
        print(f"portwatch pair: {exc}", file=sys.stderr)
        return None
