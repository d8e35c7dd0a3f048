"""Which notification URLs go through Apprise, and how a bad one is refused (issue 19).

Real Apprise parses every URL here; only doctor's test notice is sent, to real receivers on
loopback. Each refusal is read as
``portwatch config check`` prints it, and must never repeat the URL's password or topic.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from portwatch.alerts.apprise_sender import AppriseSender
from portwatch.alerts.delivery import DeliveryError, NotifyEndpoint
from portwatch.alerts.notify_url import NotifyTransport, describe_notify_url, transport_of
from portwatch.alerts.posting import Note
from portwatch.config import ConfigError, Settings, load_settings
from portwatch.log.store import Priority
from portwatch.service.doctor import TEST_NOTICE_TITLE, check_notify, check_notify_send

from .loopback_receivers import MAIL_PASSWORD, Mailbox, mailbox, refused_port, topic

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PASSWORD = "Hx7-mail-password"
SETTINGS = """
[patient]
reference = "Patient/1"
placement = 2026-11-27T13:30:00Z
[clinic]
url = "https://clinic.example.org/alerts"
recipient = "Organization/clinic-1"
secret_file = "{secret}"
[notify]
caregiver_url = "{url}"
"""
MAILTOS = f"mailtos://carer:{PASSWORD}@smtp.example.org?from=pi@example.org&to=carer@example.org"
TELEGRAM = "tgram://123456789:AAH-bot-token-secret/12315544/"
NTFY = "https://ntfy.sh/portwatch-q8Jd7Kfa0"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PORTWATCH_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)


def _load(tmp_path: Path, url: str) -> Settings:
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    path = tmp_path / "portwatch.toml"
    path.write_text(SETTINGS.format(secret=secret, url=url))
    return load_settings(path, now=NOW, environ={})


def _problem(tmp_path: Path, url: str) -> str:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, url)
    (line,) = info.value.problems
    return line


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("https://ntfy.sh/topic", NotifyTransport.NTFY),
        ("HTTP://127.0.0.1:8080/topic", NotifyTransport.NTFY),
        (MAILTOS, NotifyTransport.APPRISE),
        (TELEGRAM, NotifyTransport.APPRISE),
        ("ntfys://ntfy.example.org/topic", NotifyTransport.APPRISE),
    ],
)
def test_url_is_sent_by_scheme_when_classified(url: str, transport: NotifyTransport) -> None:
    """http(s) is today's ntfy POST; any other scheme, Apprise's own ntfy:// too, is Apprise."""
    assert transport_of(url) is transport


@pytest.mark.parametrize("url", [MAILTOS, TELEGRAM, "pover://userkey@apptoken", NTFY])
def test_settings_accept_url_when_apprise_or_ntfy_can_send_to_it(tmp_path: Path, url: str) -> None:
    assert _load(tmp_path, url).notify.caregiver_url == url


def test_unknown_scheme_is_refused_naming_scheme_only_when_apprise_cannot_parse_it(
    tmp_path: Path,
) -> None:
    line = _problem(tmp_path, f"smsx://user:{PASSWORD}@gateway.example.org/4912345")
    assert line.startswith(
        "notify.caregiver_url (value not shown): the URL is not one Apprise can send to ('smsx://')"
    )
    assert PASSWORD not in line
    assert "gateway.example.org" not in line


def test_url_without_scheme_is_refused_when_written_as_a_bare_topic(tmp_path: Path) -> None:
    line = _problem(tmp_path, "ntfy.sh/portwatch-q8Jd7Kfa0")
    assert "(no scheme)" in line
    assert "q8Jd7Kfa0" not in line


def test_plain_smtp_is_refused_without_echoing_password_when_server_is_off_loopback(
    tmp_path: Path,
) -> None:
    """mailto:// without TLS would send the password and the notice in clear: refused."""
    url = f"mailto://carer:{PASSWORD}@smtp.example.org?from=pi@example.org&to=carer@example.org"
    line = _problem(tmp_path, url)
    assert "sends plain SMTP (mailto:// without TLS) to a mail server off loopback" in line
    assert PASSWORD not in line


@pytest.mark.parametrize(
    ("url", "twin"),
    [
        ("ntfy://ntfy.home.example.org/portwatch-q8Jd7Kfa0", "ntfys"),
        ("json://hooks.example.org/portwatch", "jsons"),
        ("signal://signal.example.org:8080/+15551230000/+15557654321", "signals"),
    ],
)
def test_apprise_scheme_in_clear_is_refused_naming_its_tls_twin_when_host_is_off_loopback(
    tmp_path: Path, url: str, twin: str
) -> None:
    """The ntfy rule (plain http only to loopback) holds through Apprise's schemes too."""
    line = _problem(tmp_path, url)
    scheme = url.partition("://")[0]
    assert line == (
        f"notify.caregiver_url (value not shown): the URL sends in clear ('{scheme}://') to a "
        f"host off loopback: use '{twin}://' (TLS), as plain http is only for a loopback address"
    )


