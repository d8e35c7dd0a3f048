"""systemd's notify protocol: READY=1, STATUS=..., WATCHDOG=1, STOPPING=1 over $NOTIFY_SOCKET.

The protocol is one datagram of ``KEY=value`` lines sent to the AF_UNIX socket named in
``$NOTIFY_SOCKET`` (``@`` at the start means the abstract namespace), documented in
sd_notify(3). That is a few lines of standard library; a dependency (python-systemd
needs libsystemd headers to build, sdnotify is unmaintained) would cost more than it
saves. Outside systemd (no ``$NOTIFY_SOCKET``) every call does nothing.

Sends never block: they come from the event loop, and a datagram socket whose reader has
stopped reading fills after a few messages (``net.unix.max_dgram_qlen``, 10 by default).
A message that does not fit is dropped with a DEBUG line; systemd only ever needs the
latest status, and a missed ``WATCHDOG=1`` is what the watchdog is for.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import Final

__all__ = ["Notifier", "SystemdError", "watchdog_interval_s"]

_LOGGER = logging.getLogger(__name__)

# sd_watchdog_enabled(3): pet the watchdog at half the interval systemd will wait.
WATCHDOG_FRACTION: Final = 0.5


class SystemdError(ValueError):
    """``$NOTIFY_SOCKET`` or ``$WATCHDOG_USEC`` holds something that is not usable."""


def _address(value: str) -> str:
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    raise SystemdError(
        f"NOTIFY_SOCKET = {value!r}: expected an absolute path or an abstract '@name'"
    )


class Notifier:
    """Tells systemd how the service is doing; a no-op when not started by systemd.

    Raises:
        SystemdError: at construction, when ``$NOTIFY_SOCKET`` is malformed.
        OSError: from a send, when the socket is gone (the caller decides; the daemon logs
            it and carries on). A full socket is not an error: the message is dropped.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        value = environ.get("NOTIFY_SOCKET", "")
        self._address = _address(value) if value else None

    @property
    def enabled(self) -> bool:
        """True when systemd is listening."""
        return self._address is not None

    def send(self, *fields: str) -> bool:
        """Send ``KEY=value`` fields in one datagram without blocking.

        Returns False when not under systemd, or when the reader's queue is full and the
        message was dropped (logged at DEBUG).
        """
        if self._address is None:
            return False
        message = "\n".join(fields).encode()
        kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
        with socket.socket(socket.AF_UNIX, kind) as sock:
            try:
                sock.sendto(message, self._address)
            except BlockingIOError:
                _LOGGER.debug("systemd notify socket is full; dropped %s", fields[0][:40])
                return False
        return True

    def ready(self, status: str) -> bool:
        """The log is open and the link started (issue 7)."""
        return self.send("READY=1", f"STATUS={_one_line(status)}")

    def status(self, status: str) -> bool:
        """One line for ``systemctl status``, e.g. 'monitoring day 4 of 10 · link up'."""
        return self.send(f"STATUS={_one_line(status)}")

    def watchdog(self) -> bool:
        """Still alive: sent from the event loop, so a blocked loop misses it."""
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        """A clean stop has begun."""
        return self.send("STOPPING=1")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def watchdog_interval_s(environ: Mapping[str, str], pid: int) -> float | None:
    """How often to send WATCHDOG=1, or None when systemd expects no watchdog (or not us).

    Raises:
        SystemdError: when ``$WATCHDOG_USEC`` is not a positive integer.
    """
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    watchdog_pid = environ.get("WATCHDOG_PID")
    if watchdog_pid and watchdog_pid != str(pid):
        return None
    if not usec.isdigit() or int(usec) == 0:
        raise SystemdError(f"WATCHDOG_USEC = {usec!r}: expected a positive number of microseconds")
    return int(usec) / 1_000_000 * WATCHDOG_FRACTION
