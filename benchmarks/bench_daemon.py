"""The daemon after days at one reading a second, with the caregiver page in use (issue 20).

The daemon runs as ``portwatch run`` wires it (:class:`~portwatch.service.daemon.Daemon`:
the reading writer with its 1 s durability, the fever rule on durable readings, the outbox
and its delivery to a clinic, the timed work, the page) on a simulated clock, in a process
of its own, and is fed one CORE reading per simulated second: ten simulated days are
864,000 readings (``--quick``: one day). Every simulated minute the caregiver's "now" page
is fetched over HTTP on loopback, and the chart every fifteen minutes. Alerts go to a
clinic in another process (a stdlib server that answers 200: the Pi does not run the
clinic).

What is bypassed, and why: the virtual radio cannot carry one notification a second for
days in minutes, so the readings do not come over the air. Each reading's CORE frame is
decoded by the CORE driver's session (``CoreSession.decode``, as the link decodes a
notification) and made into a :class:`~portwatch.model.Reading` with the fields the link
gives it, then handed to the link's sink (``service.readings.sink``), the daemon's reading
path from there on. Not exercised: the Bluetooth transport (BlueZ over D-Bus on a Pi,
Bumble here) and the link's duplicate-packet filter. The link itself runs, connected to a
virtual CORE wearable that stays quiet, so the process holds Bumble and the virtual
radio: their share (the extra RSS of importing them on top of the daemon's libraries, in
separate interpreters, as bench_pipeline measures it) is taken off for the "as on the Pi"
figures.

The log lives on a RAM disk (/dev/shm when there is one): 864,000 durable commits on this
machine's disk would measure its fsync, not the daemon's CPU; on the Pi that wait is I/O,
not CPU time.

Every child runs with the ``Environment=`` of systemd/portwatch.service (its malloc settings
included), as the Pi's unit runs the daemon; the baselines too, alike.

Figures: peak RSS (``VmHWM``) and final RSS (``VmRSS``) from /proc, against a bare
interpreter importing the daemon's libraries; CPU seconds (user + system) per simulated day
of the daemon's process less the same feeding loop run without a daemon (the harness: the
simulated clock, making frames, fetching), against that harness alone. Targets: RSS <= 60
MB, CPU <= 1 % of a core (864 s per simulated day).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # noqa: S105 (loopback test clinic)
CPU_TARGET_S_PER_DAY = 864.0
MiB = 2**20

# The clinic, in a process of its own: every POST is accepted.
_CLINIC_SCRIPT = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Accept(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)

_DAEMON_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from urllib.parse import urlsplit

    from portwatch.ble.drivers.core import CoreSession
    from portwatch.clock import VirtualClock
    from portwatch.model import Reading
    from portwatch.sim.scenario import COURSE, core_celsius

    DAYS, MODE = float(sys.argv[1]), sys.argv[2]
    PLACEMENT = datetime(2026, 11, 4, 8, tzinfo=UTC)
    PAGE_EVERY_S, CHART_EVERY_S = 60, 900

    def proc_status(field):
        text = Path("/proc/self/status").read_text()
        return int(text.split(field + ":")[1].split()[0]) * 1024

    async def fetch(url, path, token):
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(
            f"GET {path} HTTP/1.1\\r\\nHost: {parts.netloc}\\r\\n"
            f"Cookie: portwatch_token={token}\\r\\nConnection: close\\r\\n\\r\\n".encode()
        )
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()
        return int(answer.split(b" ", 2)[1]), len(answer)

    async def main():
        clock = VirtualClock(PLACEMENT)
        temperature = lambda when: core_celsius(PLACEMENT, when, COURSE.fevers)
        wearable = None
        settled = lambda: True
        sink = fetcher = None
        if MODE == "daemon":
            clinic_url, secret_file, state = sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5])
            from portwatch.ble.pin import Pin, save_pin
            from portwatch.config import Settings, clinic_endpoint
            from portwatch.log.store import writers_idle
            from portwatch.service.daemon import Daemon
            from portwatch.sim.pacing import TrackingExecutor
            from portwatch.sim.radio import VirtualCoreWearable, VirtualRadio

            threads = TrackingExecutor(4, thread_name_prefix="portwatch-io")
            asyncio.get_running_loop().set_default_executor(threads)
            settled = lambda: threads.idle and writers_idle()
            radio = VirtualRadio(clock)
            await radio.__aenter__()
            # Connected and quiet: the readings come through the sink below.
            wearable = await radio.add(
                VirtualCoreWearable(clock, interval_s=30 * 86400.0, temperature_at=temperature)
            )
            save_pin(state, Pin(address=wearable.address, name=wearable.name, driver="core"))
            settings = Settings.model_validate({
                "patient": {"reference": "Patient/bench", "placement": PLACEMENT,
                            "timezone": "UTC"},
                "bluetooth": {"backend": "virtual", "address": wearable.address},
                "clinic": {"url": clinic_url, "recipient": "Organization/bench",
                           "format": "json", "secret_file": secret_file},
                "store": {"state_directory": state},
            })
            token = "bench-page-token-0123456789"
            daemon = Daemon(settings, clock=clock, radio=radio, signing_clock=clock,
                            clinic=clinic_endpoint(settings, {}), web_token=token,
                            web_port=0, gateway_id="bench")
            running = asyncio.create_task(daemon.run())
            await daemon.ready.wait()
            sink = daemon.service.readings.sink
            url = daemon.web_url
            fetcher = lambda path: fetch(url, path, token)
        else:  # the harness alone: the same loop, nothing fed to
            from portwatch.sim.radio.wearable import VirtualCoreWearable

            wearable = VirtualCoreWearable(clock, interval_s=1.0, temperature_at=temperature)
        address = wearable.address if MODE == "daemon" else "AA:BB:CC:DD:EE:FF"
        session = CoreSession()
        seconds = int(DAYS * 86400)
        pages = statuses = 0
        began_cpu, began = time.process_time(), time.perf_counter()
        for second in range(seconds):
            now = clock.now()
            data = wearable.frame(now)
            sample = session.decode("core", data, received_mono=clock.monotonic())
            reading = Reading(
                device=address, kind=sample.kind, value=sample.value, unit=sample.unit,
                celsius=sample.celsius, time=now, received_at=now,
                device_time=sample.device_time, site=sample.site,
                interval_s=sample.interval_s, special=sample.special, raw=data,
                invalid_reason=sample.invalid_reason,
            )
            if sink is not None:
                await sink(reading)
            if fetcher is not None and second % PAGE_EVERY_S == 0:
                status, _ = await fetcher("/")
                statuses += status == 200
                pages += 1
                if second % CHART_EVERY_S == 0:
                    status, _ = await fetcher("/chart")
                    statuses += status == 200
                    pages += 1
            # As the demo's pacer: simulated time waits for thread work in flight.
            while not settled():
                await asyncio.sleep(0.0002)
            await clock.advance(1.0)
        cpu = time.process_time() - began_cpu
        wall = time.perf_counter() - began
        out = {"cpu": cpu, "wall": wall, "seconds": seconds, "pages": pages,
               "pages_ok": statuses, "hwm": proc_status("VmHWM"), "rss": proc_status("VmRSS"),
               "rss_anon": proc_status("RssAnon"), "rss_file": proc_status("RssFile"),
               "rss_shmem": proc_status("RssShmem")}
        if MODE == "daemon":
            await asyncio.sleep(0.5)  # let the last deliveries finish
            store = daemon.service.store
            out["readings"] = store.reading_count()
            rows = store.outbox_all()
            out["outbox"] = len(rows)
            out["delivered"] = sum(1 for r in rows if r.status == "delivered")
            daemon.stop()
            await running
            await radio.__aexit__(None, None, None)
        print(json.dumps(out))

    asyncio.run(main())
    """
)

