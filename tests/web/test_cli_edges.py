"""The command line's rough edges (issue 18): Ctrl-C, a closed pipe, a busy port, an empty
range, a hand reading typed twice. Real processes where the edge is the process's own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from portwatch.cli import main as cli
from portwatch.log.store import Store

PORTWATCH = (sys.executable, "-m", "portwatch")


def test_add_refuses_an_identical_hand_reading_within_a_minute_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same `add` twice stored it twice and notified twice."""
    db = str(tmp_path / "portwatch.db")
    at = "2026-11-04T08:30:00+01:00"
    assert cli.main(["add", "38.4C", "--at", at, "--db", db]) == 0
    capsys.readouterr()
    assert cli.main(["add", "38.4C", "--at", "2026-11-04T08:30:40+01:00", "--db", db]) == 1
    err = capsys.readouterr().err
    assert "not recorded: 38.4 °C repeats reading 1" in err
    assert "typed twice" in err
    assert cli.main(["add", "38.5C", "--at", at, "--db", db]) == 0  # a different value counts
    assert cli.main(["add", "38.4C", "--at", "2026-11-04T08:32:00+01:00", "--db", db]) == 0
    with Store.open_reader(Path(db)) as store:
        assert store.reading_count() == 3


def test_log_says_what_it_looked_at_when_nothing_is_in_the_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTWATCH_CONFIG", str(tmp_path / "none.toml"))
    db = tmp_path / "portwatch.db"
    with Store.open(db):
        pass
    assert cli.main(["log", "--db", str(db), "--since", "2026-11-04T08:00+00:00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("nothing logged from Wed 04 Nov")
    assert str(db) in out


# Every command that writes its result to standard output, as a person pipes it to `head`.
PIPED = (
    ("alerts", "list"),
    ("export", "--format", "csv"),
    ("export", "--format", "fhir", "--patient", "Patient/1", "--thermometer", "AA:BB:CC:DD:EE:FF"),
    ("log", "--since", "2026-11-04T00:00+00:00"),
    ("status", "--json"),
    ("summary",),
)


@pytest.mark.parametrize("words", PIPED, ids=" ".join)
def test_output_into_a_closed_pipe_exits_141_without_a_word(
    tmp_path: Path, words: tuple[str, ...]
) -> None:
    """`alerts list | head` printed a BrokenPipeError traceback; `export | head` printed
    "portwatch export: [Errno 32] Broken pipe". A closed pipe is the reader's choice."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from portwatch.model import Reading, ReadingKind, Unit

    db = tmp_path / "portwatch.db"
    start = datetime(2026, 11, 4, 8, tzinfo=UTC)
    with Store.open(db) as store:
        store.add_readings(
            [
                Reading(device="manual", kind=ReadingKind.SPOT, value=Decimal("98.6"),
                        unit=Unit.FAHRENHEIT, celsius=37.0, time=start + timedelta(minutes=i),
                        received_at=start + timedelta(minutes=i), raw=b"98.6F")
                for i in range(2000)
            ]
        )  # fmt: skip
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads: the first write breaks the pipe
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTWATCH_")}
    env["PORTWATCH_CONFIG"] = str(tmp_path / "none.toml")
    done = subprocess.run(
        [*PORTWATCH, *words, "--db", str(db)],
        stdout=writer,
        stderr=subprocess.PIPE,
        env=env,
        timeout=60,
        check=False,
    )
    os.close(writer)
    assert done.returncode == 141, done.stderr
    assert b"Traceback" not in done.stderr
    assert b"Broken pipe" not in done.stderr
    assert b"BrokenPipe" not in done.stderr


def test_inbox_on_a_busy_port_says_so_in_one_line_and_exits_1(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("whsec_" + "A" * 44 + "\n", encoding="utf-8")
    secret.chmod(0o600)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [
                *PORTWATCH,
                "inbox",
                "--port",
                str(port),
                "--secret-file",
                str(secret),
                "--db",
                str(tmp_path / "inbox.db"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0] == f"portwatch inbox: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert "listening" not in done.stdout


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    """Ctrl-C in a long-running command (here the inbox, waiting for alerts)."""
    secret = tmp_path / "secret"
    secret.write_text("whsec_" + "A" * 44 + "\n", encoding="utf-8")
    secret.chmod(0o600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            *PORTWATCH,
            "inbox",
            "--port",
            str(port),
            "--secret-file",
            str(secret),
            "--db",
            str(tmp_path / "inbox.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "listening" in process.stdout.readline()  # up and waiting
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err


def test_main_turns_keyboard_interrupt_into_130_for_any_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One handler in cli/main.py covers every command (scan, pair's prompt, ...)."""
    from portwatch.cli.commands import status

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(status, "run", interrupted)
    assert cli.main(["status"]) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_add_hints_at_the_decimal_point_when_typed_with_a_comma(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # issue 21: typed input is refused with status 2, in one line
    assert cli.main(["add", "38,5C", "--db", str(tmp_path / "portwatch.db")]) == 2
    assert "write the decimal point as a point: 38.5C" in capsys.readouterr().err


def test_status_with_a_settings_file_and_no_service_reads_the_settings_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status --config FILE` looks for that file's service first (which needs the
    settings), then reads the log: the settings, pydantic's slowest work, were parsed twice."""
    from portwatch.cli.commands import _log

    secret = tmp_path / "clinic-secret"
    secret.write_text("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", encoding="utf-8")
    secret.chmod(0o600)
    config = tmp_path / "portwatch.toml"
    config.write_text(
        "[patient]\nreference = 'Patient/1'\nplacement = '2026-11-16T09:00:00+00:00'\n"
        "[clinic]\nurl = 'http://127.0.0.1:9/webhook'\nrecipient = 'Organization/1'\n"
        f"secret_file = '{secret}'\n[store]\nstate_directory = '{tmp_path}'\n",
        encoding="utf-8",
    )
    with Store.open(tmp_path / "portwatch.db"):
        pass
    real, calls = _log.command_settings, []

    def counted(argument: str | None, now: object) -> object:
        calls.append(argument)
        return real(argument, now)  # type: ignore[arg-type]

    monkeypatch.setattr(_log, "command_settings", counted)
    monkeypatch.delenv("PORTWATCH_CONFIG", raising=False)
    assert cli.main(["status", "--config", str(config)]) == 0
    assert "Period" in capsys.readouterr().out
    assert calls == [str(config)]
