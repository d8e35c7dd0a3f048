"""The settings file mapped onto the page: display, clinic target, token, next reminder."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest

from portwatch.config import ConfigError, Settings, load_settings
from portwatch.web.settings import display_settings, next_reminder, web_settings

from .conftest import PATIENT, PLACEMENT
from .test_commands import SETTINGS


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    secret = tmp_path / "clinic.secret"
    secret.write_text("whsec_" + base64.b64encode(b"k" * 32).decode())
    secret.chmod(0o600)
    text = SETTINGS.format(
        patient=PATIENT, placement=PLACEMENT.isoformat(), secret=secret, state=tmp_path
    )
    path = tmp_path / "portwatch.toml"
    path.write_text(text)
    return load_settings(path, now=PLACEMENT + timedelta(days=1), environ={})


def test_display_settings_carry_rule_settings_when_read_from_file(settings: Settings) -> None:
    """The visit summary lists the settings in force, as the rule has them."""
    display = display_settings(settings)
    assert display.placement == PLACEMENT
    assert ("threshold_f", "101.0") in {(k, v.removesuffix(" F")) for k, v in display.rule_settings}
    assert str(display.zone) == "Europe/Berlin"


def test_web_settings_read_token_from_credentials_directory_when_no_token_file(
    settings: Settings, tmp_path: Path
) -> None:
    """systemd's LoadCredential=web-token is where the daemon finds the page's token."""
    (tmp_path / "web-token").write_text("s3cret-token-for-the-page\n")
    (tmp_path / "web-token").chmod(0o600)
    served = web_settings(settings, {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert (served.token, served.host, served.port) == (
        "s3cret-token-for-the-page",
        "127.0.0.1",
        8470,
    )


def test_web_settings_refuse_with_setting_named_when_no_token_anywhere(settings: Settings) -> None:
    """A page without a token would be open to anyone on the network: refuse to start it."""
    with pytest.raises(ConfigError, match=r"web\.token_file"):
        web_settings(settings, {})


def test_next_reminder_is_dressing_day_three_when_asked_on_day_two(settings: Settings) -> None:
    """The status screen names the next care reminder from the clinic's sheet."""
    upcoming = next_reminder(settings)(PLACEMENT + timedelta(days=1, hours=12))
    assert upcoming is not None
    when, title = upcoming
    assert title == "The dressing can come off"
    assert when.astimezone(settings.zone).day == 20  # day 3: 18 Nov is day 1


def test_clinic_target_and_display_name_the_pinned_thermometer_when_no_address_is_set(
    settings: Settings, tmp_path: Path
) -> None:
    """Issue 18: report/export named Device 00:00:00:00:00:00 although a thermometer was
    pinned (pinned.json); the page's "not the pinned thermometer" needs it too."""
    from portwatch.ble.pin import Pin, save_pin
    from portwatch.web.settings import clinic_target

    unpinned = settings.model_copy(
        update={"bluetooth": settings.bluetooth.model_copy(update={"address": None})}
    )
    save_pin(unpinned.store.state_directory, Pin("a4:c1:38:00:11:22", "Thermo", "hts"))
    target = clinic_target(unpinned, "gw-test")
    assert target.context.thermometer.address == "A4:C1:38:00:11:22"
    assert display_settings(unpinned).thermometer == "A4:C1:38:00:11:22"
