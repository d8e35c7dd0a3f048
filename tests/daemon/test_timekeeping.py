"""TrustedClock: a Pi booting in the past never times a reading before placement."""

from __future__ import annotations

import errno
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from portwatch.clock import ClockTrust, SystemClock, VirtualClock
from portwatch.service.timekeeping import (
    KernelClockProbe,
    TimekeepingError,
    TrustedClock,
    _adjtimex_state,
)

PLACEMENT = datetime(2026, 11, 27, 13, 30, tzinfo=UTC)
LAST_TRUSTED = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
BOOT_WALL = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)  # fake-hwclock from a month ago


class Sync:
    """Stands in for timedatectl's NTPSynchronized flag: a system edge."""

    def __init__(self) -> None:
        self.value = False

    def __call__(self) -> bool:
        return self.value


async def test_time_counts_from_last_trusted_when_clock_is_not_synchronised() -> None:
    """Booted in the past: readings are timed from the log's last trusted time, moving on."""
    system, sync = VirtualClock(BOOT_WALL), Sync()
    clock = TrustedClock(system, synchronised=sync, last_trusted=LAST_TRUSTED, not_before=PLACEMENT)
    assert clock.now() == LAST_TRUSTED
    await system.advance(90)
    assert clock.now() == LAST_TRUSTED + timedelta(seconds=90)
    assert not clock.trusted


async def test_time_never_precedes_placement_when_log_is_new() -> None:
    """A new log has no trusted time: placement is the floor."""
    system = VirtualClock(BOOT_WALL)
    clock = TrustedClock(system, synchronised=Sync(), last_trusted=None, not_before=PLACEMENT)
    assert clock.now() == PLACEMENT


async def test_system_time_is_followed_and_jump_logged_when_clock_synchronises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At synchronisation the real time takes over, and the step is logged once."""
    system, sync = VirtualClock(BOOT_WALL), Sync()
    clock = TrustedClock(system, synchronised=sync, last_trusted=LAST_TRUSTED, not_before=PLACEMENT)
    await system.advance(60)
    system.jump_wall(timedelta(days=28, hours=9))  # NTP sets the real time
    sync.value = True
    with caplog.at_level(logging.INFO, logger="portwatch.service.timekeeping"):
        real = clock.now()
        assert real == system.now()
        await system.advance(60)
        assert clock.now() == real + timedelta(seconds=60)
    assert clock.trusted
    assert clock.jumps == 1
    assert caplog.text.count("system clock synchronised") == 1


async def test_jump_is_detected_when_synchronised_clock_is_set_back() -> None:
    """A person setting the clock back an hour is noticed and counted."""
    system, sync = VirtualClock(LAST_TRUSTED), Sync()
    sync.value = True
    clock = TrustedClock(system, synchronised=sync, last_trusted=LAST_TRUSTED, not_before=PLACEMENT)
    clock.now()
    system.jump_wall(timedelta(hours=-1))
    assert clock.now() == LAST_TRUSTED - timedelta(hours=1)
    assert clock.jumps == 1


def test_naive_last_trusted_is_refused() -> None:
    """Only aware datetimes exist inside portwatch."""
    with pytest.raises(TimekeepingError, match="aware"):
        TrustedClock(
            VirtualClock(BOOT_WALL),
            synchronised=Sync(),
            last_trusted=datetime(2026, 11, 29),
            not_before=PLACEMENT,
        )


async def test_reading_time_holds_when_trusted_clock_is_set_back_an_hour(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 10: a clock set back mid-fever must not make true time stamps look 'future'."""
    system, sync = VirtualClock(LAST_TRUSTED), Sync()
    sync.value = True
    clock = TrustedClock(
        system, synchronised=sync, last_trusted=LAST_TRUSTED, not_before=PLACEMENT,
        hold_after_jump=True,
    )  # fmt: skip
    clock.now()
    system.jump_wall(timedelta(hours=-1))
    with caplog.at_level(logging.INFO, logger="portwatch.service.timekeeping"):
        assert clock.now() == LAST_TRUSTED
        await system.advance(600)
        assert clock.now() == LAST_TRUSTED + timedelta(seconds=600)
    assert (clock.jumps, clock.held) == (1, True)
    assert [r.levelname for r in caplog.records] == ["WARNING"]


