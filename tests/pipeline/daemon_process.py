"""What the tests that run `portwatch run` as a real process share: systemd's side of the
notify socket, and waiting for a condition in another process's log."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable


class Notifications:
    """systemd's side of the notify socket: every datagram read, as systemd does.

    (A reader that stops reading would block the daemon's next send once the socket's
    queue is full; systemd never stops.)
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.seen: list[str] = []
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self.seen.append((await loop.sock_recv(self.sock, 4096)).decode())

    def count(self, wanted: str) -> int:
        return sum(1 for data in self.seen if wanted in data.split("\n"))

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def wait_for(predicate: Callable[[], bool], timeout_s: float) -> None:
    """Until ``predicate()`` holds, at most ``timeout_s`` of real time."""
    async with asyncio.timeout(timeout_s):
        # Polling another process's log, socket or stderr, not letting time pass.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.2)
