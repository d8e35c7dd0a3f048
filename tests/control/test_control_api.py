"""The control API on a real Unix socket over the service's real entrances and a real log:
refusals that name the field, versioned paths, the socket's mode, and the log watch."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from portwatch.cli.commands._through import reading_json
from portwatch.cli.control_client import ControlError, ServiceNotRunning, ask
from portwatch.clock import VirtualClock
from portwatch.log.store import Channel, OutboxEntry, Priority, Store, StoredReading
from portwatch.model import Reading, ReadingKind, Symptom, Unit
from portwatch.service.control_server import SOCKET_MODE, ControlServer
from portwatch.service.entrances import Entrances
from portwatch.service.logwatch import LogWatch, SeenReadings

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _reading(hours_ago: float, value: str = "101.5") -> Reading:
    return Reading(
        device="manual",
        kind=ReadingKind.SPOT,
        value=Decimal(value),
        unit=Unit.FAHRENHEIT,
        celsius=(float(value) - 32) * 5 / 9,
        time=NOW - timedelta(hours=hours_ago),
        received_at=NOW,
        raw=value.encode(),
    )


@dataclass
class Service:
    """The real entrances over a real log; what they hand the rule is kept."""

    store: Store
    socket: Path
    fed: list[StoredReading] = field(default_factory=list)
    reports: list[tuple[Sequence[Symptom], str]] = field(default_factory=list)
    wakes: int = 0


@pytest.fixture
async def service(short_dir: Path) -> AsyncIterator[Service]:
    store = Store.open(short_dir / "portwatch.db")
    box = Service(store, short_dir / "control.sock")

    async def on_store_thread(work: Callable[[], Any]) -> Any:
        return work()

    async def report(symptoms: Sequence[Symptom], note: str) -> str:
        box.reports.append((symptoms, note))
        return "alert-1"

    def wake() -> None:
        box.wakes += 1

    entrances = Entrances(
        clock=VirtualClock(NOW),
        on_store_thread=on_store_thread,
        store=lambda: store,
        feed=box.fed.extend,
        report=report,
        wake=wake,
        status_line=lambda: "monitoring day 1 of 10",
    )
    server = ControlServer(entrances, box.socket)
    await server.start()
    yield box
    await server.close()
    store.close()


async def _post(path: Path, target: str, body: object) -> tuple[int, dict[str, Any]]:
    connector = aiohttp.UnixConnector(path=str(path))
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.post(f"http://portwatch{target}", json=body) as response,
    ):
        return response.status, await response.json()


async def test_unknown_field_is_refused_with_400_naming_it(service: Service) -> None:
    """A typo in a script must not be ignored: the answer names the field."""
    status, answer = await _post(
        service.socket, "/v1/pauses", {"duration_s": 600, "reason": "shower", "colour": "red"}
    )
    assert status == 400
    assert answer["error"] == "colour: unknown field"
    assert service.store.notes(NOW - timedelta(days=1), NOW + timedelta(days=1)) == []


async def test_unknown_field_inside_a_reading_is_named_by_its_place(service: Service) -> None:
    body = {"readings": [{**reading_json(_reading(1)), "thermometer": "x"}], "once": False}
    status, answer = await _post(service.socket, "/v1/readings", body)
    assert status == 400
    assert answer["error"] == "readings.0.thermometer: unknown field"
    assert service.fed == []


async def test_other_version_is_404_and_says_which_version_is_spoken(service: Service) -> None:
    status, answer = await _post(service.socket, "/v2/pauses", {"duration_s": 600})
    assert status == 404
    assert "/v1/" in answer["error"]


async def test_socket_is_mode_0660_when_served(service: Service) -> None:
    """The group (portwatch) may use it, nobody else."""
    assert stat.S_ISSOCK(service.socket.stat().st_mode)
    assert stat.S_IMODE(service.socket.stat().st_mode) == SOCKET_MODE == 0o660


async def test_reading_posted_is_logged_and_fed_to_the_rule_once(service: Service) -> None:
    """The client's shape is the server's: what `add` sends is what the rule gets."""
    reading = _reading(5)
    status, answer = await _post(
        service.socket, "/v1/readings", {"readings": [reading_json(reading)], "once": False}
    )
    assert status == 200
    (row_id,) = answer["ids"]
    assert [(s.id, s.reading) for s in service.fed] == [(row_id, reading)]


async def test_pause_over_2_h_is_refused_with_the_reason(service: Service) -> None:
    status, answer = await _post(
        service.socket, "/v1/pauses", {"duration_s": 3 * 3600, "reason": "bath"}
    )
    assert status == 400
    assert "at most 2:00:00" in answer["error"]


async def test_resend_of_unknown_alert_is_404_and_wakes_nobody(service: Service) -> None:
    status, answer = await _post(service.socket, "/v1/alerts/no-such-id/resend", None)
    assert status == 404
    assert "no-such-id" in answer["error"]
    assert service.wakes == 0


async def test_client_raises_not_running_when_no_one_listens(short_dir: Path) -> None:
    """A socket left by a crash (nobody listening) means: no service; do it yourself."""
    import socket as sockets

    stale = short_dir / "stale.sock"
    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as sock:
        sock.bind(str(stale))
    with pytest.raises(ServiceNotRunning):
        ask(stale, "GET", "status")
    with pytest.raises(ServiceNotRunning):
        ask(short_dir / "missing.sock", "GET", "status")


async def test_client_raises_the_services_refusal(service: Service) -> None:
    import asyncio

    with pytest.raises(ControlError, match="symptoms: List should have at least 1 item"):
        await asyncio.to_thread(ask, service.socket, "POST", "reports", {"symptoms": []})


def _answer_once(path: Path, answer: bytes) -> Any:
    """A one-shot server on a real Unix socket: reads the request, sends ``answer``, closes."""
    import socket as sockets
    import threading

    server = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(answer)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_client_refuses_an_answer_cut_short(short_dir: Path) -> None:
    """The client reads to the end of the stream: fewer bytes than Content-Length says is
    not an answer (a service that died mid-reply), and is not taken as an empty one."""
    socket_path = short_dir / "cut.sock"
    served = _answer_once(
        socket_path,
        b'HTTP/1.1 200 OK\r\nContent-Length: 40\r\nConnection: close\r\n\r\n{"screen": ',
    )
    with pytest.raises(ValueError, match="cut short"):
        ask(socket_path, "GET", "status", timeout_s=5)
    served.join(5)


def test_client_reads_status_reason_and_body_of_a_whole_answer(short_dir: Path) -> None:
    socket_path = short_dir / "whole.sock"
    body = b'{"error": "paused already"}'
    head = f"HTTP/1.1 409 Conflict\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    served = _answer_once(socket_path, head + body)
    with pytest.raises(ControlError, match="paused already") as refused:
        ask(socket_path, "POST", "pause", {"minutes": 5}, timeout_s=5)
    assert refused.value.status == 409
    served.join(5)


def test_seen_readings_give_each_row_once_whichever_path_sees_it_first() -> None:
    """The writer's batch and the watch's scan may see the same rows in either order."""
    rows = [StoredReading(i, _reading(1)) for i in range(1, 6)]
    seen = SeenReadings()
    seen.start_at(2)
    assert [s.id for s in seen.replayed(rows[:3])] == [1, 2, 3]  # 3 committed during it
    assert [s.id for s in seen.fresh(rows[3:4])] == [4]  # the writer's batch
    assert [s.id for s in seen.unseen(rows)] == [5]  # the watch's scan
    seen.settle(5)
    assert seen.fresh(rows) == []


async def test_log_watch_feeds_rows_another_connection_wrote_once(short_dir: Path) -> None:
    """PRAGMA data_version moves with another connection's commit; rows go to the rule once,
    and rows before the replay's window do not."""
    path = short_dir / "portwatch.db"
    with Store.open(path) as other, Store.open(path) as service_connection:
        other.add_readings([_reading(1)])
        fed: list[StoredReading] = []
        seen = SeenReadings()

        def feed(batch: Sequence[StoredReading]) -> None:
            fed.extend(seen.fresh(batch))

        watch = LogWatch(
            path,
            lambda after, limit: service_connection.readings_after(after, limit=limit),
            seen,
            feed,
            skip_before=NOW - timedelta(days=2),
        )
        seen.start_at(watch.open())
        try:
            assert watch.check() == 0  # nothing committed since it opened
            ids = other.add_readings([_reading(0.5), _reading(24 * 3)])
            assert watch.check() == 1
            assert [s.id for s in fed] == ids[:1]
            assert watch.check() == 0
        finally:
            watch.close()


