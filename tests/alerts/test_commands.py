"""`portwatch inbox` and `portwatch alerts test` as a person runs them, in real processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portwatch.cli.commands.alerts import format_rows
from portwatch.log.store import OutboxEntry, Store
from portwatch.sim.inbox import InboxStore

from .conftest import TEST_SECRET_TEXT, make_row


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "portwatch", *args]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "clinic.secret"
    path.write_text(TEST_SECRET_TEXT + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def inbox_process(tmp_path: Path, secret_file: Path) -> Iterator[tuple[int, Path]]:
    """`portwatch inbox` in its own process; waits (for the process, not time) until it listens."""
    port, db = _free_port(), tmp_path / "inbox.db"
    command = _command("inbox", "--port", str(port),
               "--secret-file", str(secret_file), "--db", str(db))  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.communicate()
                time.sleep(0.05)
        yield port, db
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_alerts_test_prints_the_clinic_answer_when_inbox_accepts(
    inbox_process: tuple[int, Path], secret_file: Path
) -> None:
    """`portwatch alerts test` proves URL, secret and format end to end, and says so."""
    port, db = inbox_process
    result = subprocess.run(
        _command("alerts", "test", "--url",
         f"http://127.0.0.1:{port}/webhook", "--secret-file", str(secret_file)),
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HTTP 200" in result.stdout
    assert "MfKQ9r8" not in result.stdout + result.stderr
    store = InboxStore(db)
    try:
        assert store.count() == 1
    finally:
        store.close()


def test_alerts_test_fails_with_401_when_secret_is_wrong(
    inbox_process: tuple[int, Path], tmp_path: Path
) -> None:
    """A mistyped secret shows up as the clinic's refusal, before any real alert depends on it."""
    port, _ = inbox_process
    wrong = tmp_path / "wrong.secret"
    wrong.write_text("whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    wrong.chmod(0o600)
    result = subprocess.run(
        _command("alerts", "test", "--url",
         f"http://127.0.0.1:{port}/webhook", "--secret-file", str(wrong)),
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "HTTP 401" in result.stdout


def test_alerts_test_refuses_plain_http_when_url_leaves_the_machine(secret_file: Path) -> None:
    """The https rule is enforced before anything is sent."""
    result = subprocess.run(
        _command("alerts", "test", "--url",
         "http://clinic.example/hook", "--secret-file", str(secret_file)),
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "https" in result.stdout


def test_format_rows_shows_last_answer_and_escalation_when_listing() -> None:
    """A person scanning `portwatch alerts` must see what is stuck and why."""
    at = datetime(2026, 11, 20, tzinfo=UTC)
    row = make_row(
        id="0b7e4a8c-51f2-5d39-8a3e-2c4f6a1b9d70", attempts=7, last_status=503, escalated_at=at
    )
    (_, line) = format_rows([row])
    assert "pending" in line
    assert "HTTP 503" in line
    assert "(caregiver told)" in line


def test_alerts_list_and_resend_show_and_requeue_a_failed_alert_when_run_on_the_log(
    tmp_path: Path,
) -> None:
    """A person sees the failed alert and its answer, resends it, and it is pending again."""
    db = tmp_path / "portwatch.db"
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    with Store.open(db) as log:
        log.enqueue([
            OutboxEntry(id="a-1", channel="clinic", kind="symptoms.reported", priority="urgent",
                        created_at=at, body="{}", content_type="application/json")
        ])  # fmt: skip
        log.outbox_mark_failed("a-1", at, 400, "HTTP 400: bad patient reference")
    listing = subprocess.run(
        _command("alerts", "--db", str(db)), capture_output=True, text=True, check=False, timeout=60
    )
    resend = subprocess.run(
        _command("alerts", "resend", "a-1", "--db", str(db)),
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    assert "failed" in listing.stdout
    assert "HTTP 400: bad patient reference" in listing.stdout
    assert resend.returncode == 0, resend.stderr
    with Store.open_reader(db) as log:
        row = log.outbox_get("a-1")
    assert row is not None
    assert row.status == "pending"


def test_alerts_resend_fails_with_message_when_id_is_unknown(tmp_path: Path) -> None:
    """A mistyped id must say so, not crash with a traceback."""
    db = tmp_path / "portwatch.db"
    Store.open(db).close()
    result = subprocess.run(
        _command("alerts", "resend", "no-such-id", "--db", str(db)),
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "no-such-id" in result.stdout


def test_alerts_test_uses_the_configured_patient_and_pinned_thermometer_when_configured(
    inbox_process: tuple[int, Path], secret_file: Path, tmp_path: Path
) -> None:
    """Issue 18: `alerts test` sent Patient/test and Device 00:00:00:00:00:00 whatever the
    setup; with a settings file it names the configured patient and says it is a test."""
    port, db = inbox_process
    settings = tmp_path / "portwatch.toml"
    settings.write_text(
        "[patient]\n"
        'reference = "Patient/0007"\n'
        "placement = 2026-11-18T09:00:00+00:00\n"
        "[bluetooth]\n"
        'address = "A4:C1:38:00:11:22"\n'
        "[clinic]\n"
        f'url = "http://127.0.0.1:{port}/webhook"\n'
        'recipient = "Organization/clinic-7"\n'
        f'secret_file = "{secret_file}"\n'
        "[store]\n"
        f'state_directory = "{tmp_path}"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        _command("alerts", "test", "--url", f"http://127.0.0.1:{port}/webhook",
                 "--secret-file", str(secret_file), "--config", str(settings)),
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    store = InboxStore(db)
    try:
        (message,) = store.alerts()
    finally:
        store.close()
    assert message["patient"] == "Patient/0007"
    assert message["type"] == "test"
    assert "Test message" in str(message["summary"])


def test_alerts_test_says_the_clock_is_off_when_the_clinic_refuses_the_signatures_time(
    secret_file: Path,
) -> None:
    """A clinic whose check finds the signature's time too far from its clock answers 401
    "expired"; `alerts test` printed only that. It now says which clocks to look at. The
    clinic here is a loopback HTTP server answering as the reference inbox does to a
    request signed on a clock more than 5 minutes off (no other clock to set here)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Expired(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"error": "expired"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Expired)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/webhook"
        result = subprocess.run(
            _command("alerts", "test", "--url", url, "--secret-file", str(secret_file)),
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "HTTP 401" in result.stdout
    assert "the clinic refused the signature's time" in result.stdout
    assert "`portwatch doctor` checks this one's" in result.stdout
