"""The real payloads validate against the docs' schemas: made by processes as a person makes
them (issue 19, "each JSON payload kind validates against its schema in the docs").

`portwatch decode`, `replay`, `demo --json`, `status --json` and `export --format fhir` run
as processes and their standard output is validated; `portwatch run` and `portwatch inbox`
run as processes and every control request and answer over the real Unix socket, the
inbox's answers over loopback HTTP, the alert bodies the inbox received, the notices a
loopback json:// receiver got and the notice bodies in the log's outbox are validated too.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from control.control_process import SECRET, command, service, wait_for, write_config
from portwatch.clock import SystemClock

from .payload_schemas import DOCS, assert_valid, errors

PORTWATCH = (sys.executable, "-m", "portwatch")
CLOCK = SystemClock()  # the service's and the inbox's real clock: they run as processes
CLINICS = "clinics/schemas/"
OPERATORS = "operators/schemas/"
DEVELOPERS = "developers/schemas/"


def _run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PORTWATCH, *argv], capture_output=True, text=True, timeout=timeout, check=False
    )


# Bytes a thermometer sends (wire order), one or more per characteristic.
DECODE = [
    ("measurement", "06 78 01 00 FF EA 07 0B 14 09 3A 00 06"),  # 37.6 °C, time, mouth
    ("measurement", "01 FF FF 7F 00"),  # °F, NaN: a special value
    ("intermediate", "00 B0 0E 00 FE"),
    ("type", "02"),
    ("interval", "3C 00"),
    ("valid-range", "01 00 10 0E"),
    ("core", "07920EC20DCE0014"),  # shared/vectors/core.json C1
    ("core", "37190FA40D2F00110027"),  # C2: heart rate and heat strain index
]


@pytest.mark.parametrize(("characteristic", "hex_bytes"), DECODE)
def test_decode_prints_what_the_schema_says(characteristic: str, hex_bytes: str) -> None:
    done = _run("decode", hex_bytes, "--characteristic", characteristic)
    assert done.returncode == 0, done.stderr
    assert_valid(DEVELOPERS + "decode.schema.json", json.loads(done.stdout))


def test_decode_of_malformed_bytes_prints_no_json() -> None:
    done = _run("decode", "06 78")
    assert done.returncode == 2
    assert done.stdout == ""


def test_replay_prints_one_decision_a_line_each_as_the_schema_says(tmp_path: Path) -> None:
    readings = tmp_path / "readings.csv"
    readings.write_text(
        "time,temperature,unit,kind\n"
        "2026-11-19T08:15:00+00:00,101.3,F,spot\n"
        "2026-11-19T12:40:00+00:00,101.8,F,spot\n"
        "2026-11-19T20:00:00+00:00,98.4,F,spot\n"
    )
    done = _run(
        "replay", str(readings), "--placement", "2026-11-16T09:00Z", "--until", "2026-11-21T00:00Z"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for line in lines:
        assert_valid(DEVELOPERS + "replay-decision.schema.json", json.loads(line))
    kinds = [json.loads(line)["type"] for line in lines]
    assert kinds == ["elevated.first", "recheck.due", "fever.confirmed", "fever.resolved"]


def test_benchmark_results_are_what_the_schema_says(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(DOCS.parent / "benchmarks" / "run.py"), "--quick", "decode",
         "--output", str(output)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert_valid(DEVELOPERS + "bench-results.schema.json", json.loads(output.read_text()))


def _rows(database: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return db.execute(query).fetchall()


@pytest.mark.timeout(240)
def test_demo_status_export_and_what_the_demo_sent_validate(tmp_path: Path) -> None:
    """One simulated course (its fever on day 4): the demo's summary, then status and export
    of the log it kept, the notices in its outbox and every body its clinic inbox received.

    About 25 s on an idle machine (the demo alone is 20 s); 90 s was seen under a load of 10.
    """
    state = tmp_path / "demo"
    demo = _run("demo", "--json", "--days", "3.4", "--speed", "0", "--state-dir", str(state),
                timeout=170)  # fmt: skip
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert_valid(DEVELOPERS + "demo-summary.schema.json", json.loads(demo.stdout))
    config = ("--config", str(state / "portwatch.toml"))

    status = _run("status", "--json", *config)
    assert status.returncode == 0, status.stderr
    assert_valid(OPERATORS + "status.schema.json", json.loads(status.stdout))

    export = _run("export", "--format", "fhir", *config)
    assert export.returncode == 0, export.stderr
    bundle = json.loads(export.stdout)
    assert len(bundle["entry"]) > 100  # the devices, then each observation
    assert_valid(CLINICS + "fhir-export-bundle.schema.json", bundle)

    pinned = json.loads((state / "pinned.json").read_text(encoding="utf-8"))
    assert_valid(OPERATORS + "pinned.schema.json", pinned)

    notices = _rows(state / "portwatch.db", "SELECT body FROM outbox WHERE channel = 'notify'")
    assert notices
    for (body,) in notices:
        assert_valid(DEVELOPERS + "notice-body.schema.json", json.loads(body))

    received = _rows(state / "inbox.db", "SELECT type, content_type, body FROM messages")
    assert {kind for kind, _, _ in received} == {"gateway.heartbeat", "fever.confirmed"}
    for _, content_type, body in received:
        assert content_type == "application/json"
        assert_valid(CLINICS + "alert.schema.json", json.loads(body))


# --- the running service's control API, the inbox, the notices ------------------------


def _ask(path: Path, method: str, target: str, body: bytes | None = None) -> tuple[int, Any]:
    """One request over the control socket, as curl --unix-socket sends it."""

    class Connection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(30)
            self.sock.connect(str(path))

    connection = Connection("portwatch", timeout=30)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(response.read())
    finally:
        connection.close()


class Control:
    """The control socket, each request and answer checked against its schema."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def ask(
        self, method: str, target: str, request: str | None, body: object, answer: str
    ) -> Any:
        """A request whose body ``request``'s schema takes; its 200 answer, validated."""
        if request is not None:
            assert_valid(OPERATORS + f"{request}.schema.json", body)
        raw = None if body is None else json.dumps(body).encode()
        status, document = await asyncio.to_thread(_ask, self.path, method, target, raw)
        assert status == 200, document
        assert_valid(OPERATORS + f"{answer}.schema.json", document)
        return document

    async def refused(
        self, method: str, target: str, raw: bytes | None, status: int, request: str | None
    ) -> None:
        """A request the service refuses: the error body's schema; and the request schema
        (when there is one and the body is JSON) refuses that body too."""
        got, document = await asyncio.to_thread(_ask, self.path, method, target, raw)
        assert got == status, document
        assert_valid(OPERATORS + "control-error.schema.json", document)
        if request is not None and raw is not None:
            try:
                body = json.loads(raw)
            except ValueError:
                return
            assert errors(OPERATORS + f"{request}.schema.json", body) != [], raw


