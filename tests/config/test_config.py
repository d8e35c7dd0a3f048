"""Settings: the example loads, and every class of bad setting is refused with its line."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portwatch.config import (
    ConfigError,
    _format_duration,
    load_settings,
    parse_duration,
)
from portwatch.fever.rule import RuleSettings

EXAMPLE = Path(__file__).parents[2] / "config" / "portwatch.toml"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # day 1 of the example's healing period

MINIMAL = """
[patient]
reference = "Patient/1"
placement = 2026-11-27T13:30:00Z
[clinic]
url = "https://clinic.example.org/alerts"
recipient = "Organization/clinic-1"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "portwatch.toml"
    path.write_text(text)
    return path


def problems(path: Path, env: dict[str, str], now: datetime = NOW) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, now=now, environ=env)
    return info.value.problems


def test_example_file_loads_with_the_spec_defaults_when_secret_is_a_credential(
    credentials: dict[str, str],
) -> None:
    """The shipped example must be valid, and its rule section must be fever-rule.md's."""
    settings = load_settings(EXAMPLE, now=NOW, environ=credentials)
    assert settings.rule.rule_settings() == RuleSettings()
    assert settings.patient.placement == datetime(2026, 11, 27, 13, 30, tzinfo=UTC)
    assert settings.patient.placement.tzinfo is UTC


def test_example_file_comments_every_setting_when_read_line_by_line() -> None:
    """The issue asks for a comment on every setting: each key line follows its own comment."""
    lines = EXAMPLE.read_text().splitlines()
    for index, line in enumerate(lines):
        if line and not line.startswith(("#", "[")):
            assert lines[index - 1].startswith("#"), f"uncommented: {line}"
    assert sum(1 for line in lines if "=" in line and not line.startswith("#")) >= 25


