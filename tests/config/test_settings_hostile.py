"""Issue 21: settings that used to end in a traceback, or that `config check` passed and `run`
then tripped over, are refused in one line with exit status 2, by both commands.

Each case runs `portwatch` as its own process, as a person or systemd would.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from portwatch.cli.commands.run import EXIT_BAD_SETTINGS
from portwatch.clock import SystemClock

# A day before the system clock's time, so that "monitored" holds when `portwatch run`
# reads the settings (the product's command reads them at the system clock's time).
NOW = SystemClock().now()
PLACED = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
MINIMAL = f"""
[patient]
reference = "Patient/1"
placement = {PLACED}
[clinic]
url = "https://clinic.test/alerts"
recipient = "Organization/clinic-1"
"""
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
EXAMPLE = Path(__file__).parents[2] / "config" / "portwatch.toml"
# A CA bundle that is a file, but holds no certificate.
NOT_PEM = "this is not a certificate\n"


def _environment(tmp_path: Path) -> dict[str, str]:
    credentials = tmp_path / "credentials"
    credentials.mkdir(exist_ok=True)
    (credentials / "clinic-secret").write_text(SECRET + "\n")
    (credentials / "clinic-secret").chmod(0o600)
    return {
        "PATH": "/usr/bin:/bin",
        "CREDENTIALS_DIRECTORY": str(credentials),
        "PORTWATCH_STORE__STATE_DIRECTORY": str(tmp_path / "state"),
    }


def portwatch(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """One `portwatch` command as its own process, in a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "portwatch", *argv],
        capture_output=True,
        text=True,
        check=False,
        env=_environment(tmp_path),
        timeout=60,
    )


def run_and_check(tmp_path: Path, config: Path) -> list[subprocess.CompletedProcess[str]]:
    """`portwatch run` and `portwatch config check` on one file."""
    return [
        portwatch(tmp_path, "run", "--config", str(config)),
        portwatch(tmp_path, "config", "check", "--config", str(config)),
    ]


def assert_one_line(result: subprocess.CompletedProcess[str], says: str) -> None:
    assert result.returncode == EXIT_BAD_SETTINGS, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stderr
    assert says in lines[0], lines[0]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param(
            MINIMAL + '[rule]\nwindow = "1000000000d"\n',
            "rule.window = '1000000000d': too long",
            id="billion days",
        ),
        pytest.param(
            MINIMAL + f'[watch]\nstale_after = "{"9" * 400}s"\n',
            "watch.stale_after = ",
            id="400 nines",
        ),
        pytest.param(
            MINIMAL.replace(PLACED, "0001-01-01T00:00:00+05:00"),
            "patient.placement = '0001-01-01T00:00:00+05:00': expected a time between",
            id="placement year 1",
        ),
        pytest.param(
            MINIMAL.replace(PLACED, "9999-12-31T23:59:59-05:00"),
            "patient.placement = '9999-12-31T23:59:59-05:00': expected a time between",
            id="placement year 9999",
        ),
    ],
)
def test_run_and_check_refuse_in_one_line_when_a_value_overflows(
    tmp_path: Path, text: str, says: str
) -> None:
    """These values overflowed a timedelta or a datetime: a traceback and exit 1 before."""
    config = tmp_path / "portwatch.toml"
    config.write_text(text)
    for result in run_and_check(tmp_path, config):
        assert_one_line(result, says)
    assert not (tmp_path / "state").exists()


def test_run_and_check_refuse_in_one_line_when_the_file_is_not_utf8(tmp_path: Path) -> None:
    """A file saved as Latin-1 (a name with an accent) is named, not a UnicodeDecodeError."""
    config = tmp_path / "portwatch.toml"
    config.write_bytes(MINIMAL.replace("Patient/1", "Patient/Jos\xe9").encode("latin-1"))
    for result in run_and_check(tmp_path, config):
        assert_one_line(result, "portwatch.toml: not UTF-8 text")


def test_run_and_check_refuse_in_one_line_when_config_names_a_directory(tmp_path: Path) -> None:
    """`--config /etc/portwatch` (the folder, not the file) was an IsADirectoryError."""
    for result in run_and_check(tmp_path, tmp_path):
        assert_one_line(result, "a directory, not a settings file")


def test_check_refuses_an_endless_device_as_the_settings_file(tmp_path: Path) -> None:
    """`--config /dev/zero` was read until memory ran out."""
    result = portwatch(tmp_path, "config", "check", "--config", "/dev/zero")
    assert_one_line(result, "/dev/zero: not a regular file")


def _with_token(tmp_path: Path, token: str, extra: str = "") -> Path:
    token_file = tmp_path / "web-token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    config = tmp_path / "portwatch.toml"
    config.write_text(MINIMAL + f'[web]\ntoken_file = "{token_file}"\n{extra}')
    return config


def test_run_and_check_refuse_a_web_token_under_16_characters(tmp_path: Path) -> None:
    """`config check` said ok; `run` then ended in a ValueError traceback."""
    config = _with_token(tmp_path, "short-token")
    for result in run_and_check(tmp_path, config):
        assert_one_line(result, "web.token_file: ")
        assert "at least 16" in result.stderr
        assert "short-token" not in result.stderr