async def _control_requests(control: Control, now: datetime) -> str:
    """Every control request, answered and refused; returns the symptom report's id."""
    from portwatch.cli.commands._through import reading_json

    from .payload_schemas import hand_reading

    await control.ask("GET", "/v1/status", None, None, "control-status-response")
    readings = [reading_json(hand_reading("101.5", now - timedelta(hours=5)))]
    readings.append(reading_json(hand_reading("101.8", now)))
    taken = await control.ask("POST", "/v1/readings", "control-readings-request",
                              {"readings": readings}, "control-readings-response")  # fmt: skip
    assert len(taken["ids"]) == 2
    report = await control.ask("POST", "/v1/reports", "control-reports-request",
                               {"symptoms": ["redness", "other"], "note": "a smell"},
                               "control-reports-response")  # fmt: skip
    pause = {"duration_s": 1800, "reason": "shower"}
    await control.ask(
        "POST", "/v1/pauses", "control-pauses-request", pause, "control-pauses-response"
    )
    paused = await control.ask("GET", "/v1/status", None, None, "control-status-response")
    assert paused["pause_reason"] == "shower"
    await control.ask("POST", "/v1/purge", "control-purge-request",
                      {"before": "2001-01-01T00:00:00+00:00", "dry_run": True},
                      "control-purge-response")  # fmt: skip
    resend = f"/v1/alerts/{report['id']}/resend"
    await control.ask("POST", resend, None, None, "control-resend-response")
    return str(report["id"])


REFUSED = [  # (method, target, body, status, the request's schema)
    (
        "POST",
        "/v1/pauses",
        b'{"duration_s": 7201, "reason": "shower"}',
        400,
        "control-pauses-request",
    ),
    ("POST", "/v1/pauses", b'{"duration_s": 60, "reason": ""}', 400, "control-pauses-request"),
    (
        "POST",
        "/v1/pauses",
        b'{"duration_s": 60, "reason": "x", "why": 1}',
        400,
        "control-pauses-request",
    ),
    ("POST", "/v1/reports", b'{"symptoms": []}', 400, "control-reports-request"),
    ("POST", "/v1/reports", b'{"symptoms": ["itch"]}', 400, "control-reports-request"),
    (
        "POST",
        "/v1/readings",
        b'{"readings": [{"device": "manual"}]}',
        400,
        "control-readings-request",
    ),
    ("POST", "/v1/purge", b'{"before": "2001-01-01T00:00:00"}', 400, "control-purge-request"),
    ("POST", "/v1/purge", b"not json", 400, "control-purge-request"),
    ("GET", "/v1/nothing", None, 404, None),
    ("GET", "/v2/status", None, 404, None),
    ("GET", "/v1/readings", None, 405, None),
    ("POST", "/v1/alerts/no-such-alert/resend", None, 404, None),
]


