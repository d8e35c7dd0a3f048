"""`portwatch inbox`: run the reference clinic inbox (verifies, de-duplicates, lists alerts)."""

from __future__ import annotations

import argparse
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
    try:
        app = make_app(key, store, SystemClock())
        print(f"portwatch inbox: listening on http://{args.host}:{args.port}/ (POST /webhook)")
        web.run_app(app, host=args.host, port=args.port, print=None)
    finally:
        store.close()
    return 0
