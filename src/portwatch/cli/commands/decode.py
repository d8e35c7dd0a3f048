"""`portwatch decode`: decode one characteristic value given in hex, print it as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Final

HELP = "decode one Health Thermometer (or CORE) characteristic value given in hex, as JSON"

CHARACTERISTICS: Final = ("measurement", "intermediate", "type", "interval", "valid-range", "core")

# Exit status for bytes that are not a valid value: the same as a usage error (issue 2).
EXIT_MALFORMED: Final = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "hex",
        nargs="+",
        metavar="HEX",
        help='the value in wire order, e.g. "06 B0 0E 00 FE" or 06:B0:0E:00:FE',
    )
    parser.add_argument(
        "--characteristic",
        choices=CHARACTERISTICS,
        default="measurement",
        help="which characteristic the bytes come from (default: measurement)",
    )


def parse_hex(words: list[str]) -> bytes:
    """Bytes from hex text; spaces and colons between digits are allowed.

    Raises:
        ValueError: when the text is not an even number of hex digits.
    """
    text = "".join(words).replace(":", "").replace(" ", "")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"not hex bytes: {' '.join(words)!r}") from None


def decode(characteristic: str, data: bytes) -> dict[str, object]:
    """The JSON object `portwatch decode` prints for ``data``.

    Raises:
        portwatch.ble.hts.HtsDecodeError, portwatch.ble.core.CoreDecodeError: malformed bytes.
    """
    from portwatch.ble import core, hts

    if characteristic in ("measurement", "intermediate"):
        return hts.measurement_to_json(hts.decode_measurement(data))
    if characteristic == "type":
        return {"site": hts.decode_temperature_type(data).value}
    if characteristic == "interval":
        return {"seconds": hts.decode_measurement_interval(data)}
    if characteristic == "valid-range":
        lo, hi = hts.decode_valid_range(data)
        return {"min_seconds": lo, "max_seconds": hi}
    return core.core_to_json(core.decode_core(data))


def run(args: argparse.Namespace) -> int:
    try:
        data = parse_hex(args.hex)
        result = decode(args.characteristic, data)
    except ValueError as exc:  # HtsDecodeError and CoreDecodeError are ValueErrors
        print(f"portwatch decode: {exc}", file=sys.stderr)
        return EXIT_MALFORMED
    print(json.dumps(result))
    return 0
