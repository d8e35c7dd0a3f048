"""``portwatch pause`` at a simulated time, for the end-to-end tests (not for a Pi).

    python -m portwatch.sim.pause DURATION --reason REASON --db FILE --virtual-clock NOW

Records the pause exactly as ``portwatch pause`` does
(:func:`portwatch.cli.commands.pause.record`), starting at NOW (ISO 8601 with an offset)
instead of the system clock's time, for a daemon run by :mod:`portwatch.sim.run`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Final

from portwatch.cli.commands._log import EXIT_FAILED
from portwatch.cli.commands.pause import record
from portwatch.sim.run import RunOptionError, aware

__all__ = ["main"]

PROG: Final = "portwatch.sim.pause"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("duration", metavar="DURATION", help='how long, e.g. "30m"')
    parser.add_argument("--reason", required=True)
    parser.add_argument("--db", type=Path, required=True, metavar="FILE")
    parser.add_argument("--virtual-clock", metavar="NOW", required=True)
    args = parser.parse_args(argv)
    try:
        now = aware("--virtual-clock", args.virtual_clock).astimezone(UTC)
    except RunOptionError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return EXIT_FAILED
    return record(args.db, now, args.duration, args.reason, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