async def test_log_watch_wakes_delivery_when_another_connection_queues_or_requeues(
    short_dir: Path,
) -> None:
    """An outbox row queued by another process, or requeued by `alerts resend` writing the
    log itself, wakes delivery at the next look; a commit that leaves the outbox alone
    (a reading) does not."""
    path = short_dir / "portwatch.db"
    with Store.open(path) as other, Store.open(path) as service_connection:
        wakes: list[int] = []
        seen = SeenReadings()
        watch = LogWatch(
            path,
            lambda after, limit: service_connection.readings_after(after, limit=limit),
            seen,
            lambda batch: None,
            skip_before=NOW - timedelta(days=2),
            outbox_changed=lambda: wakes.append(1),
        )
        seen.start_at(watch.open())
        try:
            other.add_readings([_reading(1)])
            watch.check()
            assert wakes == []
            other.enqueue([_entry("a")])
            watch.check()
            assert wakes == [1]
            watch.check()
            assert wakes == [1]  # nothing committed since
            other.outbox_mark_failed("a", NOW, 400, "refused")
            watch.check()
            other.outbox_requeue("a", NOW + timedelta(minutes=5))
            watch.check()
            assert len(wakes) == 3  # failed (pending no more), then pending again
        finally:
            watch.close()


def _entry(alert_id: str) -> OutboxEntry:
    return OutboxEntry(
        id=alert_id,
        channel=Channel.CLINIC,
        kind="symptoms.reported",
        priority=Priority.URGENT,
        created_at=NOW,
        body="{}",
        content_type="application/json",
    )


async def test_curl_can_poke_it_as_the_docstring_says(service: Service) -> None:
    """An ordinary tool: `curl --unix-socket` with a body large enough for Expect: 100."""
    import asyncio
    import json
    import shutil

    curl = shutil.which("curl")
    assert curl is not None, "curl missing: tests/system-deps installs it"
    reason = "shower " + "x" * 1500  # curl sends Expect: 100-continue above 1 KiB
    body = json.dumps({"duration_s": 600, "reason": reason[:200]} | {"pad": "y" * 1200})
    process = await asyncio.create_subprocess_exec(
        curl, "-s", "--unix-socket", str(service.socket), "-X", "POST",
        "-H", "Content-Type: application/json", "-d", body,
        "http://portwatch/v1/pauses", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert json.loads(out) == {"error": "pad: unknown field"}
    process = await asyncio.create_subprocess_exec(
        curl, "-s", "--unix-socket", str(service.socket), "http://portwatch/v1/status",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert json.loads(out)["status"] == "monitoring day 1 of 10"
