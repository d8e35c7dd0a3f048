"""Issue 16, as a person meets it: `portwatch run` as a real process on the real clock, and
`add`, `import`, `report`, `pause` and `alerts resend` each run as a process of their own.

While the service runs, what they change enters its path at once and what it causes
reaches the clinic's inbox (on loopback, in this test) within seconds, not at the
deliverer's next poll. With the service stopped, each says so in one line and writes the
log, and the service acts on it when it starts. Rows written straight into the log by
another process reach the rule through the service's data_version watch.

The real clock: the virtual wearable streams a normal temperature once a minute from the
placement, so the only fever is the one typed or imported here. A container's clock is
often not synchronised; the service then counts time from the log's latest reading
(service/timekeeping.py), so every test first logs a normal hand reading with the service
stopped, which also checks what `add` says then.
"""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from portwatch.clock import SystemClock
from portwatch.log.store import Store
from portwatch.model import Reading, ReadingKind, Unit
from portwatch.service.timekeeping import kernel_synchronised

from .control_process import Inbox, Ran, command, service, wait_for, write_config

# The real clock, as the service and the commands read it (the tests run on real time).
CLOCK = SystemClock()
ARRIVE_WITHIN_S = 5.0  # the issue: in the inbox within 5 s
NOT_RUNNING = "portwatch is not running:"


def _hours_ago(hours: float) -> str:
    return (CLOCK.now() - timedelta(hours=hours)).isoformat(timespec="seconds")


async def _setup(short_dir: Path, inbox: Inbox) -> Path:
    """Settings placed 6 h ago, and a normal hand reading logged with no service running."""
    config = write_config(short_dir, inbox.url, CLOCK.now() - timedelta(hours=6))
    seeded = await command(config, "add", "98.4F")
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith(NOT_RUNNING), seeded.stdout
    assert "the service will act on it when it starts" in seeded.stdout
    return config


async def test_two_hand_readings_5_h_apart_reach_the_clinic_as_fever_within_5_s(
    short_dir: Path, inbox: Inbox
) -> None:
    """The fallback when the Bluetooth thermometer fails must alert while the service runs,
    and a resend of that alert must go out at once, not after a 60-s poll."""
    config = await _setup(short_dir, inbox)
    async with service(config):
        first = await command(config, "add", "101.5F", "--at", _hours_ago(5))
        assert first.returncode == 0, first.stderr
        assert NOT_RUNNING not in first.stdout
        second = await command(config, "add", "101.8F")
        assert second.returncode == 0, second.stderr
        await wait_for(lambda: inbox.first("fever.confirmed") is not None, 30)
        fever = inbox.first("fever.confirmed")
        assert fever is not None
        _report("add", second, fever.at)
        # The screens agree with the alert: both hand readings were used (§8), so the log
        # (as its own process) shows them without a "not used" reason.
        shown = await command(config, "log", "--since", "6h")
        assert shown.returncode == 0, shown.stderr
        hand = [line for line in shown.stdout.splitlines() if "from manual" in line]
        assert len(hand) == 3, shown.stdout  # the seed, 101.5 °F and 101.8 °F
        assert not [line for line in hand if "not used" in line], shown.stdout
        copies = lambda: sum(1 for a in inbox.arrivals if a.webhook_id == fever.webhook_id)  # noqa: E731
        resent = await command(config, "alerts", "resend", fever.webhook_id)
        assert resent.returncode == 0, resent.stdout + resent.stderr
        assert "sending it now" in resent.stdout
        await wait_for(lambda: copies() == 2, 30)
        _report("alerts resend", resent, inbox.arrivals[-1].at)
    assert [a.stored for a in inbox.arrivals if a.webhook_id == fever.webhook_id] == [True, False]


async def test_symptom_report_reaches_the_clinic_within_5_s_and_a_pause_shows_at_once(
    short_dir: Path, inbox: Inbox
) -> None:
    """`portwatch report redness` is urgent: the service sends it now, as it says."""
    config = await _setup(short_dir, inbox)
    async with service(config):
        report = await command(config, "report", "redness")
        assert report.returncode == 0, report.stdout + report.stderr
        assert "sending" in report.stdout
        await wait_for(lambda: inbox.first("symptoms.reported") is not None, 30)
        _report("report", report, _at(inbox, "symptoms.reported"))

        paused = await command(config, "pause", "30m", "--reason", "shower")
        assert paused.returncode == 0, paused.stderr
        assert NOT_RUNNING not in paused.stdout
        status = _ask(short_dir / "run" / "control.sock", "GET", "/v1/status")
        assert status["pause_reason"] == "shower"
        until = datetime.fromisoformat(str(status["paused_until"]))
        assert timedelta(minutes=29) < until - CLOCK.now() <= timedelta(minutes=30)
        # The screen says whether its times are the synchronised clock's, as this machine's
        # kernel says (a container's is often not synchronised; a CI machine's may be).
        screen = await command(config, "status")
        assert screen.returncode == 0, screen.stderr
        lines = screen.stdout.splitlines()
        said = [line.split(None, 1)[1] for line in lines if line.startswith("Clock ")]
        expected = [] if kernel_synchronised() else ["not synchronised: times, the day and"]
        assert [text[:36] for text in said] == expected, screen.stdout

        purged = await command(config, "purge", "--before", "2001-01-01T00:00Z", "--yes")
        assert purged.returncode == 0, purged.stderr
        assert purged.stdout.startswith("nothing in the log is older than"), purged.stdout