async def test_reading_time_holds_when_trusted_clock_jumps_a_day_ahead() -> None:
    """Issue 10: a day's jump ahead must not time the last day's readings past the period."""
    system, sync = VirtualClock(LAST_TRUSTED), Sync()
    sync.value = True
    clock = TrustedClock(
        system, synchronised=sync, last_trusted=LAST_TRUSTED, not_before=PLACEMENT,
        hold_after_jump=True,
    )  # fmt: skip
    clock.now()
    await system.advance(60)
    system.jump_wall(timedelta(days=1))
    assert clock.now() == LAST_TRUSTED + timedelta(seconds=60)


async def test_wall_clock_is_followed_again_when_it_comes_back_into_agreement() -> None:
    """A clock set wrong and then corrected is trusted again, and the hold is lifted."""
    system, sync = VirtualClock(LAST_TRUSTED), Sync()
    sync.value = True
    clock = TrustedClock(
        system, synchronised=sync, last_trusted=LAST_TRUSTED, not_before=PLACEMENT,
        hold_after_jump=True,
    )  # fmt: skip
    clock.now()
    system.jump_wall(timedelta(hours=-1))
    clock.now()
    system.jump_wall(timedelta(hours=1))
    await system.advance(30)
    assert clock.now() == system.now()
    assert not clock.held


async def test_trust_is_estimated_then_synchronised_then_held_when_the_clock_syncs_and_jumps() -> (
    None
):
    """The one fact callers ask (issue 15): never synchronised, following, holding."""
    system, sync = VirtualClock(BOOT_WALL), Sync()
    clock = TrustedClock(
        system, synchronised=sync, last_trusted=LAST_TRUSTED, not_before=PLACEMENT,
        hold_after_jump=True,
    )  # fmt: skip
    clock.now()
    seen = [clock.trust]
    system.jump_wall(LAST_TRUSTED - BOOT_WALL)
    sync.value = True
    clock.now()
    seen.append(clock.trust)
    system.jump_wall(timedelta(hours=-1))
    clock.now()
    seen.append(clock.trust)
    assert seen == [ClockTrust.ESTIMATED, ClockTrust.SYNCHRONISED, ClockTrust.HELD]
    assert [t.anchored for t in seen] == [False, True, True]


def test_system_and_virtual_clocks_are_synchronised() -> None:
    assert SystemClock().trust is ClockTrust.SYNCHRONISED
    assert VirtualClock(BOOT_WALL).trust is ClockTrust.SYNCHRONISED


async def test_reading_time_holds_from_the_log_when_restarted_with_clock_set_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A restart while the synchronised clock is an hour back never times before the log."""
    # Sync and the VirtualClock's wall time stand in for timesyncd and a clock a person
    # set back: both are system edges.
    system, sync = VirtualClock(LAST_TRUSTED - timedelta(hours=1)), Sync()
    sync.value = True
    clock = TrustedClock(
        system, synchronised=sync, last_trusted=LAST_TRUSTED, not_before=PLACEMENT,
        hold_after_jump=True,
    )  # fmt: skip
    with caplog.at_level(logging.DEBUG, logger="portwatch.service.timekeeping"):
        assert clock.now() == LAST_TRUSTED
        await system.advance(1800)
        assert clock.now() == LAST_TRUSTED + timedelta(seconds=1800)
        await system.advance(1800)  # the wall clock has passed the log's time, not ours
        assert clock.now() == LAST_TRUSTED + timedelta(seconds=3600)
    assert (clock.trusted, clock.held, clock.jumps) == (False, True, 1)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "38." not in caplog.text  # no health value, only times


async def test_wall_clock_is_followed_when_it_catches_up_after_a_set_back_restart() -> None:
    """NTP stepping the set-back clock right lifts the hold, and the clock is trusted."""
    system, sync = VirtualClock(LAST_TRUSTED - timedelta(hours=1)), Sync()
    sync.value = True
    clock = TrustedClock(system, synchronised=sync, last_trusted=LAST_TRUSTED, not_before=PLACEMENT)
    clock.now()
    await system.advance(600)
    system.jump_wall(timedelta(hours=1))  # timesyncd steps it back into agreement
    assert clock.now() == system.now() == LAST_TRUSTED + timedelta(seconds=600)
    assert (clock.trusted, clock.held) == (True, False)


async def test_time_never_precedes_placement_when_synchronised_clock_is_before_it() -> None:
    """A new log and a synchronised clock before the placement: the placement is the floor."""
    system, sync = VirtualClock(PLACEMENT - timedelta(days=2)), Sync()
    sync.value = True
    clock = TrustedClock(system, synchronised=sync, last_trusted=None, not_before=PLACEMENT)
    assert clock.now() == PLACEMENT
    assert clock.held


async def test_synchronised_clock_far_ahead_is_followed_and_warned_when_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A power-off of two days looks like a clock two days ahead: followed, a person told."""
    system, sync = VirtualClock(LAST_TRUSTED + timedelta(days=2)), Sync()
    sync.value = True
    clock = TrustedClock(
        system, synchronised=sync, last_trusted=LAST_TRUSTED, not_before=PLACEMENT,
        hold_after_jump=True,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="portwatch.service.timekeeping"):
        assert clock.now() == system.now()
    assert (clock.trusted, clock.held) == (True, False)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "48.0 h" in caplog.text