_BARE_SCRIPT = """
import json
{imports}
text = open("/proc/self/status").read()
print(json.dumps({{"rss": int(text.split("VmRSS:")[1].split()[0]) * 1024}}))
"""


def _daemon_libraries() -> str:
    """What `portwatch run` needs on the Pi (bench_pipeline's memory baseline)."""
    return "import asyncio, sqlite3, bleak, bleak_retry_connector, requests, pydantic, " + (
        "pydantic_settings, apscheduler, aiohttp"  # the page is on here
    )


UNIT = Path(__file__).resolve().parent.parent / "systemd" / "portwatch.service"


def unit_environment(unit: Path = UNIT) -> dict[str, str]:
    """The variables the unit's ``Environment=`` lines set (``NAME=value``, space-separated,
    quoted as systemd quotes them)."""
    found: dict[str, str] = {}
    for line in unit.read_text(encoding="utf-8").splitlines():
        if line.startswith("Environment="):
            for word in shlex.split(line.removeprefix("Environment=")):
                name, _, value = word.partition("=")
                found[name] = value
    return found


def _python(script: str, *args: str, timeout: float = 7200) -> dict[str, Any]:
    result = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env={**os.environ, **unit_environment()},
    )
    if result.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{result.stderr[-3000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def _scratch() -> str | None:
    shm = Path("/dev/shm")  # noqa: S108 (a private temporary directory is made in it)
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def run_daemon(days: float) -> dict[str, Any]:
    """The daemon's process after ``days`` at 1/s, and the harness alone, and the baselines."""
    with tempfile.TemporaryDirectory(prefix="portwatch-bench-daemon-", dir=_scratch()) as tmp:
        work = Path(tmp)
        secret = work / "clinic-secret"
        secret.write_text(SECRET + "\n", encoding="utf-8")
        secret.chmod(0o600)
        clinic = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", _CLINIC_SCRIPT], stdout=subprocess.PIPE, text=True
        )
        try:
            assert clinic.stdout is not None
            port = int(clinic.stdout.readline())
            url = f"http://127.0.0.1:{port}/webhook"
            state = work / "state"
            daemon = _python(_DAEMON_SCRIPT, str(days), "daemon", url, str(secret), str(state))
        finally:
            clinic.terminate()
            clinic.wait(timeout=15)
    harness = _python(_DAEMON_SCRIPT, str(days), "harness")
    libraries = _daemon_libraries()
    bare = _python(_BARE_SCRIPT.format(imports=libraries))["rss"]
    with_radio = _python(
        _BARE_SCRIPT.format(imports=libraries + ", bumble\nimport portwatch.sim.radio")
    )["rss"]
    return {
        "days": days,
        "environment": unit_environment(),
        "daemon": daemon,
        "harness": harness,
        "bare_rss": bare,
        "radio_share": max(0, with_radio - bare),
    }


def rows_from(measured: dict[str, Any], label: str = "") -> list[dict[str, Any]]:
    days = float(measured["days"])
    daemon, harness = measured["daemon"], measured["harness"]
    share, bare = measured["radio_share"], measured["bare_rss"]
    span = f"{days:g} simulated day{'s' if days != 1 else ''} at 1/s, page every minute"
    baseline = "bare interpreter importing the daemon's libraries"
    cpu_day = (daemon["cpu"] - harness["cpu"]) / days
    return [
        {
            "figure": f"{label}daemon peak RSS (VmHWM) after {span}, less virtual radio "
            "(target <= 60 MB = 57.2 MiB)",
            "value": (daemon["hwm"] - share) / MiB,
            "unit": "MiB",
            "baseline": baseline,
            "baseline_value": bare / MiB,
        },
        {
            "figure": f"{label}daemon final RSS (VmRSS) after {span}, less virtual radio",
            "value": (daemon["rss"] - share) / MiB,
            "unit": "MiB",
            "baseline": baseline,
            "baseline_value": bare / MiB,
        },
        {
            "figure": f"{label}daemon process peak RSS (VmHWM), with the virtual radio's "
            f"{share / MiB:.1f} MiB",
            "value": daemon["hwm"] / MiB,
            "unit": "MiB",
            "baseline": baseline + " + Bumble and the virtual radio",
            "baseline_value": (bare + share) / MiB,
        },
        {
            "figure": f"{label}daemon CPU per simulated day at 1/s, less the feeding harness "
            f"(target <= {CPU_TARGET_S_PER_DAY:.0f} s = 1 % of a core)",
            "value": cpu_day,
            "unit": "s",
            "baseline": "the feeding harness alone (same loop, no daemon), per day",
            "baseline_value": harness["cpu"] / days,
        },
    ]


def projected_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Under ``run.py --pi-zero``: the CPU figure again, times the assumed slowdown of a Pi
    Zero 2 W's core (benchmarks/pi_zero.py says why), against the 1 % target."""
    factor = os.environ.get("PORTWATCH_BENCH_PI_ZERO_SLOWDOWN")
    if not factor:
        return []
    cpu = next(row for row in rows if row["figure"].startswith("daemon CPU"))
    return [
        {
            "figure": f"projected on a Pi Zero 2 W (x{float(factor):g} CPU time, assumed): "
            "daemon CPU per simulated day",
            "value": cpu["value"] * float(factor),
            "unit": "s",
            "baseline": "target: 1 % of one core (864 s per day)",
            "baseline_value": CPU_TARGET_S_PER_DAY,
        }
    ]


def measure(quick: bool) -> list[dict[str, Any]]:
    days = 1.0 if quick else 10.0
    began = time.perf_counter()
    measured = run_daemon(days)
    daemon = measured["daemon"]
    if daemon["readings"] < daemon["seconds"] or daemon["pages_ok"] != daemon["pages"]:
        raise RuntimeError(f"the daemon did not take every reading or page: {daemon}")
    print(
        f"bench_daemon: {days:g} days in {time.perf_counter() - began:.0f} s; {daemon}",
        file=sys.stderr,
    )
    rows = rows_from(measured)
    return rows + projected_rows(rows)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=1.0)
    args = parser.parse_args()
    result = run_daemon(args.days)
    print(json.dumps(result, indent=2))
    for row in rows_from(result):
        print(f"{row['figure']}: {row['value']:.1f} {row['unit']} (vs {row['baseline_value']:.1f})")
