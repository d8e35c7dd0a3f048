"""`portwatch inbox`: run the reference clinic inbox (verifies, de-duplicates, lists alerts)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

HELP = "run a reference clinic inbox that verifies, stores and lists signed alerts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on")
    parser.add_argument(
        "--secret-file",
        type=Path,
        required=True,
        help="file holding the shared whsec_ secret (never pass a secret on the command line)",
    )
    parser.add_argument(
        "--db", type=Path, default=Path("inbox.db"), help="the inbox's own SQLite file"
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help=(
            "a host name the inbox is reached by (repeatable); address literals and"
            " localhost always are, any other name is refused (DNS rebinding)"
        ),
    )


async def _serve_until_stopped(
    app: web.Application, host: str, port: int, interrupted: list[int]
) -> None:
    """Serve within the inbox's bounds until SIGINT (recorded in ``interrupted``) or SIGTERM;
    "listening" is printed only once the port is bound."""
    from portwatch.serving import serve
    from portwatch.sim.inbox import inbox_limits

    served = await serve(app, host, port, inbox_limits())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_interrupt() -> None:
        interrupted.append(signal.SIGINT)
        stop.set()

    loop.add_signal_handler(signal.SIGINT, on_interrupt)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print(f"portwatch inbox: listening on http://{host}:{served.port}/ (POST /webhook)", flush=True)
    try:
        await stop.wait()
    finally:
        await served.close()


def run(args: argparse.Namespace) -> int:
    from portwatch.alerts.delivery import DeliveryError, load_secret
    from portwatch.alerts.signing import SignatureError, parse_secret
    from portwatch.clock import SystemClock
    from portwatch.sim.inbox import InboxStore, make_app

    try:
        key = parse_secret(load_secret(args.secret_file))
    except (DeliveryError, SignatureError) as exc:
        print(f"portwatch inbox: {exc}")
        return 1
    store = InboxStore(args.db)
    interrupted: list[int] = []
    try:
        app = make_app(key, store, SystemClock(), host_names=tuple(args.allow_host))
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve_until_stopped(app, args.host, args.port, interrupted))
    except OSError as exc:  # the port is taken, or the address is not this machine's
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        print(f"portwatch inbox: cannot listen on {args.host}:{args.port}: {why}")
        return 1
    finally:
        store.close()
    return 130 if interrupted else 0
