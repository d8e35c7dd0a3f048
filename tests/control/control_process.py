"""What the tests of the control socket share: `portwatch run` as a real process on the real
clock with the virtual radio, a reference inbox on loopback in the test's event loop, and
each command as a process of its own, as a person runs them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from portwatch.sim.inbox import InboxStore, Message

SECRET = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
STOP_WITHIN_S = 10.0


@dataclass
class Arrival:
    webhook_id: str
    type: str
    stored: bool
    at: float  # time.perf_counter() when the inbox had it


@dataclass
class Inbox:
    store: InboxStore
    url: str = ""
    arrivals: list[Arrival] = field(default_factory=list)

    def add(self, message: Message, received_at: datetime) -> bool:
        stored = self.store.add(message, received_at)
        self.arrivals.append(Arrival(message.webhook_id, message.type, stored, time.perf_counter()))
        return stored

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    def first(self, kind: str) -> Arrival | None:
        return next((a for a in self.arrivals if a.type == kind), None)


def write_config(directory: Path, inbox_url: str, placement: datetime) -> Path:
    secret = directory / "clinic-secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    config = directory / "portwatch.toml"
    config.write_text(
        f"""
[patient]
reference = "Patient/control"
placement = "{placement.isoformat()}"

[bluetooth]
backend = "virtual"

[clinic]
url = "{inbox_url}"
recipient = "Organization/test-clinic"
secret_file = "{secret}"

[store]
state_directory = "{directory / "state"}"
"""
    )
    return config


def environment(directory: Path) -> dict[str, str]:
    """The commands' and the service's environment: nothing that points elsewhere.

    Their runtime directory is the test's own ``run/``, as systemd's $RUNTIME_DIRECTORY
    would be, so a real service's /run/portwatch on this machine is never asked.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTWATCH_")}
    runtime = directory / "run"
    runtime.mkdir(exist_ok=True)
    env["RUNTIME_DIRECTORY"] = str(runtime)
    return env


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str
    started: float  # time.perf_counter() when it was started
    ended: float  # time.perf_counter() when it exited


async def command(config: Path, *argv: str) -> Ran:
    """One `portwatch` command, as its own process, with ``--config``."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "portwatch",
        *argv,
        "--config",
        str(config),
        env=environment(config.parent),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode(), started, time.perf_counter())


async def wait_for(predicate: Callable[[], bool], timeout_s: float) -> float:
    """Until ``predicate()`` holds, at most ``timeout_s`` of real time; when it did."""
    async with asyncio.timeout(timeout_s):
        # Polling another process's results, not letting time pass.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return time.perf_counter()


@contextlib.asynccontextmanager
async def service(config: Path) -> AsyncIterator[Path]:
    """`portwatch run --config` until READY (systemd's notify socket); SIGTERM on the way out.

    Yields the file its stderr goes to.
    """
    directory = config.parent
    notify_path = directory / "notify"
    log = directory / f"run-{time.monotonic_ns()}.txt"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify, log.open("w") as stderr:
        notify.bind(str(notify_path))
        notify.setblocking(False)
        env = {**environment(directory), "NOTIFY_SOCKET": str(notify_path)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "portwatch", "-v", "run", "--config", str(config),
            env=env, stderr=stderr,
        )  # fmt: skip
        try:
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(60):
                while b"READY=1" not in (await loop.sock_recv(notify, 4096)).split(b"\n"):
                    pass
            try:
                yield log
            except BaseException:
                print(f"portwatch run's stderr:\n{log.read_text()[-6000:]}")
                raise
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), STOP_WITHIN_S)
                except TimeoutError:
                    process.kill()
                    await process.wait()
            notify_path.unlink(missing_ok=True)
