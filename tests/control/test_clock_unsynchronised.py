"""Issue 19's top defect, as it was found: `portwatch run` as a real process on a machine
whose clock is not synchronised (as portwatch sees it: no timesyncd marker, the kernel's
STA_UNSYNC; true of the test machines and the BlueZ VM), a FRESH state directory (no log,
no reading seeded first, unlike test_control_process.py), and two `portwatch add` processes
5 h apart in reading time.

The daemon's TrustedClock then counts from the placement (a day ago), not the wall clock.
Clinic alerts used to be signed on that clock, so the inbox (5-minute tolerance, as every
Standard Webhooks receiver) answered 401 "expired", the alert was marked failed, and the
fever never reached the clinic. The signature's time must be the wall clock's.

The inbox is the reference one on loopback on the real clock (conftest.py); it stores a
message only after its signature and timestamp pass (sim/inbox.py), so an arrival here is
a validly signed one.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from portwatch.clock import SystemClock
from portwatch.log.store import Store
from portwatch.service.timekeeping import kernel_synchronised

from .control_process import Inbox, command, service, wait_for, write_config

CLOCK = SystemClock()  # the real clock, as the service, the commands and the inbox read it
ARRIVE_WITHIN_S = 5.0  # issue 16's promise for a typed reading, which this must keep too


async def test_fever_from_two_hand_readings_reaches_the_clinic_signed_on_the_wall_clock_when_clock_unsynchronised_and_log_new(  # noqa: E501
    short_dir: Path, inbox: Inbox
) -> None:
    """Exactly one validly signed fever.confirmed arrives, within 5 s of the second add, and
    the outbox says delivered: no 401, no failed row, no "Clinic refused" notice."""
    synchronised = kernel_synchronised()
    print(f"this machine's clock is {'' if synchronised else 'not '}synchronised (portwatch)")
    config = write_config(short_dir, inbox.url, CLOCK.now() - timedelta(days=1))
    assert not (short_dir / "state").exists()  # a fresh state directory: nothing seeded
    async with service(config):
        hours_ago = (CLOCK.now() - timedelta(hours=5)).isoformat(timespec="seconds")
        first = await command(config, "add", "101.5F", "--at", hours_ago)
        assert first.returncode == 0, first.stderr
        second = await command(config, "add", "101.8F")
        assert second.returncode == 0, second.stderr
        await wait_for(lambda: inbox.first("fever.confirmed") is not None, 30)
        fever = inbox.first("fever.confirmed")
        assert fever is not None
        print(
            f"fever.confirmed in the inbox {fever.at - second.started:.2f} s after the second add "
            f"started ({fever.at - second.ended:+.2f} s after it exited)"
        )
        assert fever.at - second.ended <= ARRIVE_WITHIN_S
        listed = await command(config, "alerts", "list")
    fevers = [a for a in inbox.arrivals if a.type == "fever.confirmed"]
    assert [a.stored for a in fevers] == [True]
    with Store.open_reader(short_dir / "state" / "portwatch.db") as log:
        rows = log.outbox_all()
    (clinic_fever,) = [r for r in rows if r.kind == "fever.confirmed"]
    assert (clinic_fever.status, clinic_fever.last_status) == ("delivered", 200)
    assert all(r.status != "failed" for r in rows), listed.stdout
    assert "Clinic refused" not in listed.stdout
