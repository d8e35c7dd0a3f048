"""`portwatch web link`: a new one-time link (and QR code) that opens the page on a phone."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "a one-time link and QR code that opens the caregiver page on a phone"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("link",), help="link: make a new phone link")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: $PORTWATCH_CONFIG or /etc/portwatch/portwatch.toml)",
    )
    parser.add_argument(
        "--valid",
        default="1h",
        metavar="DURATION",
        help="how long the link works (default 1h, at most 7d)",
    )
    parser.add_argument(
        "--qr-dir", type=Path, metavar="DIR", help="also save the QR code as SVG and PNG in DIR"
    )


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    import tomllib

    from portwatch.clock import SystemClock
    from portwatch.config import config_path, parse_duration
    from portwatch.setup.asking import Asker
    from portwatch.setup.finish import phone_link, show_link

    path = config_path(args.config)
    try:
        valid = parse_duration(args.valid)
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        print(f"portwatch web link: {path}: {exc}", file=sys.stderr)
        return 2
    address = str(settings.get("web", {}).get("address", "127.0.0.1:8470"))
    state = os.environ.get("STATE_DIRECTORY") or str(
        settings.get("store", {}).get("state_directory", "/var/lib/portwatch")
    )
    try:
        link = phone_link(address, Path(state.split(":")[0]), SystemClock().now(), valid)
    except PermissionError:
        print(
            f"portwatch web link: cannot write in {state}; run it as the service's user "
            "or a member of group portwatch (or with sudo)",
            file=sys.stderr,
        )
        return 1
    except (OSError, ValueError) as exc:
        print(f"portwatch web link: {exc}", file=sys.stderr)
        return 1
    show_link(link, Asker(sys.stdin, sys.stdout), args.qr_dir, valid)
    return 0
