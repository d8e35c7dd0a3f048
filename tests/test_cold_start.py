"""What the commands a caregiver types import (issue 20): nothing heavy at start-up.

On a Pi Zero 2 W every 100 ms of imports here is most of a second there. Each command runs
in a process of its own, as a person runs it, and reports the modules it ended with; the
libraries a command does not use (settings validation, the event loop, HTTP clients and
servers) must not be among them. A regression (an import moved back to a module's top)
fails here rather than in a benchmark nobody reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portwatch.cli import main as cli

HEAVY = ("pydantic", "pydantic_settings", "aiohttp", "asyncio", "requests", "bleak", "bumble")
# Runs main() as the console script does, then prints the modules loaded, whatever the exit.
PROBE = """
import json, sys
from portwatch.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def _modules_after(argv: list[str], state: Path) -> set[str]:
    env = {**os.environ, "PORTWATCH_STATE_DIRECTORY": str(state)}
    env["PORTWATCH_CONFIG"] = str(state / "no-settings-file.toml")  # the offline path
    # Never a real service's /run/portwatch on this machine (a test that starts its own
    # service sets $RUNTIME_DIRECTORY itself).
    env.setdefault("RUNTIME_DIRECTORY", str(state))
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    line = result.stderr.rsplit("MODULES ", 1)[1]
    return set(json.loads(line))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def _settings(state: Path) -> Path:
    """A complete settings file (virtual radio, a clinic that is never reached)."""
    secret = state / "clinic-secret"
    secret.write_text("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", encoding="utf-8")
    secret.chmod(0o600)
    config = state / "portwatch.toml"
    config.write_text(
        "[patient]\nreference = 'Patient/1'\nplacement = '2026-11-16T09:00:00+00:00'\n"
        "[bluetooth]\nbackend = 'virtual'\n"
        "[clinic]\nurl = 'http://127.0.0.1:9/webhook'\nrecipient = 'Organization/1'\n"
        f"secret_file = '{secret}'\n[store]\nstate_directory = '{state}'\n",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state directory holding a log with one reading typed by hand."""
    _modules_after(["add", "98.6F"], tmp_path)
    assert (tmp_path / "portwatch.db").exists()
    return tmp_path


def test_help_imports_no_command_module_and_nothing_heavy(tmp_path: Path) -> None:
    modules = _modules_after(["--help"], tmp_path)
    assert _heavy(modules) == []
    assert sorted(m for m in modules if m.startswith("portwatch.cli.commands.")) == []


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--placement", "2026-11-16T09:00:00+00:00"],
        ["add", "99.1F"],
        ["log", "--since", "2d"],
        ["status", "--help"],
    ],
)
def test_a_command_without_settings_file_imports_nothing_heavy(
    state: Path, argv: list[str]
) -> None:
    """Without a settings file there is nothing to validate (no pydantic), and reading or
    writing the log is synchronous (no asyncio, no HTTP)."""
    modules = _modules_after(argv, state)
    assert _heavy(modules) == []
    assert "portwatch.config" not in modules
    assert "tomllib" not in modules  # no settings file to read
    others = {f"portwatch.cli.commands.{name}" for name in cli.COMMANDS} - {
        f"portwatch.cli.commands.{argv[0]}"
    }
    assert sorted(others & modules) == []


def test_the_listed_help_lines_are_the_commands_own() -> None:
    """`portwatch --help` lists HELP_LINES without importing the modules: the two agree."""
    assert set(cli.HELP_LINES) == set(cli.COMMANDS)
    for name in cli.COMMANDS:
        assert cli.HELP_LINES[name] == cli._load(name).HELP, name


def test_status_with_a_settings_file_validates_it_but_starts_no_server_or_client(
    state: Path,
) -> None:
    """With a settings file, validating it needs pydantic (and pydantic_settings brings
    asyncio); the page's server (aiohttp), HTTP clients and Bluetooth stay out."""
    config = _settings(state)
    modules = _modules_after(["status", "--config", str(config)], state)
    assert "portwatch.config" in modules  # the file was read: the test tests something
    tops = sorted({name.split(".")[0] for name in _heavy(modules)})
    assert tops == ["asyncio", "pydantic", "pydantic_settings"]


def test_status_asks_the_running_service_without_settings_or_the_log(tmp_path: Path) -> None:
    """With the service running, `portwatch status` shows the service's screen over the
    control socket: no settings parsed (no pydantic), the log not opened by the command."""
    import time

    config = _settings(tmp_path)
    runtime = tmp_path / "run"
    runtime.mkdir()
    env = {**os.environ, "RUNTIME_DIRECTORY": str(runtime), "PORTWATCH_STATE_DIRECTORY": "/x"}
    argv = [sys.executable, "-m", "portwatch.sim.run", "--config", str(config)]
    service = subprocess.Popen(
        [*argv, "--virtual-clock", "2026-11-16T09:00:00+00:00", "--speed", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):  # up to a minute for another process to open its socket
            if (runtime / "control.sock").is_socket():
                break
            assert service.poll() is None
            time.sleep(0.1)
        os.environ["RUNTIME_DIRECTORY"] = str(runtime)
        try:
            modules = _modules_after(["status"], tmp_path)
            shown = subprocess.run(
                [sys.executable, "-m", "portwatch", "status"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
        finally:
            del os.environ["RUNTIME_DIRECTORY"]
    finally:
        service.terminate()
        service.wait(timeout=15)
    assert "day 1 of 10" in shown  # the service's simulated day, not this machine's
    assert _heavy(modules) == []
    assert "portwatch.config" not in modules
    assert "portwatch.log.store" not in modules
    # ~a third of its start was http.client (email, ssl) and dataclasses (inspect)
    assert sorted({"http.client", "dataclasses", "ssl", "logging"} & modules) == []


def test_add_without_the_service_loads_no_fever_rule(state: Path) -> None:
    """Writing a reading typed by hand checks it as the rule would (fever.settings) but
    runs no rule: the service's rule picks it up."""
    modules = _modules_after(["add", "98.9F"], state)
    assert "portwatch.log.store" in modules  # it wrote the log itself: the test tests something
    assert sorted(m for m in modules if m.startswith("portwatch.fever.rule")) == []