async def test_import_of_typed_readings_without_device_column_alerts_the_clinic(
    short_dir: Path, inbox: Inbox
) -> None:
    """fever-rule.md §8: an imported reading without a device is manual and counts; typed
    as a person types it: no kind, no offset (read in the patient's zone, UTC here)."""
    config = await _setup(short_dir, inbox)
    typed = short_dir / "typed.csv"

    def bare(hours: float) -> str:
        return (CLOCK.now() - timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M")

    typed.write_text(f"time,temperature,unit\n{bare(5.5)},101.6,F\n{bare(0.5)},101.9,F\n")
    async with service(config):
        imported = await command(config, "import", str(typed))
        assert imported.returncode == 0, imported.stderr
        assert "imported 2 new readings" in imported.stdout
        await wait_for(lambda: inbox.first("fever.confirmed") is not None, 30)
        _report("import", imported, _at(inbox, "fever.confirmed"))


async def test_readings_written_straight_into_the_log_reach_the_rule_through_the_watch(
    short_dir: Path, inbox: Inbox
) -> None:
    """The net: a process that writes the log itself (an older portwatch, sqlite3) is seen."""
    config = await _setup(short_dir, inbox)
    now = CLOCK.now()
    readings = [
        Reading(
            device="manual",
            kind=ReadingKind.SPOT,
            value=Decimal(value),
            unit=Unit.FAHRENHEIT,
            celsius=(float(value) - 32) * 5 / 9,
            time=now - timedelta(hours=hours),
            received_at=now,
        )
        for value, hours in (("101.4", 5), ("101.7", 0))
    ]
    async with service(config):
        with Store.open(short_dir / "state" / "portwatch.db") as log:
            log.add_readings(readings)
        written = time.perf_counter()
        await wait_for(lambda: inbox.first("fever.confirmed") is not None, 30)
        latency = _at(inbox, "fever.confirmed") - written
        print(f"direct write -> fever.confirmed in the inbox: {latency:.2f} s")
        assert latency <= ARRIVE_WITHIN_S


async def test_commands_say_the_service_is_not_running_and_it_acts_when_started(
    short_dir: Path, inbox: Inbox
) -> None:
    """Never "sends it now" when nothing runs; the log is written and the service acts."""
    config = await _setup(short_dir, inbox)
    first = await command(config, "add", "101.5F", "--at", _hours_ago(5))
    second = await command(config, "add", "101.8F")
    report = await command(config, "report", "redness")
    paused = await command(config, "pause", "30m", "--reason", "shower")
    for ran in (first, second, report, paused):
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stdout.startswith(NOT_RUNNING), ran.stdout
        assert "sends it now" not in ran.stdout
        assert "sending" not in ran.stdout
    assert "when it starts" in report.stdout
    assert "honours it when it starts" in paused.stdout
    with Store.open_reader(short_dir / "state" / "portwatch.db") as log:
        (symptoms,) = [row for row in log.outbox_all() if row.kind == "symptoms.reported"]
    resent = await command(config, "alerts", "resend", str(symptoms.id))
    assert resent.returncode == 0, resent.stdout + resent.stderr
    assert resent.stdout.startswith(NOT_RUNNING), resent.stdout
    typed = short_dir / "typed.csv"
    typed.write_text(f"time,temperature,unit,kind\n{_hours_ago(2)},98.2,F,spot\n")
    imported = await command(config, "import", str(typed))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(NOT_RUNNING), imported.stdout
    assert "the service will act on it when it starts" in imported.stdout
    purged = await command(config, "purge", "--before", "2001-01-01T00:00Z", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.startswith(f"{NOT_RUNNING} removing from the log directly")
    assert inbox.arrivals == []
    async with service(config):
        await wait_for(lambda: inbox.first("fever.confirmed") is not None, 30)
        await wait_for(lambda: inbox.first("symptoms.reported") is not None, 30)


def _at(inbox: Inbox, kind: str) -> float:
    arrival = inbox.first(kind)
    assert arrival is not None
    return arrival.at


def _report(what: str, ran: Ran, arrived: float) -> None:
    """Print the latency (for the report) and hold it to the issue's 5 s after the command."""
    print(
        f"{what}: in the inbox {arrived - ran.ended:+.2f} s after the command exited "
        f"({arrived - ran.started:.2f} s after it started)"
    )
    assert arrived - ran.ended <= ARRIVE_WITHIN_S


def _ask(path: Path, method: str, target: str) -> dict[str, object]:
    """A bare HTTP/1.1 request on the socket, as `curl --unix-socket` makes it."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: portwatch\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        while len(body) < length:
            body += sock.recv(65536)
    answer: dict[str, object] = json.loads(body)
    return answer