@dataclass
class Notices:
    """What a loopback notice receiver got: json:// bodies at /notice, ntfy:// ones at /."""

    json_url: str = ""
    ntfy_url: str = ""
    json: list[Any] = field(default_factory=list)
    ntfy: list[Any] = field(default_factory=list)


@asynccontextmanager
async def _notice_receiver() -> AsyncIterator[Notices]:
    """A loopback HTTP server for a json:// and an ntfy:// notify URL."""
    got = Notices()

    def keeping(into: list[Any]) -> Any:
        async def receive(request: web.Request) -> web.Response:
            assert request.content_type == "application/json"
            into.append(await request.json())
            return web.json_response({"id": str(len(into))})

        return receive

    app = web.Application()
    app.router.add_post("/notice", keeping(got.json))
    app.router.add_post("/", keeping(got.ntfy))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    got.json_url = f"json://127.0.0.1:{port}/notice"
    got.ntfy_url = f"ntfy://127.0.0.1:{port}/portwatch-q8Jd7Kfa0"
    try:
        yield got
    finally:
        await runner.cleanup()


@asynccontextmanager
async def _inbox(directory: Path, secret: Path) -> AsyncIterator[str]:
    """`portwatch inbox` as a process on a free loopback port; yields its base URL."""
    process = await asyncio.create_subprocess_exec(
        *PORTWATCH, "inbox", "--port", "0", "--secret-file", str(secret),
        "--db", str(directory / "inbox.db"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert "listening on http://" in line, line
        yield line.split("listening on ")[1].split()[0].rstrip("/")
    finally:
        process.terminate()
        await process.wait()


def _inbox_json(url: str, method: str = "GET", **kwargs: Any) -> tuple[int, Any]:
    import requests

    response = requests.request(method, url, timeout=30, allow_redirects=False, **kwargs)
    assert response.headers["Content-Type"].startswith("application/json"), response.text
    return response.status_code, response.json()


async def _wait_for_alerts(base: str, kinds: set[str]) -> list[Any]:
    async with asyncio.timeout(60):
        while True:
            status, alerts = await asyncio.to_thread(_inbox_json, f"{base}/api/alerts")
            assert status == 200
            if kinds <= {alert["type"] for alert in alerts}:
                return list(alerts)
            await asyncio.sleep(0.2)  # polling another process's results


async def _inbox_answers(base: str, secret: str) -> None:
    """The inbox's receipts and refusals, over loopback HTTP."""
    from portwatch.alerts.signing import parse_secret, sign_headers

    body = (DOCS / "clinics" / "examples" / "symptoms-reported.json").read_text()
    msg_id = json.loads(body)["data"]["id"]
    headers = sign_headers(parse_secret(secret), msg_id, body, CLOCK.now())
    headers["Content-Type"] = "application/json"
    for stored in (True, False):  # the second is a resend: answered, stored once
        status, receipt = await asyncio.to_thread(
            _inbox_json, f"{base}/webhook", "POST", data=body.encode(), headers=headers
        )
        assert (status, receipt["stored"]) == (200, stored)
        assert_valid(CLINICS + "inbox-receipt.schema.json", receipt)
    forged = {**headers, "webhook-signature": "v1,AAAA"}
    refusals = [
        (f"{base}/webhook", {"data": body.encode()}, 400),  # no signature
        (f"{base}/webhook", {"data": body.encode(), "headers": forged}, 401),
        (f"{base}/webhook", {"data": b"\xff", "headers": headers}, 400),
        (f"{base}/alerts/no-such-alert/close", {}, 404),
        (f"{base}/alerts/{msg_id}/close", {"headers": {"Origin": "https://evil.example"}}, 403),
        (f"{base}/api/alerts", {"headers": {"Host": "rebound.example"}}, 421),
    ]  # fmt: skip
    for url, options, expected in refusals:
        method = "GET" if url.endswith("/api/alerts") else "POST"
        status, answer = await asyncio.to_thread(_inbox_json, url, method, **options)
        assert status == expected, (url, answer)
        assert_valid(CLINICS + "inbox-error.schema.json", answer)


@asynccontextmanager
async def _short_directory() -> AsyncIterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="pw-", dir="/tmp"))  # a socket path is short
    try:
        secret = directory / "inbox-secret"
        secret.write_text(SECRET + "\n")
        secret.chmod(0o600)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def _settings(directory: Path, base: str, clinic_format: str, notices: Notices) -> Path:
    """The settings of tests/control, placed 6 h ago, with the clinic's format, the
    caregiver's notices to json:// and the patient's to ntfy://; a normal hand reading
    logged first (the service's clock, see tests/control)."""
    config = write_config(directory, f"{base}/webhook", CLOCK.now() - timedelta(hours=6))
    text = config.read_text().replace("[clinic]\n", f'[clinic]\nformat = "{clinic_format}"\n')
    urls = f'caregiver_url = "{notices.json_url}"\npatient_url = "{notices.ntfy_url}"\n'
    config.write_text(text + "\n[notify]\n" + urls)
    seeded = await command(config, "add", "98.4F")
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    return config


