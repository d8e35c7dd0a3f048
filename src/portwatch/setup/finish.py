"""Setup's last steps, once the settings are written: doctor, the service, the phone link.

:func:`phone_link` and :func:`show_link` are also ``portwatch web link``'s: a new one-time
link for another phone, or when the first one expired.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from portwatch.setup.network import lan_address

if TYPE_CHECKING:
    from portwatch.setup.asking import Asker
    from portwatch.setup.files import Layout
    from portwatch.setup.flow import Options

__all__ = ["check_enable_and_link", "phone_link", "show_link"]

# What doctor cannot see pass before the service has run once: not failures of setup.
_BEFORE_START = frozenset({"thermometer", "clock"})


def phone_link(web_address: str, state_dir: Path, now: datetime, valid: timedelta) -> str:
    """A one-time link to the page for a phone (:mod:`portwatch.web.login`).

    A page listening on every address (0.0.0.0) is linked at this Pi's home-network address.

    Raises:
        ValueError: ``valid`` beyond what a link may have.
        OSError: the state directory cannot be written.
    """
    from portwatch.web.login import CodeStore

    host, _, port = web_address.rpartition(":")
    host = host.strip("[]")
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (a comparison, not a bind)
        host = lan_address() or "127.0.0.1"
    try:
        shown = f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        shown = host  # a name, such as raspberrypi.local
    code = CodeStore(state_dir).issue(now, valid)
    return f"http://{shown}:{port}/login?code={code}"


def show_link(link: str, asker: Asker, qr_dir: Path | None, valid: timedelta) -> None:
    """The link, its QR code in the terminal, and (with ``qr_dir``) as SVG and PNG files."""
    from portwatch.setup.qr import qr_files, qr_terminal

    hours = valid / timedelta(hours=1)
    asker.say("")
    asker.say("Open this link once on the caregiver's phone (scan the code with its camera).")
    asker.say(f"It works once, for {hours:g} h; `portwatch web link` makes a new one.")
    asker.say(link)
    asker.say(qr_terminal(link).rstrip("\n"))
    if qr_dir is not None:
        paths = qr_files(link, qr_dir)
        asker.say("Also saved as " + " and ".join(str(p) for p in paths) + " (to print).")
    host = link.split("//", 1)[1].split(":", 1)[0]
    if host in ("127.0.0.1", "[::1]", "localhost"):
        asker.say(
            "note: the page listens on this Pi only; a phone cannot open this link. "
            "Run portwatch setup --web-address lan to let phones at home reach it."
        )


def _doctor(
    opts: Options, asker: Asker, path: Path, environ: Mapping[str, str], now: datetime
) -> bool:
    """doctor's checks on what was written; False when the settings themselves fail."""
    import os
    import socket

    from portwatch.service.doctor import run_checks

    env = {**os.environ, **environ}
    checks = asyncio.run(
        run_checks(
            path,
            now,
            env,
            root=opts.root,
            send_test=opts.send_test,
            gateway_id=socket.gethostname(),
        )
    )
    asker.say("Checking (portwatch doctor):")
    for check in checks:
        later = not check.passed and check.name in _BEFORE_START
        asker.say("  " + check.line() + (" (expected before the service has run)" if later else ""))
    return checks[0].passed


def check_enable_and_link(
    opts: Options, asker: Asker, layout: Layout, environ: Mapping[str, str], now: datetime
) -> int:
    """doctor, then the service (on the Pi itself), then the phone link; the exit status."""
    import tomllib

    from portwatch.setup.flow import EXIT_BAD_INPUT, EXIT_FAILED, systemctl

    settings_path = layout.on_disk(layout.config)
    if not _doctor(opts, asker, settings_path, environ, now):
        return EXIT_BAD_INPUT
    status = 0
    if opts.enable and layout.is_live:
        for argv in (("enable", "portwatch.service"), ("restart", "portwatch.service")):
            problem = systemctl(*argv)
            if problem is not None:
                asker.say(f"systemctl {' '.join(argv)}: {problem}")
                asker.say("Start it by hand when fixed: sudo systemctl enable --now portwatch")
                status = EXIT_FAILED
                break
        else:
            asker.say("The service is enabled and (re)started: systemctl status portwatch")
    else:
        asker.say("Not starting the service (--no-enable, or preparing another root).")
    settings = tomllib.loads(settings_path.read_text(encoding="utf-8"))
    address = str(settings.get("web", {}).get("address", "127.0.0.1:8470"))
    state = Path(environ["STATE_DIRECTORY"])
    link = phone_link(address, state, now, opts.link_valid)
    show_link(link, asker, opts.qr_dir, opts.link_valid)
    return status
