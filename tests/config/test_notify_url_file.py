"""A notification URL with a password kept in a credential file, not the settings (issue 19).

The settings file is 0644 on the Pi: an Apprise URL such as ``mailtos://user:password@host``
written there shows its password to every user. So the URL may come from a file
(``notify.caregiver_url_file``, or systemd's ``$CREDENTIALS_DIRECTORY/caregiver-url``);
`config check` refuses a password left in the settings, naming the setting and where the
URL goes; `run` says so once and keeps sending. No line shows the password.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portwatch.config import ConfigError, load_settings

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PASSWORD = "Pw-7hq2-never-shown"
MAIL_URL = f"mailtos://carer:{PASSWORD}@smtp.mail.test?from=pi@mail.test&to=carer@mail.test"
SETTINGS = """
[patient]
reference = "Patient/1"
placement = 2026-11-27T13:30:00Z
[clinic]
url = "https://clinic.test/alerts"
recipient = "Organization/clinic-1"
[notify]
"""


def write(tmp_path: Path, notify: str = "") -> Path:
    path = tmp_path / "portwatch.toml"
    path.write_text(SETTINGS + notify)
    return path


def secret_file(path: Path, text: str) -> Path:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def test_url_is_read_from_systemd_credential_when_settings_name_none(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    url_file = secret_file(Path(credentials["CREDENTIALS_DIRECTORY"]) / "caregiver-url", MAIL_URL)
    settings = load_settings(write(tmp_path), now=NOW, environ=credentials)
    assert settings.notify.caregiver_url == MAIL_URL
    assert settings.notify.caregiver_url_file == url_file
    assert settings.notify.patient_url is None


def test_unit_fallback_none_means_no_url_when_no_file_was_installed(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    """The unit's SetCredential=caregiver-url:none stands in for a file that is not there."""
    secret_file(Path(credentials["CREDENTIALS_DIRECTORY"]) / "caregiver-url", "none")
    settings = load_settings(write(tmp_path), now=NOW, environ=credentials)
    assert settings.notify.caregiver_url is None


def test_url_in_settings_wins_over_credential_when_both_exist(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    secret_file(Path(credentials["CREDENTIALS_DIRECTORY"]) / "caregiver-url", MAIL_URL)
    topic = "https://ntfy.sh/portwatch-mine-abcdefghijklmnop"
    settings = load_settings(
        write(tmp_path, f'caregiver_url = "{topic}"\n'), now=NOW, environ=credentials
    )
    assert settings.notify.caregiver_url == topic


def test_url_file_setting_is_read_and_an_unusable_url_is_named_without_its_text(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    good = secret_file(tmp_path / "patient.url", MAIL_URL)
    plain = secret_file(
        tmp_path / "carer.url", MAIL_URL.replace("mailtos://", "mailto://") + "&mode=insecure"
    )
    path = write(tmp_path, f'patient_url_file = "{good}"\ncaregiver_url_file = "{plain}"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, now=NOW, environ=credentials)
    (line,) = info.value.problems
    assert line.startswith(f"notify.caregiver_url_file: the URL in {plain} sends plain SMTP")
    assert PASSWORD not in line
    assert "mail.test" not in line
    plain.write_text(MAIL_URL)
    settings = load_settings(path, now=NOW, environ=credentials)
    assert (settings.notify.caregiver_url, settings.notify.patient_url) == (MAIL_URL, MAIL_URL)


def test_url_and_url_file_together_are_refused_naming_both(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    url_file = secret_file(tmp_path / "carer.url", MAIL_URL)
    topic = "https://ntfy.sh/portwatch-mine-abcdefghijklmnop"
    path = write(tmp_path, f'caregiver_url = "{topic}"\ncaregiver_url_file = "{url_file}"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, now=NOW, environ=credentials)
    assert info.value.problems == (
        "notify.caregiver_url and notify.caregiver_url_file: both set; keep the URL in the "
        "file and remove notify.caregiver_url",
    )


def test_missing_url_file_is_named_as_the_setting(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    path = write(tmp_path, f'caregiver_url_file = "{tmp_path / "nowhere"}"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, now=NOW, environ=credentials)
    (line,) = info.value.problems
    assert line.startswith("notify.caregiver_url_file: cannot read secret file ")


def _config_check(path: Path, credentials: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "portwatch", "config", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        env={**env, **credentials},
        timeout=60,
        check=False,
    )


def test_config_check_refuses_password_in_settings_and_says_where_it_goes(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    done = _config_check(write(tmp_path, f'caregiver_url = "{MAIL_URL}"\n'), credentials)
    assert done.returncode == 2
    (line,) = [line for line in done.stderr.splitlines() if "notify." in line]
    assert "notify.caregiver_url (value not shown): holds a password or token" in line
    assert "/etc/portwatch/credentials/caregiver-url (0600" in line
    assert "notify.caregiver_url_file" in line
    assert PASSWORD not in done.stdout + done.stderr


def test_config_check_passes_url_in_credential_and_a_token_url_is_refused_too(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    secret_file(Path(credentials["CREDENTIALS_DIRECTORY"]) / "caregiver-url", MAIL_URL)
    done = _config_check(write(tmp_path), credentials)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    # A bot token in the path is a secret too (Apprise masks it when it shows the URL).
    token_url = "tgram://123456789:AAHq2-bot-token-never-shown/987654321"
    done = _config_check(write(tmp_path, f'patient_url = "{token_url}"\n'), credentials)
    assert done.returncode == 2
    assert "notify.patient_url (value not shown)" in done.stderr
    assert "bot-token" not in done.stdout + done.stderr


def test_run_warns_once_and_keeps_the_url_when_password_is_in_settings(
    tmp_path: Path, credentials: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """`run` never silences notices over this: one warning, the URL still used."""
    from portwatch.cli.commands.run import _runtime_checks

    settings = load_settings(
        write(tmp_path, f'caregiver_url = "{MAIL_URL}"\n'), now=NOW, environ=credentials
    )
    with caplog.at_level(logging.WARNING):
        _runtime_checks(settings)
    (record,) = [r for r in caplog.records if "notify." in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "notify.caregiver_url (value not shown)" in record.getMessage()
    assert record.getMessage().endswith("; notices are still sent")
    assert PASSWORD not in caplog.text
    assert settings.notify.caregiver_url == MAIL_URL