@pytest.mark.timeout(240)
async def test_control_api_inbox_and_notices_of_the_running_service_validate() -> None:
    """`portwatch run` and `portwatch inbox` as processes: every control request and answer,
    a fever and a symptom report through them to the inbox, whose answers, and the bodies it
    received, validate; so do the notices a json:// receiver gets and those in the outbox."""
    async with _short_directory() as directory:
        secret = directory / "inbox-secret"
        async with _inbox(directory, secret) as base, _notice_receiver() as notices:
            config = await _settings(directory, base, "json", notices)
            async with service(config):
                control = Control(directory / "run" / "control.sock")
                await _control_requests(control, CLOCK.now())
                for method, target, raw, status, request in REFUSED:
                    await control.refused(method, target, raw, status, request)
                alerts = await _wait_for_alerts(base, {"fever.confirmed", "symptoms.reported"})
                await wait_for(lambda: bool(notices.json and notices.ntfy), 60)
            assert_valid(CLINICS + "inbox-alerts.schema.json", alerts)
            status, patients = await asyncio.to_thread(_inbox_json, f"{base}/api/patients")
            assert status == 200
            assert patients
            assert_valid(CLINICS + "inbox-patients.schema.json", patients)
            fhir = await command(config, "alerts", "test", "--url", f"{base}/webhook",
                                 "--secret-file", str(secret), "--format", "fhir")  # fmt: skip
            assert fhir.returncode == 0, fhir.stdout + fhir.stderr
            await _inbox_answers(base, SECRET)
        for body in notices.json:
            assert_valid(OPERATORS + "notice.schema.json", body)
        for body in notices.ntfy:
            assert_valid(OPERATORS + "notice-ntfy.schema.json", body)
        _check_outbox(directory / "state" / "portwatch.db")
        _check_received(directory / "inbox.db", {"application/json", "application/fhir+json"})


@pytest.mark.timeout(240)
async def test_the_fhir_bundles_the_running_service_sends_validate() -> None:
    """[clinic] format = "fhir": a fever from two hand readings (Observations with a method,
    no thermometer Device) and a symptom report reach the inbox as Bundles that validate."""
    async with _short_directory() as directory:
        secret = directory / "inbox-secret"
        async with _inbox(directory, secret) as base, _notice_receiver() as notices:
            config = await _settings(directory, base, "fhir", notices)
            async with service(config):
                control = Control(directory / "run" / "control.sock")
                await _control_requests(control, CLOCK.now())
                await _wait_for_alerts(base, {"fhir.fever", "fhir.communication"})
        _check_received(directory / "inbox.db", {"application/fhir+json"})


def _check_outbox(database: Path) -> None:
    """The notice bodies the service queued in its outbox."""
    outbox = _rows(database, "SELECT body FROM outbox WHERE channel = 'notify'")
    assert outbox
    for (body,) in outbox:
        assert_valid(DEVELOPERS + "notice-body.schema.json", json.loads(body))


def _check_received(database: Path, content_types: set[str]) -> None:
    """Every body the inbox received, by its content type, against the clinic's schemas
    (heartbeats travel as signed JSON whatever the clinic's format)."""
    received = _rows(database, "SELECT content_type, body FROM messages")
    schemas = {
        "application/json": "alert.schema.json",
        "application/fhir+json": "fhir-alert-bundle.schema.json",
    }
    assert content_types <= {content_type for content_type, _ in received}
    for content_type, body in received:
        assert_valid(CLINICS + schemas[content_type], json.loads(body))