async def test_synchronised_clock_slightly_ahead_is_followed_quietly_when_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reboot's minute of downtime is ordinary: followed, logged below WARNING."""
    system, sync = VirtualClock(LAST_TRUSTED + timedelta(minutes=1)), Sync()
    sync.value = True
    clock = TrustedClock(system, synchronised=sync, last_trusted=LAST_TRUSTED, not_before=PLACEMENT)
    with caplog.at_level(logging.INFO, logger="portwatch.service.timekeeping"):
        assert clock.now() == system.now()
    assert [r.levelname for r in caplog.records] == ["INFO"]


# adjtimex's return values (linux/timex.h): TIME_OK, and TIME_ERROR while STA_UNSYNC is set.
TIME_OK = 0
TIME_ERROR = 5


class KernelState:
    """Stands in for the kernel's adjtimex (a system edge): a state, or the seccomp EPERM."""

    def __init__(self, state: int | None = TIME_OK, *, denied: bool = False) -> None:
        self.state, self.denied, self.reads = state, denied, 0

    def __call__(self) -> int | None:
        self.reads += 1
        if self.denied:
            raise PermissionError(errno.EPERM, "Operation not permitted")
        return self.state


def test_probe_trusts_the_marker_without_reading_the_kernel_when_timesyncd_left_it(
    tmp_path: Path,
) -> None:
    """timesyncd's marker answers first, so the kernel is not asked (nor its denial seen)."""
    marker = tmp_path / "synchronized"
    marker.touch()
    kernel = KernelState(denied=True)
    assert KernelClockProbe(str(marker), kernel)() is True
    assert kernel.reads == 0


@pytest.mark.parametrize(("state", "synchronised"), [(TIME_OK, True), (TIME_ERROR, False)])
def test_probe_follows_the_kernel_when_the_marker_is_absent(
    tmp_path: Path, state: int, synchronised: bool
) -> None:
    """chrony or ntpd leave no marker: the kernel's STA_UNSYNC state decides."""
    probe = KernelClockProbe(str(tmp_path / "synchronized"), KernelState(state))
    assert probe() is synchronised


def test_probe_says_not_synchronised_when_the_kernel_state_is_unknown(tmp_path: Path) -> None:
    """No adjtimex in the C library (not Linux): the safe side."""
    assert KernelClockProbe(str(tmp_path / "synchronized"), KernelState(None))() is False


def test_probe_warns_once_and_says_not_synchronised_when_adjtimex_is_denied(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A sandbox denying the read would leave the clock untrusted forever: a person must see it."""
    kernel = KernelState(TIME_OK, denied=True)
    probe = KernelClockProbe(str(tmp_path / "synchronized"), kernel)
    with caplog.at_level(logging.DEBUG, logger="portwatch.service.timekeeping"):
        answers = [probe(), probe(), probe()]
    assert answers == [False, False, False]
    assert kernel.reads == 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Operation not permitted" in warnings[0].getMessage()


def test_probe_reads_the_real_kernel_state_when_no_sandbox_denies_it(tmp_path: Path) -> None:
    """Outside a seccomp sandbox the real adjtimex read answers with a clock state."""
    state = _adjtimex_state()
    assert state is None or 0 <= state <= TIME_ERROR
    probe = KernelClockProbe(str(tmp_path / "synchronized"))
    assert probe() is (state is not None and state < TIME_ERROR)
