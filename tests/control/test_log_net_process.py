"""The service as a real process and what reaches the clinic's inbox (on loopback), when the
log is written by something else than the running service's own path:

- a restart: the rule is rebuilt from the log (fever-rule.md §6) and must make the decisions
  the live rule made, with the same ids, even when a late block (readings timed a day
  earlier, stored after later ones) reached it; a new id would be a second alert;
- an outbox row written by another process (a command that found no control socket and
  wrote the log itself) is sent within a second or two, not at the deliverer's 60-s poll.

The real clock, as in test_control_process.py: every test first logs a normal hand reading
with the service stopped (a container's clock may be unsynchronised; the service then
counts time from the log's latest reading).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from portwatch.clock import SystemClock
from portwatch.log.store import Channel, Store

from .control_process import Inbox, command, service, wait_for, write_config

CLOCK = SystemClock()
NOT_RUNNING = "portwatch is not running:"
# Another process's outbox row: in the inbox within this much wall time after the command
# exits. The log watch looks once a second; a loaded machine gets ten times that. The
# deliverer's poll (what the row waited for before) is 60 s.
OTHER_PROCESS_ROW_WITHIN_S = 10.0


def _hours_ago(hours: float) -> str:
    return (CLOCK.now() - timedelta(hours=hours)).isoformat(timespec="seconds")


async def _setup(short_dir: Path, inbox: Inbox, placed_hours_ago: float) -> Path:
    config = write_config(short_dir, inbox.url, CLOCK.now() - timedelta(hours=placed_hours_ago))
    seeded = await command(config, "add", "98.4F")
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith(NOT_RUNNING), seeded.stdout
    return config


def _clinic_fever_rows(db: Path) -> list[str]:
    with Store.open_reader(db) as log:
        return [
            row.id
            for row in log.outbox_all()
            if row.channel is Channel.CLINIC and row.kind.startswith("fever.")
        ]


async def test_restart_after_a_late_block_sends_the_clinic_no_second_fever_alert(
    short_dir: Path, inbox: Inbox
) -> None:
    """Placed 30 h ago, so the placement's second day starts 6 h ago. A (9 h ago) and B
    (1 h ago) confirm the fever live. Then a reading from 11 h ago arrives late (A'). A
    replay a day of reading time at a time fed A' before B (both of A's day, B the next)
    and confirmed (A', B) at start: a new id, a second "confirmed" to the clinic."""
    config = await _setup(short_dir, inbox, placed_hours_ago=30)
    db = short_dir / "state" / "portwatch.db"
    async with service(config):
        for value, hours in (("101.5F", 9), ("101.8F", 1)):
            added = await command(config, "add", value, "--at", _hours_ago(hours))
            assert added.returncode == 0, added.stderr
            assert NOT_RUNNING not in added.stdout
        await wait_for(lambda: inbox.first("fever.confirmed") is not None, 30)
        late = await command(config, "add", "101.6F", "--at", _hours_ago(11))
        assert late.returncode == 0, late.stderr
        assert NOT_RUNNING not in late.stdout
    told = _clinic_fever_rows(db)
    assert len(told) == 1
    async with service(config):
        assert _clinic_fever_rows(db) == told  # the rule was rebuilt before READY
        # A clinic row queued after the rebuild: once it is in the inbox, any row the
        # rebuild queued (earlier, same queue) has been sent too.
        report = await command(config, "report", "redness")
        assert report.returncode == 0, report.stdout + report.stderr
        await wait_for(lambda: inbox.first("symptoms.reported") is not None, 30)
    assert [a.webhook_id for a in inbox.arrivals if a.type == "fever.confirmed"] == told


async def test_outbox_rows_another_process_writes_reach_the_inbox_within_seconds(
    short_dir: Path, inbox: Inbox
) -> None:
    """The control socket gone (removed by hand, a permissions slip), `report` and `alerts
    resend` write the log themselves while the service runs: the log watch sees the outbox
    change and wakes delivery."""
    config = await _setup(short_dir, inbox, placed_hours_ago=6)
    async with service(config):
        (short_dir / "run" / "control.sock").unlink()  # $RUNTIME_DIRECTORY's
        report = await command(config, "report", "redness")
        assert report.returncode == 0, report.stdout + report.stderr
        assert report.stdout.startswith(NOT_RUNNING), report.stdout
        arrived = await wait_for(lambda: inbox.first("symptoms.reported") is not None, 30)
        print(f"report (log written directly): in the inbox {arrived - report.ended:+.2f} s")
        assert arrived - report.ended <= OTHER_PROCESS_ROW_WITHIN_S
        symptoms = inbox.first("symptoms.reported")
        assert symptoms is not None
        resent = await command(config, "alerts", "resend", symptoms.webhook_id)
        assert resent.returncode == 0, resent.stdout + resent.stderr
        assert resent.stdout.startswith(NOT_RUNNING), resent.stdout
        copies = lambda: [a for a in inbox.arrivals if a.webhook_id == symptoms.webhook_id]  # noqa: E731
        arrived = await wait_for(lambda: len(copies()) == 2, 30)
        print(f"alerts resend (log written directly): in the inbox {arrived - resent.ended:+.2f} s")
        assert arrived - resent.ended <= OTHER_PROCESS_ROW_WITHIN_S
        assert [a.stored for a in copies()] == [True, False]  # the same alert, once stored
