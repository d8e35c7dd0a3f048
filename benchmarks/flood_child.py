"""The flood campaign's attacker, in its own process (its own descriptors, as a neighbour's).

    python benchmarks/flood_child.py PORT CONNECTIONS SECONDS

Opens CONNECTIONS connections to 127.0.0.1:PORT (loopback only): half silent, half sending
a request head one byte a second. A connection the server drops is opened again a second
later, so the pressure holds. Prints ``ready OPENED`` once all are open, and at the end (after
SECONDS, or when stdin closes) one JSON line of counts. Stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
from dataclasses import asdict, dataclass

SLOW_HEAD = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 4000


@dataclass
class Counts:
    opened: int = 0  # connections opened, reopenings included
    failed: int = 0  # connect() refused or timed out
    dropped: int = 0  # closed by the server
    held_peak: int = 0  # open at once, as this side sees it
    held: int = 0

    def __post_init__(self) -> None:
        self.target = 0
        self.all_tried = asyncio.Event()

    def tried(self) -> None:
        if self.opened + self.failed >= self.target:
            self.all_tried.set()


def _raise_descriptor_limit(connections: int) -> None:
    """Enough descriptors for the connections (the campaign's own process is not touched)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        top = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))


async def _one(port: int, slow: bool, counts: Counts, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        except (OSError, TimeoutError):
            counts.failed += 1
            counts.tried()
            await asyncio.sleep(1.0)
            continue
        counts.opened += 1
        counts.tried()
        counts.held += 1
        counts.held_peak = max(counts.held_peak, counts.held)
        try:
            await _hold(reader, writer, slow, stop)
        finally:
            counts.held -= 1
            writer.close()
        if not stop.is_set():
            counts.dropped += 1
            await asyncio.sleep(1.0)


async def _hold(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, slow: bool, stop: asyncio.Event
) -> None:
    """Hold one connection until the server drops it or the flood ends."""
    sent = 0
    with contextlib.suppress(OSError):
        while not stop.is_set():
            if slow and sent < len(SLOW_HEAD):
                writer.write(SLOW_HEAD[sent : sent + 1])
                sent += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    if await reader.read(1024) == b"":
                        return  # the server closed it
                    return  # the server answered (it never should): count as dropped


async def main(port: int, connections: int, seconds: float) -> Counts:
    counts = Counts()
    counts.target = connections
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.call_later(seconds, stop.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def watch_stdin() -> None:
        await reader.read()  # the campaign closes stdin when it is done
        stop.set()

    watcher = asyncio.create_task(watch_stdin())
    tasks = []
    for index in range(connections):
        tasks.append(asyncio.create_task(_one(port, index % 2 == 1, counts, stop)))
        if index % 100 == 99:
            await asyncio.sleep(0.05)  # let accept() keep up; a flood, not a SYN flood
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            await counts.all_tried.wait()
    print(f"ready {counts.opened}", flush=True)
    await asyncio.gather(*tasks)
    watcher.cancel()
    return counts


if __name__ == "__main__":
    port, connections, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    _raise_descriptor_limit(connections)
    result = asyncio.run(main(port, connections, seconds))
    print(json.dumps(asdict(result)), flush=True)  # the dataclass fields only