def test_missing_clinic_is_refused_when_patient_is_monitored(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    """No clinic endpoint while monitoring would silence every fever alert."""
    path = write(tmp_path, MINIMAL.replace('url = "https://clinic.example.org/alerts"', ""))
    (line,) = problems(path, credentials)
    assert line.startswith("clinic.url: missing while the patient is monitored")


def test_missing_clinic_is_accepted_when_monitored_period_is_over(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    """After the healing period only reminders remain; no clinic is needed."""
    path = write(tmp_path, MINIMAL.replace('url = "https://clinic.example.org/alerts"', ""))
    settings = load_settings(path, now=NOW + timedelta(days=11), environ=credentials)
    assert settings.clinic.url is None


def test_http_clinic_url_is_refused_when_host_is_not_loopback(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    """Alerts over plain http could be read or changed on the way (alerts.md, Delivery)."""
    path = write(tmp_path, MINIMAL.replace("https://clinic", "http://clinic"))
    (line,) = problems(path, credentials)
    assert line == (
        "clinic.url = 'http://clinic.example.org/alerts': "
        "the URL must use https (plain http only to a loopback address)"
    )


@pytest.mark.parametrize("host", ["127.0.0.1:8471", "localhost", "[::1]:9000"])
def test_http_clinic_url_is_accepted_when_host_is_loopback(
    tmp_path: Path, credentials: dict[str, str], host: str
) -> None:
    """The reference inbox on the same machine speaks plain http."""
    path = write(tmp_path, MINIMAL.replace("https://clinic.example.org", f"http://{host}"))
    assert load_settings(path, now=NOW, environ=credentials).clinic.url == f"http://{host}/alerts"


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("threshold_f", "104.5", "rule.threshold_f = 104.5: Input should be less than or equal"),
        ("threshold_f", "99.4", "rule.threshold_f = 99.4: Input should be greater than or equal"),
        ("min_separation", '"30m"', "rule.min_separation = '30m': Input should be greater"),
        ("healing_days", "5", "rule.healing_days = 5: Input should be greater than or equal"),
        ("site_offset_c", "-2.0", "rule.site_offset_c = -2.0: Input should be greater"),
        ("window", '"5"', "rule.window = '5': expected a duration such as '4h'"),
        ("pair_window", '"2h"', "rule.pair_window = '2h': must be at least rule.min_separation"),
    ],
)
def test_rule_setting_is_refused_when_out_of_bounds(
    tmp_path: Path, credentials: dict[str, str], setting: str, value: str, expected: str
) -> None:
    """A rule setting outside its bounds would hide fevers: an error, naming it and its value."""
    path = write(tmp_path, f"{MINIMAL}\n[rule]\n{setting} = {value}\n")
    (line,) = problems(path, credentials)
    assert line.startswith(expected)


def test_patient_reference_is_refused_when_not_a_fhir_reference(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    """Alerts name the patient as a FHIR reference; an MRN alone would fail at the first alert."""
    path = write(tmp_path, MINIMAL.replace('"Patient/1"', '"MRN-1"'))
    (line,) = problems(path, credentials)
    assert line == (
        "patient.reference = 'MRN-1': expected a FHIR reference such as 'Patient/123' (Type/id)"
    )


def test_clinic_recipient_is_required_when_url_is_set(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    """An alert needs an addressee; found now, not when the first fever is confirmed."""
    path = write(tmp_path, MINIMAL.replace('recipient = "Organization/clinic-1"\n', ""))
    (line,) = problems(path, credentials)
    assert line.startswith("clinic.recipient: missing; with clinic.url")


def test_unknown_key_is_refused_when_misspelt(tmp_path: Path, credentials: dict[str, str]) -> None:
    """A typo must not be silently ignored: the clinic's threshold would quietly stay 101."""
    path = write(tmp_path, f"{MINIMAL}\n[rule]\nthreshhold_f = 100.4\n")
    assert problems(path, credentials) == (
        "rule.threshhold_f = 100.4: not a setting portwatch knows (a typo?)",
    )


def test_secret_written_in_file_is_refused_without_echoing_it(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    """Secrets come from files only, and the refusal must not copy the secret to the journal."""
    path = write(tmp_path, MINIMAL + 'secret = "whsec_TOPSECRET"\n')
    (line,) = problems(path, credentials)
    assert line.startswith("clinic.secret: secrets are never written in settings")
    assert "TOPSECRET" not in line


def test_missing_secret_is_refused_when_clinic_expects_signed_json(tmp_path: Path) -> None:
    """Unsigned alerts would be rejected by the clinic: refuse before starting."""
    (line,) = problems(write(tmp_path, MINIMAL), {})
    assert line.startswith("clinic.secret_file: no clinic secret")
    assert "LoadCredential=clinic-secret" in line


def test_secret_is_refused_when_too_short_to_sign_with(tmp_path: Path) -> None:
    """A secret the clinic's signatures cannot be made with is found at start, not at a fever."""
    secret = tmp_path / "clinic-secret"
    secret.write_text("whsec_dGVzdA==\n")  # 4 bytes
    (line,) = problems(write(tmp_path, MINIMAL), {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert line.startswith("clinic.secret_file: ")
    assert "at least" in line
    assert "dGVzdA" not in line


def test_every_problem_is_listed_when_the_file_has_several(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    """One line per problem, all at once, so a person fixes the file in one go."""
    text = (
        MINIMAL.replace("https://", "http://") + '\n[watch]\nstale_after = "3h"\n[web]\nport = 1\n'
    )
    lines = problems(write(tmp_path, text), credentials)
    assert [line.split(" ")[0] for line in lines] == ["clinic.url", "watch.stale_after", "web.port"]


def test_environment_overrides_file_when_nested_with_double_underscore(
    tmp_path: Path, credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """PORTWATCH_RULE__THRESHOLD_F overrides [rule] threshold_f, as the README promises."""
    path = write(tmp_path, f"{MINIMAL}\n[rule]\nthreshold_f = 101.0\n")
    monkeypatch.setenv("PORTWATCH_RULE__THRESHOLD_F", "100.4")
    assert load_settings(path, now=NOW, environ=credentials).rule.threshold_f == 100.4


def test_environment_typo_is_refused_when_key_is_unknown(
    tmp_path: Path, credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misspelt override is as dangerous as a misspelt key in the file."""
    monkeypatch.setenv("PORTWATCH_RULE__THRESHOLD", "100.4")
    (line,) = problems(write(tmp_path, MINIMAL), credentials)
    assert line == "rule.threshold = '100.4': not a setting portwatch knows (a typo?)"


def test_missing_file_is_named_when_path_is_wrong(tmp_path: Path) -> None:
    """The first mistake on a new Pi: the file is not where the service looks."""
    (line,) = problems(tmp_path / "nope.toml", {})
    assert line.endswith("nope.toml: no such settings file (--config FILE names another)")


def test_broken_toml_is_refused_with_its_position(tmp_path: Path) -> None:
    """A syntax error names the line, so it can be found."""
    (line,) = problems(write(tmp_path, "[patient\n"), {})
    assert "not valid TOML" in line
    assert "line 1" in line


def test_placement_without_offset_is_refused(tmp_path: Path, credentials: dict[str, str]) -> None:
    """A placement time without an offset is ambiguous by hours; all times are aware."""
    path = write(tmp_path, MINIMAL.replace("13:30:00Z", "13:30:00"))
    (line,) = problems(path, credentials)
    assert line.startswith("patient.placement = '2026-11-27T13:30:00': ")


def test_secret_file_setting_wins_when_credentials_directory_is_also_set(tmp_path: Path) -> None:
    """An explicit secret_file is used even when $CREDENTIALS_DIRECTORY points elsewhere."""
    secret = tmp_path / "s"
    secret.write_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n")
    secret.chmod(0o600)
    path = write(tmp_path, f'{MINIMAL}secret_file = "{secret}"\n')
    settings = load_settings(path, now=NOW, environ={"CREDENTIALS_DIRECTORY": "/nonexistent"})
    assert settings.clinic.secret_file == secret


def test_notification_url_is_refused_when_it_carries_a_password(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    """A password in a URL ends up in logs; refused (as delivery would), and never echoed."""
    url = "https://u:hunter2@ntfy.sh/secret-topic"
    path = write(tmp_path, f'{MINIMAL}\n[notify]\ncaregiver_url = "{url}"\n')
    (line,) = problems(path, credentials)
    assert line.startswith("notify.caregiver_url (value not shown): the URL must not carry")
    assert "hunter2" not in line
    assert "secret-topic" not in line


def test_config_check_exits_2_with_one_line_per_problem_when_file_is_bad(tmp_path: Path) -> None:
    """The command a person runs on the Pi: problems on stderr, status 2."""
    path = write(tmp_path, MINIMAL.replace("https://", "http://") + "\n[rule]\nwindow = 5\n")
    result = subprocess.run(
        [sys.executable, "-m", "portwatch", "config", "check", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": str(tmp_path)},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(": ")[1].split(" ")[0] for line in lines] == ["rule.window", "clinic.url"]


@given(st.integers(min_value=1, max_value=40 * 86400))
def test_duration_survives_format_and_parse_when_whole_seconds(seconds: int) -> None:
    """What the example file shows ('4h', '90m') reads back as the same duration."""
    value = timedelta(seconds=seconds)
    assert parse_duration(_format_duration(value)) == value


@pytest.mark.parametrize("text", ["", "4", "4 hours", "h4", "4h-", "-4h", "1.5.2h"])
def test_duration_is_refused_when_unit_is_missing_or_unknown(text: str) -> None:
    """A bare number's unit would be a guess, and guessing 4 s for 4 h hides fevers."""
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_spot_stale_after_defaults_to_16_hours_when_not_set(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    """Issue 19: a spot thermometer has its own silence limit, as the example file says."""
    settings = load_settings(write(tmp_path, MINIMAL), now=NOW, environ=credentials)
    assert settings.watch.spot_stale_after == timedelta(hours=16)
    example = load_settings(EXAMPLE, now=NOW, environ=credentials)
    assert example.watch.spot_stale_after == timedelta(hours=16)


@pytest.mark.parametrize(
    ("value", "wanted"),
    [
        ("0s", "must be longer than zero"),
        ("25h", "less than or equal to"),
        ("10m", "must be at least watch.stale_after ('30m')"),
        ("off", "expected a duration"),
    ],
)
def test_spot_stale_after_is_refused_when_it_would_silence_the_watch_or_make_noise(
    tmp_path: Path, credentials: dict[str, str], value: str, wanted: str
) -> None:
    """Zero or "off" would silence the watch; over a day it would say nothing for a day
    without any temperature; under stale_after a spot thermometer would be nagged."""
    path = write(tmp_path, f'{MINIMAL}\n[watch]\nspot_stale_after = "{value}"\n')
    (line,) = problems(path, credentials)
    assert line.startswith("watch.spot_stale_after")
    assert wanted in line