@pytest.mark.parametrize(
    "url",
    [
        "ntfy://portwatch-q8Jd7Kfa0",  # ntfy.sh's own topic: Apprise sends it over https
        "ntfy://127.0.0.1:8080/portwatch-q8Jd7Kfa0",
        "signal://localhost:8080/+15551230000/+15557654321",
        "ntfys://ntfy.home.example.org/portwatch-q8Jd7Kfa0",
    ],
)
def test_apprise_scheme_is_accepted_when_it_uses_tls_or_stays_on_loopback(url: str) -> None:
    assert NotifyEndpoint(url=url).transport is NotifyTransport.APPRISE


def test_plain_smtp_is_accepted_when_server_is_on_loopback() -> None:
    url = f"mailto://carer:{PASSWORD}@127.0.0.1:2525?from=pi@example.org&to=carer@example.org"
    assert NotifyEndpoint(url=url).transport is NotifyTransport.APPRISE


def test_http_topic_is_still_refused_when_host_is_not_loopback() -> None:
    """Today's ntfy rule holds unchanged: plain http only to a loopback address."""
    with pytest.raises(DeliveryError, match="must use https"):
        NotifyEndpoint(url="http://ntfy.example.org/topic")


def test_apprise_logs_nothing_of_the_password_when_a_bad_url_is_checked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Apprise logs a URL it cannot load with parts of the password: not while we check."""
    with pytest.raises(DeliveryError):
        NotifyEndpoint(url=f"mailto://carer:{PASSWORD}@?mode=bogus")
    assert [r for r in caplog.records if r.name.startswith("apprise")] == []


async def test_apprise_still_logs_why_a_send_failed_when_a_bad_url_was_checked_before(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only the checking itself is silent: a send's failure stays in the journal."""
    with pytest.raises(DeliveryError):
        NotifyEndpoint(url=f"mailto://carer:{PASSWORD}@?mode=bogus")
    sender = AppriseSender(NotifyEndpoint(url=Mailbox(port=refused_port()).url()))
    answer = await sender.send_note(Note("n-1", "title", "message", Priority.ROUTINE), NOW)
    assert answer.status_code is None
    warnings = [r for r in caplog.records if r.name == "apprise" and r.levelno == logging.WARNING]
    assert warnings != []


def test_doctor_names_how_each_url_is_sent_without_its_secrets_when_urls_are_valid(
    tmp_path: Path,
) -> None:
    settings = _load(tmp_path, MAILTOS)
    both = settings.model_copy(
        update={"notify": settings.notify.model_copy(update={"patient_url": NTFY})}
    )
    check = check_notify(both)
    assert check.passed
    assert check.detail == (
        "caregiver: E-Mail through Apprise (mailtos://); patient: ntfy POST to https://ntfy.sh"
    )
    assert describe_notify_url(TELEGRAM) == "Telegram through Apprise (tgram://)"


def test_doctor_passes_saying_notices_wait_when_no_url_is_set(tmp_path: Path) -> None:
    settings = _load(tmp_path, NTFY)
    none = settings.model_copy(
        update={"notify": settings.notify.model_copy(update={"caregiver_url": None})}
    )
    check = check_notify(none)
    assert (check.passed, check.detail) == (True, "no notification URL (notices wait in the log)")


def test_apprise_is_not_imported_when_settings_name_an_ntfy_topic(tmp_path: Path) -> None:
    """Apprise costs about half a second to import: only a non-http(s) URL loads it."""
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    path = tmp_path / "portwatch.toml"
    path.write_text(SETTINGS.format(secret=secret, url=NTFY))
    script = (
        "import sys\nfrom datetime import datetime, UTC\nfrom pathlib import Path\n"
        "import portwatch.service.daemon, portwatch.service.doctor\n"
        "from portwatch.config import load_settings\n"
        f"load_settings(Path({str(path)!r}), now=datetime(2026, 11, 28, tzinfo=UTC),"
        " environ={})\n"
        "print('apprise' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


async def test_doctor_sends_each_person_one_test_notice_only_when_asked(tmp_path: Path) -> None:
    """`doctor --send-notice`: one e-mail to the caregiver, one POST to the patient's topic;
    the well-formed check alone sends nothing."""
    async with mailbox() as box, topic() as got:
        settings = _load(tmp_path, box.url())
        both = settings.model_copy(
            update={"notify": settings.notify.model_copy(update={"patient_url": got.url})}
        )
        assert check_notify(both).passed
        assert (box.messages, got.posts) == ([], [])
        checks = await check_notify_send(both, NOW)
    assert [(c.name, c.passed) for c in checks] == [
        ("caregiver notice", True),
        ("patient notice", True),
    ]
    assert box.subjects() == [TEST_NOTICE_TITLE]
    assert got.titles() == [TEST_NOTICE_TITLE]


async def test_doctor_fails_the_test_notice_with_advice_when_mail_server_refuses(
    tmp_path: Path,
) -> None:
    url = Mailbox(port=refused_port()).url()
    settings = _load(tmp_path, url)
    (check,) = await check_notify_send(settings, NOW)
    assert (check.passed, check.detail) == (
        False,
        "did not take the test notice: mailto:// not accepted (see the apprise log lines)",
    )
    assert "notify.caregiver_url" in check.advice
    assert MAIL_PASSWORD not in check.line()
