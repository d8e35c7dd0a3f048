"""Setup's thermometer step: scan with a live table, choose, pin (what ``portwatch pair`` does).

Built from pair's parts (:func:`~portwatch.ble.discovery.discover`, scan's table,
:func:`~portwatch.ble.discovery.read_identity`, :func:`~portwatch.ble.pin.save_pin`), so a
thermometer setup pins is pinned exactly as ``pair`` would pin it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from portwatch.ble.discovery import Seen
    from portwatch.ble.pin import Pin

__all__ = ["PairError", "scan_and_pin"]

# ANSI: cursor up one line, and erase the line (ECMA-48 CUU, EL), as `portwatch scan` draws.
_UP = "\x1b[1A"
_ERASE = "\x1b[2K"


class PairError(RuntimeError):
    """No thermometer could be pinned (none heard, the one named not heard, no radio)."""


def _numbered(found: dict[str, Seen]) -> tuple[list[Seen], list[str]]:
    from portwatch.cli.commands.scan import table

    rows = sorted(found.values(), key=lambda s: (-s.rssi, s.address))
    lines = ["   " + table({})[0]]
    lines += [f"{n:>2} {table({s.address: s})[1]}" for n, s in enumerate(rows, 1)]
    return rows, lines


async def scan_and_pin(
    virtual: bool,
    seconds: float,
    address: str | None,
    state_dir: Path,
    choose: Callable[[int], int] | None,
    out: TextIO = sys.stdout,
) -> Pin:
    """Scan for ``seconds`` (a live table when ``out`` is a terminal), take ``address`` or
    let ``choose(count)`` pick a 1-based row (strongest first), read its identity, pin it.

    Raises:
        PairError: nothing heard, ``address`` not heard, or the radio cannot scan.
    """
    from bleak.exc import BleakError

    from portwatch.ble.discovery import discover, read_identity
    from portwatch.ble.pin import Pin, save_pin
    from portwatch.cli.commands._radio import open_radio
    from portwatch.clock import SystemClock

    drawn = 0

    def redraw(found: dict[str, Seen]) -> None:
        nonlocal drawn
        lines = _numbered(found)[1]
        out.write((_UP + _ERASE) * drawn + "\n".join(lines) + "\n")
        out.flush()
        drawn = len(lines)

    live = out.isatty()
    try:
        async with open_radio(virtual) as radio:
            found = await discover(radio, SystemClock(), seconds, redraw if live else None)
            rows, lines = _numbered(found)
            if not live:
                out.write("\n".join(lines) + "\n")
            chosen = _pick(rows, address, choose)
            try:
                identity = await read_identity(radio, chosen.address)
            except (BleakError, TimeoutError, OSError) as exc:
                out.write(f"note: could not read its identity ({exc}); pinning by address\n")
                identity = {}
    except (BleakError, OSError) as exc:
        raise PairError(f"the radio cannot scan: {exc}") from exc
    pin = Pin(chosen.address, chosen.name, chosen.driver, identity)
    save_pin(state_dir, pin)
    return pin


def _pick(rows: list[Seen], address: str | None, choose: Callable[[int], int] | None) -> Seen:
    if not rows:
        raise PairError("no thermometer heard; is it switched on, awake and near?")
    if address is not None:
        for seen in rows:
            if seen.address == address.upper():
                return seen
        raise PairError(f"{address} was not heard; the table above shows what was")
    if choose is None:
        raise PairError("several thermometers heard; name one with --thermometer ADDRESS")
    return rows[choose(len(rows)) - 1]
