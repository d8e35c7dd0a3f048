"""`portwatch scan`: a live table of the thermometers nearby."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from portwatch.cli.commands._radio import EXIT_FAILED, add_radio_arguments, open_radio
from portwatch.printable import printable

if TYPE_CHECKING:
    from portwatch.ble.discovery import Seen

HELP = "list nearby thermometers (name, address, signal, driver), refreshed as they are heard"

# ANSI: cursor up one line, and erase the line (ECMA-48 CUU, EL).
_UP = "\x1b[1A"
_ERASE = "\x1b[2K"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_radio_arguments(parser)


def table(rows: Mapping[str, Seen]) -> list[str]:
    """The table's lines, strongest signal first."""
    seen = sorted(rows.values(), key=lambda s: (-s.rssi, s.address))
    lines = [f"{'NAME':<20} {'ADDRESS':<17} {'RSSI':>5}  DRIVER"]
    # A name is whatever a neighbour's device says: escapes shown, never obeyed (issue 21).
    lines += [
        f"{printable(s.name)[:20]:<20} {printable(s.address):<17} {s.rssi:>5}  {s.driver}"
        for s in seen
    ]
    return lines


def live_table() -> Callable[[dict[str, Seen]], None] | None:
    """On a terminal, a callback that redraws the table in place as thermometers are heard
    (``scan``, and ``pair`` while it scans); None when the output is not a terminal."""
    if not sys.stdout.isatty():
        return None
    drawn = 0

    def redraw(rows: dict[str, Seen]) -> None:
        nonlocal drawn
        lines = table(rows)
        sys.stdout.write((_UP + _ERASE) * drawn + "\n".join(lines) + "\n")
        sys.stdout.flush()
        drawn = len(lines)

    return redraw


def run(args: argparse.Namespace) -> int:
    import asyncio

    from bleak.exc import BleakError

    from portwatch.ble.discovery import discover
    from portwatch.clock import SystemClock

    redraw = live_table()
    live = redraw is not None

    async def main() -> dict[str, Seen]:
        async with open_radio(args.virtual) as radio:
            return await discover(radio, SystemClock(), args.seconds, redraw)

    try:
        found = asyncio.run(main())
    except (BleakError, OSError) as exc:
        print(f"portwatch scan: the radio cannot scan: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not live:
        print("\n".join(table(found)))
    if not found:
        print("no thermometer heard; is it awake and near?", file=sys.stderr)
        return EXIT_FAILED
    return 0
