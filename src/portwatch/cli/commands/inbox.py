"""`portwatch inbox`: run the reference clinic inbox (verifies, de-duplicates, lists alerts)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

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


def run(args: argparse.Namespace) -> int:
    from aiohttp import web

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
    listening = f"portwatch inbox: listening on http://{args.host}:{args.port}/ (POST /webhook)"
    interrupted = _on_signals()
    try:
        app = make_app(key, store, SystemClock())
        # "listening" is printed once the port is bound (run_app calls `print` then).
        web.run_app(
            app,
            host=args.host,
            port=args.port,
            print=lambda _: print(listening, flush=True),
            handle_signals=False,  # _on_signals: Ctrl-C must still end with status 130
        )
    except OSError as exc:  # the port is taken, or the address is not this machine's
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        print(f"portwatch inbox: cannot listen on {args.host}:{args.port}: {why}")
        return 1
    finally:
        store.close()
    return 130 if interrupted else 0


def _on_signals() -> list[int]:
    """SIGINT and SIGTERM end the server cleanly (aiohttp stops on KeyboardInterrupt and
    GracefulExit); the list returned records a SIGINT, so `run` can exit with 130."""
    import signal

    from aiohttp.web_runner import GracefulExit

    seen: list[int] = []

    def on_int(signum: int, frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    def on_term(signum: int, frame: object) -> None:
        raise GracefulExit

    signal.signal(signal.SIGINT, on_int)
    signal.signal(signal.SIGTERM, on_term)
    return seen
