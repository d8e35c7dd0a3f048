"""`portwatch run` as a process refuses each class of bad setting: its line, exit status 2.

Issue 7: a bad file is refused before anything starts, one line per problem naming the
setting; settings that would silence fever alerts are errors. test_config.py checks each
class's wording in process; this runs the daemon's own command line, as systemd does.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from portwatch.cli.commands.run import EXIT_BAD_SETTINGS
from portwatch.clock import SystemClock

# Placed a day before the system clock's time, so that "monitored" holds when `portwatch
# run` reads the settings at that time (the product's command takes no other time).
PLACED = (SystemClock().now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
MINIMAL = f"""
[patient]
reference = "Patient/1"
placement = {PLACED}Z
[clinic]
url = "https://clinic.example.org/alerts"
recipient = "Organization/clinic-1"
"""
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _classes() -> list[tuple[str, str, dict[str, str], str]]:
    """(class, settings text, extra environment, what the one line says)."""
    return [
        ("broken TOML", "[patient\n", {}, "portwatch.toml: not valid TOML"),
        (
            "unknown key",
            MINIMAL + "\n[rule]\nthreshhold_f = 100.4\n",
            {},
            "rule.threshhold_f = 100.4: not a setting",
        ),
        (
            "rule out of bounds",
            MINIMAL + "\n[rule]\nthreshold_f = 104.5\n",
            {},
            "rule.threshold_f = 104.5: ",
        ),
        (
            "no clinic",
            MINIMAL.replace('url = "https://clinic.example.org/alerts"', ""),
            {},
            "clinic.url: missing while",
        ),
        ("http off loopback", MINIMAL.replace("https://", "http://"), {}, "must use https"),
        (
            "secret in the file",
            MINIMAL + 'secret = "whsec_TOPSECRET"\n',
            {},
            "clinic.secret: secrets are never",
        ),
        (
            "placement without offset",
            MINIMAL.replace(f"{PLACED}Z", PLACED),
            {},
            "patient.placement = ",
        ),
        (
            "environment typo",
            MINIMAL,
            {"PORTWATCH_RULE__THRESHOLD": "100.4"},
            "rule.threshold = '100.4': not a setting",
        ),
        (
            "page token missing",
            MINIMAL + '[web]\ntoken_file = "/nonexistent/token"\n',
            {},
            "web.token_file: ",
        ),
    ]


@pytest.mark.parametrize(
    ("text", "environment", "says"),
    [pytest.param(text, env, says, id=name) for name, text, env, says in _classes()],
)
def test_run_exits_2_with_the_setting_named_when_the_settings_are_bad(
    tmp_path: Path, text: str, environment: dict[str, str], says: str
) -> None:
    """Each class of bad setting stops the daemon before it starts, with its own line."""
    config = tmp_path / "portwatch.toml"
    config.write_text(text)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "clinic-secret").write_text(SECRET + "\n")
    (credentials / "clinic-secret").chmod(0o600)
    state = tmp_path / "state"
    env = {
        "PATH": "/usr/bin:/bin",
        "CREDENTIALS_DIRECTORY": str(credentials),
        "PORTWATCH_STORE__STATE_DIRECTORY": str(state),
        **environment,
    }
    command = [sys.executable, "-m", "portwatch", "run", "--config", str(config)]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert result.returncode == EXIT_BAD_SETTINGS, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("portwatch: "), lines[0]
    assert says in lines[0], lines[0]
    assert "TOPSECRET" not in result.stderr
    assert not state.exists()


def test_run_exits_2_naming_the_file_when_it_is_missing(tmp_path: Path) -> None:
    """The first mistake on a new Pi: the file is not where the service looks."""
    missing = tmp_path / "nope.toml"
    result = subprocess.run(
        [sys.executable, "-m", "portwatch", "run", "--config", str(missing)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == EXIT_BAD_SETTINGS
    assert result.stderr.strip().endswith(
        "nope.toml: no such settings file (--config FILE names another)"
    )
