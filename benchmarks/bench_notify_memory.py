"""Peak memory of the daemon's notice path for no URL, an ntfy topic and an e-mail URL (#19, #20).

Issue 20 gives the daemon about 57 MiB on the Pi; with an Apprise URL the daemon used to
import all of Apprise's ~190 services (+27 MiB). Each case runs in a fresh process that
does what the daemon does for notices: import the daemon, load the settings (the URL is
checked, so Apprise builds its service), build the caregiver's sender and send one notice
to a receiver on loopback (an HTTP topic, an aiosmtpd server, both run by this process).
The figure is the child's ``VmHWM``; the baseline the same process with no notification
URL at all.

    python benchmarks/bench_notify_memory.py
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Final

SECRET: Final = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 (a test secret)
SETTINGS: Final = """
[patient]
reference = "Patient/1"
placement = 2026-11-27T13:30:00Z
[clinic]
url = "http://127.0.0.1:9/alerts"
recipient = "Organization/clinic-1"
[notify]
{notify}
"""

_CHILD: Final = """
import asyncio, json, re, sys
from datetime import UTC, datetime
import portwatch.service.daemon, portwatch.service.wiring  # what `portwatch run` imports
from portwatch.alerts.apprise_sender import notify_sender
from portwatch.alerts.endpoints import NotifyEndpoint
from portwatch.alerts.posting import Note
from portwatch.config import load_settings
from portwatch.log.store import Priority

now = datetime.now(UTC)
settings = load_settings(__import__("pathlib").Path(sys.argv[1]), now=now,
                         environ={"CREDENTIALS_DIRECTORY": sys.argv[2]})
url = settings.notify.caregiver_url
status = None
if url is not None:
    sender = notify_sender(NotifyEndpoint(url=url))
    note = Note("bench-1", "Fever confirmed", "Two readings over 38.3 °C.", Priority.URGENT)
    status = asyncio.run(sender.send_note(note, now)).status_code
status_text = open("/proc/self/status").read()
hwm = int(re.search(r"VmHWM:\\s+(\\d+)", status_text)[1])
plugins = len([m for m in sys.modules if m.startswith("apprise.plugins.")])
print(json.dumps({"hwm_kib": hwm, "status": status, "apprise_plugin_modules": plugins}))
"""


class _Topic(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        del args


def _child(settings: Path, credentials: Path) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 (this interpreter, fixed script)
        [sys.executable, "-c", _CHILD, str(settings), str(credentials)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(quick: bool) -> list[dict[str, Any]]:
    from aiosmtpd.controller import Controller

    del quick
    topic = HTTPServer(("127.0.0.1", 0), _Topic)
    threading.Thread(target=topic.serve_forever, daemon=True).start()
    with socket.socket() as probe:  # a free port: aiosmtpd's Controller cannot take 0
        probe.bind(("127.0.0.1", 0))
        mail_port = probe.getsockname()[1]
    mail = Controller(_Accept(), hostname="127.0.0.1", port=mail_port)
    mail.start()
    cases = {
        "no notification URL": "",
        "ntfy topic (http, loopback)": f'caregiver_url = "http://127.0.0.1:{topic.server_port}/t"',
        "e-mail (mailto://, Apprise)": (
            f'caregiver_url = "mailto://127.0.0.1:{mail_port}'
            '?from=pi@mail.test&to=carer@mail.test&mode=insecure"'
        ),
    }
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="portwatch-bench-notify-") as work:
            credentials = Path(work) / "credentials"
            credentials.mkdir()
            (credentials / "clinic-secret").write_text(SECRET)
            os.chmod(credentials / "clinic-secret", 0o600)
            measured = {}
            for name, notify in cases.items():
                path = Path(work) / "portwatch.toml"
                path.write_text(SETTINGS.format(notify=notify))
                measured[name] = _child(path, credentials)
    finally:
        mail.stop()
        topic.shutdown()
    base = measured["no notification URL"]["hwm_kib"] / 1024
    for name, result in measured.items():
        rows.append(
            {
                "figure": f"daemon's notice path peak RSS (VmHWM), {name}; status "
                f"{result['status']}, {result['apprise_plugin_modules']} Apprise plugin modules",
                "value": round(result["hwm_kib"] / 1024, 1),
                "unit": "MiB",
                "baseline": "the same process with no notification URL",
                "baseline_value": round(base, 1),
            }
        )
    return rows


class _Accept:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        del server, session, envelope
        return "250 OK"


if __name__ == "__main__":
    for row in measure(quick=False):
        print(f"{row['value']:6.1f} {row['unit']}  {row['figure']}")
