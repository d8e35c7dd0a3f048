"""Where the log, the socket and the group's access are: one way for every command (issue 16)."""

from __future__ import annotations

import argparse
import os
import re
import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portwatch.cli import main as cli
from portwatch.cli.commands import _radio
from portwatch.log.store import Store
from portwatch.service.control_socket import command_socket_path, service_socket_path

UNIT = Path(__file__).parents[2] / "systemd" / "portwatch.service"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
FAR = datetime(2100, 1, 1, tzinfo=UTC)


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings with a custom state directory, and a runtime directory of the test's own
    (as systemd's $RUNTIME_DIRECTORY): a real service's /run/portwatch is never asked."""
    for name in list(os.environ):
        if name.startswith("PORTWATCH_"):
            monkeypatch.delenv(name)
    (tmp_path / "run").mkdir()
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "run"))
    path = tmp_path / "portwatch.toml"
    placed = datetime(2026, 11, 1, 8, tzinfo=UTC)
    path.write_text(
        f'[patient]\nreference = "Patient/1"\nplacement = "{placed.isoformat()}"\n'
        f'[store]\nstate_directory = "{tmp_path / "custom"}"\n'
    )
    return path


def test_add_and_pause_write_the_settings_state_directory_when_given_config(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bug: with a custom state directory a hand-typed fever went into a log the
    service never reads (/var/lib/portwatch)."""
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # noqa: TID251 (a typed time)
    assert cli.main(["add", "38.4C", "--at", at, "--config", str(config)]) == 0
    assert cli.main(["pause", "20m", "--reason", "shower", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("portwatch is not running:")
    with Store.open_reader(config.parent / "custom" / "portwatch.db") as log:
        assert len(log.readings(EPOCH, FAR)) == 1
        assert len(log.notes(EPOCH, FAR)) == 1


def test_add_reads_portwatch_config_from_the_environment_when_no_flag(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTWATCH_CONFIG", str(config))
    assert cli.main(["add", "37.0C"]) == 0
    assert (config.parent / "custom" / "portwatch.db").exists()


def test_add_works_for_a_user_who_may_not_read_the_clinic_secret(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The people in group portwatch cannot read the service's credentials; `add` and
    `status` need none, so an unreadable secret must not refuse them."""
    config.write_text(
        config.read_text()
        + '[clinic]\nurl = "https://clinic.example/webhook"\n'
        + 'recipient = "Organization/1"\nsecret_file = "/nonexistent/clinic-secret"\n'
    )
    assert cli.main(["add", "37.0C", "--config", str(config)]) == 0, capsys.readouterr()
    assert cli.main(["status", "--config", str(config)]) == 0, capsys.readouterr()


def test_add_still_refuses_settings_that_are_wrong_otherwise(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text(config.read_text().replace("Patient/1", "not a reference"))
    assert cli.main(["add", "37.0C", "--config", str(config)]) == 2  # issue 21: input, 2
    assert "patient.reference" in capsys.readouterr().err
    assert not (config.parent / "custom" / "portwatch.db").exists()


def test_pair_pins_in_the_settings_state_directory_when_given_config(config: Path) -> None:
    """`pair` finds the state directory as every command does; --state-dir only overrides."""
    args = argparse.Namespace(config=str(config), state_dir=None)
    assert _radio.state_dir(args) == config.parent / "custom"
    args = argparse.Namespace(config=str(config), state_dir=Path("/elsewhere"))
    assert _radio.state_dir(args) == Path("/elsewhere")


def test_socket_is_in_the_runtime_directory_under_systemd_else_beside_the_log(
    tmp_path: Path,
) -> None:
    state, runtime = tmp_path / "state", tmp_path / "run"
    assert service_socket_path(state, {}) == state / "control.sock"
    assert service_socket_path(state, {"RUNTIME_DIRECTORY": f"{runtime}:/x"}) == (
        runtime / "control.sock"
    )
    assert command_socket_path(state, {"RUNTIME_DIRECTORY": str(runtime)}) is None


def test_a_set_runtime_directory_replaces_run_portwatch_when_a_command_looks(
    tmp_path: Path,
) -> None:
    """A command run with its own $RUNTIME_DIRECTORY (a test's, beside a real service on the
    same machine) must not send its readings to the service that owns /run/portwatch."""
    state, runtime, system = tmp_path / "state", tmp_path / "run", tmp_path / "system-run"
    for directory in (state, runtime, system):
        directory.mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as real_service:
        real_service.bind(str(system / "control.sock"))
        found = command_socket_path(state, {}, system)
        assert found == system / "control.sock"
        found = command_socket_path(state, {"RUNTIME_DIRECTORY": str(runtime)}, system)
        assert found is None
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as beside_the_log:
            beside_the_log.bind(str(state / "control.sock"))
            found = command_socket_path(state, {"RUNTIME_DIRECTORY": str(runtime)}, system)
            assert found == state / "control.sock"


def test_log_is_shared_with_the_group_in_a_setgid_group_directory(tmp_path: Path) -> None:
    """StateDirectoryMode=2770: the group (the people who look after the Pi) may write the
    log when the service is stopped, whatever the service's UMask=0077."""
    shared = tmp_path / "state"
    shared.mkdir()
    shared.chmod(0o2770)
    previous = os.umask(0o077)
    try:
        Store.open(shared / "portwatch.db").close()
    finally:
        os.umask(previous)
    assert stat.S_IMODE((shared / "portwatch.db").stat().st_mode) == 0o660


def test_a_shared_group_directory_keeps_its_groups_access_when_the_log_opens(
    tmp_path: Path,
) -> None:
    """log/files.py makes a log open to others private; in a setgid group directory the
    group's access is meant (issue 16) and kept, while others' access is still taken away."""
    shared = tmp_path / "state"
    shared.mkdir()
    shared.chmod(0o2770)
    db = shared / "portwatch.db"
    Store.open(db).close()
    db.chmod(0o666)
    Store.open(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o660
    assert stat.S_IMODE(shared.stat().st_mode) == 0o2770


def test_unit_gives_the_group_a_runtime_directory_and_the_state_directory() -> None:
    text = UNIT.read_text()
    for line in (
        "RuntimeDirectory=portwatch",
        "RuntimeDirectoryMode=0750",
        "StateDirectoryMode=2770",
        "Type=notify",
    ):
        assert re.search(rf"^{re.escape(line)}$", text, re.MULTILINE), line
