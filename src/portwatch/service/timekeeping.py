"""Time the daemon can trust on a Raspberry Pi, which has no battery-backed clock.

Until the system clock is synchronised (NTP), the Pi's wall time may be anything, often
the past. :class:`TrustedClock` then times everything from the monotonic clock, counted
from the last trusted time in the log (never earlier than the placement), so no reading
is timed before the placement or in the future. Once synchronised it follows the system
clock, and a jump of that clock (the moment of synchronisation, or a person setting it)
is detected against monotonic time and logged (issue 7, "The clock").

The daemon builds it with ``hold_after_jump=True``: once the clock has been trusted, a
later jump of the wall clock (a person setting it back an hour, a clock running a day
ahead) is logged but not followed, because monotonic time counted from a trusted instant
is the better witness (it is slewed by NTP, never stepped). Reading times then neither
leap into the future nor fall back onto readings already logged (issue 10, clock faults).
When the wall clock comes back into agreement, it is followed again.

A restart forgets the monotonic witness, so the log's last trusted time is the only one:

* a synchronised clock *earlier* than that time (set back, then the daemon restarted) is
  not followed: time is held, counted on the monotonic clock from the log's last time,
  until the wall clock catches up with the time so kept (NTP stepping it right; a wall
  clock merely passing the log's last time is not enough, or readings would run back);
  logged once at WARNING, and the daemon's status line says "clock not synchronised"
  meanwhile (``held``). So no reading is ever timed before one already in the log.
* a synchronised clock *ahead* of it is followed, however far: monotonic time does not
  survive a reboot, so a long power-off and a clock that is wrongly ahead look exactly
  alike, and holding through a real power-off would time every later reading in the past
  by the whole downtime, with no way back into agreement. A synchronised clock is the
  better witness of the two. A gap longer than ``FAR_AHEAD_S`` is logged at WARNING so a
  person can check that the gateway really was off that long (the rule ignores readings
  timed after the monitored period, so a clock wrongly far ahead must not pass unseen).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from portwatch.clock import Clock, ClockTrust

__all__ = [
    "FAR_AHEAD_S",
    "KernelClockProbe",
    "TimekeepingError",
    "TrustedClock",
    "kernel_synchronised",
]

_LOGGER = logging.getLogger(__name__)

# Wall and monotonic time may disagree by this much between two looks before it counts as
# a jump (NTP slews far more gently; a person or a first sync moves it by far more).
JUMP_TOLERANCE_S: Final = 2.0

# Our choice (issue 7, "the clock"; no spec number): after a restart, a synchronised clock
# more than this ahead of the log's last trusted time is followed but logged at WARNING.
# Far longer than a reboot; as long as fever-rule.md §4's min_separation (4 h), so a gap
# that alone could separate a confirming pair of readings is seen by a person.
FAR_AHEAD_S: Final = 4 * 3600.0


# systemd-timesyncd creates this file once it has synchronised the clock (doctor reads it).
TIMESYNC_MARKER: Final = "/run/systemd/timesync/synchronized"
# adjtimex(2) returns TIME_ERROR (5) while the kernel's clock is unsynchronised (STA_UNSYNC).
_TIME_ERROR: Final = 5
# struct timex is 208 bytes on 64-bit Linux; a larger zeroed buffer is read with modes = 0.
_TIMEX_BYTES: Final = 512


def _adjtimex_state() -> int | None:
    """The kernel clock's state from ``adjtimex`` with no modes (a read; glibc makes it
    ``clock_adjtime(CLOCK_REALTIME)``); None where the C library has no adjtimex.

    Raises:
        OSError: the call failed, e.g. EPERM where a seccomp filter denies it (issue 10).
    """
    libc = _libc()
    if libc is None:
        return None
    state = int(libc.adjtimex(ctypes.create_string_buffer(_TIMEX_BYTES)))
    if state < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return state


class KernelClockProbe:
    """Whether the system clock is synchronised, as the kernel sees it (any NTP client).

    timesyncd's marker file first (a stat), else the kernel's own state through
    ``adjtimex`` with no modes, which only reads it (no privilege needed, but a seccomp
    filter can deny it: systemd's ``ProtectClock=yes`` does, which is why
    systemd/portwatch.service allows the read calls back). Where neither answers: not
    synchronised, the safe side; a denied read is logged once at WARNING, because the
    daemon would then never trust a clock synchronised by chrony or ntpd (issue 10).

    Args:
        marker: timesyncd's marker file.
        read_state: the kernel clock's state (adjtimex's return value), None where unknown.
    """

    def __init__(
        self,
        marker: str = TIMESYNC_MARKER,
        read_state: Callable[[], int | None] = _adjtimex_state,
    ) -> None:
        self._marker = marker
        self._read_state = read_state
        self._warned = False

    def __call__(self) -> bool:
        if os.path.exists(self._marker):
            return True
        try:
            state = self._read_state()
        except OSError as exc:
            if not self._warned:
                self._warned = True
                _LOGGER.warning(
                    "cannot read the kernel clock's state (adjtimex: %s), so a clock "
                    "synchronised by chrony or ntpd is never trusted; allow adjtimex and "
                    "clock_adjtime in the unit as systemd/portwatch.service does",
                    exc.strerror,
                )
            return False
        return state is not None and 0 <= state < _TIME_ERROR


# The daemon's probe (commands/run.py): TrustedClock calls it on every now().
kernel_synchronised: Final = KernelClockProbe()


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, if it has adjtimex (Linux); looked up once (find_library forks)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True) if name else None
        return libc if libc is not None and hasattr(libc, "adjtimex") else None
    except OSError:
        return None


class TimekeepingError(ValueError):
    """A time given to the TrustedClock is naive."""


class TrustedClock:
    """A :class:`~portwatch.clock.Clock` whose ``now`` is safe to stamp readings with.

    Args:
        system: the machine's clock (``SystemClock``, or a ``VirtualClock`` in tests).
        synchronised: tells whether the system clock is synchronised right now.
        last_trusted: the latest trusted time in the log (None for a new log).
        not_before: the placement time; nothing is ever timed before it.
        hold_after_jump: once trusted, keep counting monotonic time from the last trusted
            instant when the synchronised wall clock jumps, instead of following it.
    """

    def __init__(
        self,
        system: Clock,
        *,
        synchronised: Callable[[], bool],
        last_trusted: datetime | None,
        not_before: datetime,
        hold_after_jump: bool = False,
    ) -> None:
        for name, value in (("last_trusted", last_trusted), ("not_before", not_before)):
            if value is not None and value.tzinfo is None:
                raise TimekeepingError(f"{name} = {value.isoformat()}: must be aware")
        self._system = system
        self._synchronised = synchronised
        base = max(last_trusted, not_before) if last_trusted else not_before
        # (wall time, monotonic time) of the last instant we trusted.
        self._anchor: tuple[datetime, float] = (base, system.monotonic())
        self._hold = hold_after_jump
        self._held = False  # the wall clock jumped while trusted and is not followed
        self._trusted = False
        self.jumps = 0  # how many jumps of the system clock were seen (for STATUS=/doctor)

    @property
    def trusted(self) -> bool:
        """True once the system clock was seen synchronised."""
        return self._trusted

    @property
    def trust(self) -> ClockTrust:
        """``ESTIMATED`` until seen synchronised; then ``HELD`` while the wall clock is not
        followed, else ``SYNCHRONISED``."""
        if not self._trusted:
            return ClockTrust.ESTIMATED
        return ClockTrust.HELD if self._held else ClockTrust.SYNCHRONISED

    @property
    def held(self) -> bool:
        """True while the wall clock is not followed: after a jump (``hold_after_jump``),
        or while a synchronised clock is behind the log's last time after a restart."""
        return self._held

    def now(self) -> datetime:
        """Synchronised: the system's time. Otherwise: anchor plus monotonic time elapsed."""
        mono = self._system.monotonic()
        anchor_wall, anchor_mono = self._anchor
        estimate = anchor_wall + timedelta(seconds=mono - anchor_mono)
        if not self._synchronised():
            return estimate
        wall = self._system.now()
        drift = (wall - estimate).total_seconds()
        if abs(drift) <= JUMP_TOLERANCE_S:
            if self._held:
                _LOGGER.info("system clock agrees again with the time kept; following it")
                self._held = False
        elif not self._trusted and drift < 0:
            # Synchronised but behind the log's last time (set back before a restart):
            # hold until the wall clock catches up with the time kept.
            if not self._held:
                self.jumps += 1
                self._held = True
                _LOGGER.warning(
                    "system clock is synchronised but %.1f s behind the log's last time; "
                    "keeping time from the log until it catches up (check timedatectl)",
                    -drift,
                )
            return estimate
        elif self._hold and self._trusted:
            if not self._held:
                self.jumps += 1
                self._held = True
                _LOGGER.warning(
                    "system clock jumped %+.1f s against monotonic time; keeping time from "
                    "the last trusted instant until it agrees again (check timedatectl)",
                    drift,
                )
            return estimate
        else:
            self.jumps += 1
            what = "synchronised" if not self._trusted else "jumped"
            if not self._trusted and drift > FAR_AHEAD_S:
                _LOGGER.warning(
                    "system clock synchronised %.1f h after the log's last time; following "
                    "it (a power-off that long looks the same; if the gateway was not off "
                    "that long, check timedatectl)",
                    drift / 3600,
                )
            else:
                _LOGGER.info("system clock %s: %+.1f s from the time kept so far", what, drift)
        self._trusted = True
        self._anchor = (wall, mono)
        return wall

    def monotonic(self) -> float:
        return self._system.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self._system.sleep(seconds)