def test_run_and_check_refuse_a_web_address_that_does_not_resolve(tmp_path: Path) -> None:
    """An unresolvable host passed `config check`; `run` failed binding it."""
    config = _with_token(tmp_path, "a" * 32, 'address = "no-such-host.invalid:8470"\n')
    for result in run_and_check(tmp_path, config):
        assert_one_line(result, "web.address = 'no-such-host.invalid:8470': the page cannot")


def test_check_accepts_an_ipv6_address_in_brackets_and_the_host_is_bare(tmp_path: Path) -> None:
    """`[::1]:8470` is how an IPv6 host:port is written; the page binds ``::1``."""
    from portwatch.config import load_settings

    config = _with_token(tmp_path, "a" * 32, 'address = "[::1]:8470"\n')
    result = portwatch(tmp_path, "config", "check", "--config", str(config))
    assert result.returncode == 0, result.stderr
    environ = _environment(tmp_path)
    settings = load_settings(config, now=NOW, environ=environ)
    assert (settings.web.host, settings.web.port) == ("::1", 8470)


@pytest.mark.parametrize(
    ("bundle", "says"),
    [
        pytest.param("missing", "No such file", id="mistyped path"),
        pytest.param("garbage", "no certificate in PEM format", id="not a certificate"),
    ],
)
def test_check_refuses_and_run_reports_a_ca_bundle_that_cannot_be_used(
    tmp_path: Path, bundle: str, says: str
) -> None:
    """A mistyped clinic.ca_bundle passed `config check`, then `alerts test` tracebacked.

    `run` says so in one line and keeps running: the caregiver's channels work on, and
    an alert the clinic cannot take is escalated to them (a service that refused to start
    would tell nobody anything).
    """
    path = tmp_path / "clinic-ca.pem"
    if bundle == "garbage":
        path.write_text(NOT_PEM)
    config = tmp_path / "portwatch.toml"
    config.write_text(MINIMAL + f'ca_bundle = "{path}"\n[bluetooth]\nbackend = "virtual"\n')
    result = portwatch(tmp_path, "config", "check", "--config", str(config))
    assert_one_line(result, f"clinic.ca_bundle = '{path}': cannot be used")
    assert says in result.stderr
    daemon = subprocess.Popen(
        [sys.executable, "-m", "portwatch", "run", "--config", str(config)],
        env=_environment(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert daemon.stderr is not None
        first = daemon.stderr.readline()
        assert f"clinic.ca_bundle = '{path}': cannot be used" in first, first
        assert says in first
        assert daemon.poll() is None  # still running
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=30)


def test_check_names_each_placeholder_when_given_the_example_file(tmp_path: Path) -> None:
    """Issue 19: the example passed unedited, publishing on a shared public push topic."""
    result = portwatch(tmp_path, "config", "check", "--config", str(EXAMPLE))
    assert result.returncode == EXIT_BAD_SETTINGS, result.stderr
    lines = result.stderr.strip().splitlines()
    named = sorted(line.split(": ", 1)[1].split(" ")[0].rstrip(":") for line in lines)
    assert named == ["clinic.url", "notify.caregiver_url", "patient.reference"], lines
    assert "ntfy.sh" not in result.stderr  # a push topic URL is its own secret


def test_check_names_each_placeholder_when_the_example_is_checked_with_no_secret(
    tmp_path: Path,
) -> None:
    """A person copies the example and checks it before making any secret: the missing
    secret was the only line, and the three placeholders went unnamed until it existed."""
    env = {"PATH": "/usr/bin:/bin", "PORTWATCH_STORE__STATE_DIRECTORY": str(tmp_path / "s")}
    result = subprocess.run(
        [sys.executable, "-m", "portwatch", "config", "check", "--config", str(EXAMPLE)],
        capture_output=True, text=True, check=False, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == EXIT_BAD_SETTINGS, result.stderr
    lines = result.stderr.strip().splitlines()
    named = sorted(line.split(": ", 1)[1].split(" ")[0].rstrip(":") for line in lines)
    assert named == [
        "clinic.secret_file",
        "clinic.url",
        "notify.caregiver_url",
        "patient.reference",
    ], lines


def test_run_serves_the_page_on_an_ipv6_address_written_in_brackets(tmp_path: Path) -> None:
    """`[::1]:PORT` made `run` bind the host "[::1]" and fail; it serves the page on ::1."""
    import socket
    import time
    import urllib.error
    import urllib.request

    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    config = _with_token(tmp_path, "a" * 32, f'address = "[::1]:{port}"\n')
    config.write_text(
        config.read_text().replace("https://clinic.test/alerts", "http://127.0.0.1:9/alerts")
        + '[bluetooth]\nbackend = "virtual"\n'
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "portwatch", "run", "--config", str(config)],
        env=_environment(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    status = None
    try:
        for _ in range(150):  # at most about 30 s
            if status is not None or daemon.poll() is not None:
                break
            try:
                urllib.request.urlopen(f"http://[::1]:{port}/", timeout=2)
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                time.sleep(0.2)  # not listening yet: polling another process, not time
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=30)
    assert status == 401, stderr  # the page, asking for its token
