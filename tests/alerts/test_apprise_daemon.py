"""The running daemon's notices by e-mail through Apprise and to an ntfy topic (issue 19).

The daemon runs as `portwatch run` wires it, through the demo's Sandbox (the Bumble virtual
radio with a CORE wearable, the link, the log, the rule, delivery): the caregiver's URL is
an Apprise ``mailto://`` URL of a real SMTP server on loopback (aiosmtpd), the patient's an
ntfy topic on loopback. The day-4 fever of the demo's course rises inside the quiet hours
chosen here (11:00-13:00), so a notice is still held in the outbox when the daemon is
restarted at 12:00: it must arrive after the restart, once, and nothing sent before it
may arrive again.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, time, timedelta

import pytest

from portwatch.alerts.notices import NOTICES, NoticeKind
from portwatch.config import NotifySection, QuietHours, Settings
from portwatch.log.store import Channel, OutboxRow
from portwatch.model import DecisionType
from portwatch.sim.sandbox import Sandbox
from portwatch.sim.scenario import DEFAULT_PLACEMENT, FEVER

from .loopback_receivers import MAIL_PASSWORD, MAIL_TO, Mailbox, Topic, mailbox, refused_port, topic

START = DEFAULT_PLACEMENT + FEVER.rise_start - timedelta(hours=1)  # day 4, 09:00
QUIET = QuietHours(start=time(11, 0), end=time(13, 0))
RESTART = datetime.combine(START.date(), time(12, 0), tzinfo=DEFAULT_PLACEMENT.tzinfo)
QUIET_END = datetime.combine(START.date(), QUIET.end, tzinfo=DEFAULT_PLACEMENT.tzinfo)
UNTIL = DEFAULT_PLACEMENT + FEVER.plateau + timedelta(hours=5)  # day 4, 17:00


class AppriseSandbox(Sandbox):
    """The demo's daemon with a caregiver URL for Apprise and a patient ntfy topic."""

    def __init__(self, caregiver_url: str, patient_url: str | None) -> None:
        super().__init__(page=False, start=START)
        self._urls = (caregiver_url, patient_url)

    def settings(self) -> Settings:
        caregiver, patient = self._urls
        notify = NotifySection(caregiver_url=caregiver, patient_url=patient, quiet_hours=QUIET)
        return super().settings().model_copy(update={"notify": notify})


@pytest.fixture(autouse=True)
def _quiet_radio() -> Iterator[None]:
    """Bumble logs every packet at DEBUG; hours of them would only slow caplog down."""
    logger = logging.getLogger("bumble")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


def _rows(sandbox: Sandbox, channel: Channel) -> list[OutboxRow]:
    assert sandbox.daemon is not None
    return [r for r in sandbox.daemon.store.outbox_all() if r.channel == channel.value]


def _title(row: OutboxRow) -> str:
    import json

    return str(json.loads(row.body)["title"])


async def test_each_notice_arrives_once_by_mail_and_at_topic_when_daemon_restarts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every caregiver row is one e-mail, every patient row one POST, across a restart."""
    sandbox: Sandbox
    box: Mailbox
    got: Topic
    async with mailbox() as box, topic() as got:
        sandbox = AppriseSandbox(box.url(), got.url)
        box.now = got.now = sandbox.clock.now
        async with sandbox:
            await sandbox.play(speed=None, until=RESTART)
            held = [r for r in _rows(sandbox, Channel.NOTIFY) if r.status == "pending"]
            mails_before = len(box.messages)
            await sandbox.restart_daemon()
            await sandbox.play(speed=None, until=UNTIL)
            caregiver = _rows(sandbox, Channel.NOTIFY)
            patient = _rows(sandbox, Channel.PATIENT)
            decided = {d.type: d.time for d in sandbox.decisions}
    # The first-high-reading notice, held by quiet hours across the restart, sent after it
    # (at 13:00) by the new daemon, once.
    (held_row,) = held
    assert held_row.kind == "fever.elevated_first"
    taken = list(zip(box.taken_at, box.subjects(), strict=True))
    (held_at,) = [at for at, subject in taken if subject == _title(held_row)]
    assert QUIET_END <= held_at < QUIET_END + timedelta(minutes=1)
    assert mails_before > 0
    assert len(box.messages) > mails_before
    assert all(r.status == "delivered" for r in (*caregiver, *patient))
    # Once each: as many e-mails as caregiver rows, with their titles, sent to the carer.
    assert Counter(box.subjects()) == Counter(_title(r) for r in caregiver)
    assert {m["To"] for m in box.messages} == {MAIL_TO}
    fever_mail = NOTICES[NoticeKind.FEVER_CONFIRMED_CAREGIVER].title
    assert box.subjects().count(fever_mail) == 1
    (fever_at,) = [
        at for at, m in zip(box.taken_at, box.messages, strict=True) if m["Subject"] == fever_mail
    ]
    assert fever_at - decided[DecisionType.FEVER_CONFIRMED] < timedelta(minutes=1)
    # The topic got each patient row once, by its X-Sequence-ID, as ntfy topics always have.
    sequence_ids = [headers["X-Sequence-ID"] for headers, _ in got.posts]
    assert sorted(sequence_ids) == sorted(r.id for r in patient)
    assert NOTICES[NoticeKind.FEVER_CONFIRMED_PATIENT].title in got.titles()
    assert MAIL_PASSWORD not in "\n".join(r.getMessage() for r in caplog.records)


async def test_clinic_alert_goes_and_mail_is_retried_when_mail_server_refuses() -> None:
    """A mail server that is down costs the caregiver's queue retries, never the daemon."""
    url = Mailbox(port=refused_port()).url()
    async with AppriseSandbox(url, None) as sandbox:
        await sandbox.play(speed=None, until=UNTIL)
        daemon_task = sandbox._daemon_task
        assert daemon_task is not None
        assert not daemon_task.done()  # still running: the refusals crashed nothing
        notices = _rows(sandbox, Channel.NOTIFY)
        assert sandbox.inbox is not None
        kinds = [m.type for m, stored, _ in sandbox.inbox.received if stored]
    assert DecisionType.FEVER_CONFIRMED.value in kinds
    assert all(row.status == "pending" for row in notices)
    # The rows tried carry the answer's text (a routine row behind a failing head waits
    # untried, as the queue's policy says); the urgent fever notice among them.
    tried = [row for row in notices if row.attempts > 0]
    assert NOTICES[NoticeKind.FEVER_CONFIRMED_CAREGIVER].title in {_title(r) for r in tried}
    assert {row.last_error for row in tried} == {
        "mailto:// not accepted (see the apprise log lines)"
    }
    assert max(r.attempts for r in tried) > 1  # retried with backoff, not given up


async def test_password_shows_in_no_log_line_nor_alerts_list_when_mail_goes_or_fails(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where a URL could leak: Apprise's own lines (every record, at DEBUG) for mail that is
    sent and for a mail server that is down, the rows' stored answers, `alerts list`."""
    import asyncio
    import subprocess
    import sys

    from portwatch.cli.commands.alerts import format_rows

    other = "Pw-other-9x1-never-shown"
    caplog.set_level(logging.DEBUG)
    logging.getLogger("bumble").setLevel(logging.INFO)
    async with mailbox() as box:
        down = Mailbox(port=refused_port()).url().replace(MAIL_PASSWORD, other)
        sandbox = AppriseSandbox(box.url(), down)
        async with sandbox:
            await sandbox.play(speed=None, until=UNTIL)
            assert sandbox.daemon is not None
            rows = sandbox.daemon.store.outbox_all()
            await sandbox.stop_daemon()  # `alerts list` then reads the log as it was left
            listed = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "portwatch", "alerts", "list",
                 "--db", str(sandbox.state_dir / "portwatch.db")],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
    assert box.messages  # sent, with the password as the login
    assert any(r.channel == Channel.PATIENT.value and r.attempts > 1 for r in rows)
    assert listed.returncode == 0, listed.stderr
    captured = capsys.readouterr()
    seen = "\n".join(
        [
            *(r.getMessage() for r in caplog.records),
            *format_rows(rows),
            listed.stdout + listed.stderr,
            captured.out + captured.err,
        ]
    )
    assert "Sent Email" in seen  # Apprise's own lines were captured, and are read here
    for secret in (other, MAIL_PASSWORD):
        assert secret not in seen
