"""The caregiver's storage notice from a running daemon whose log refuses writes (issue 4).

The daemon runs as `portwatch run` wires it, through the demo's Sandbox (the Bumble virtual
radio with a CORE wearable, the log, the rule, delivery); the caregiver's URL is a loopback
receiver. The log's writer connection is switched to SQLite's ``query_only``: a stand-in,
at the system edge, for a disk that refuses writes, in-process (the really full tmpfs,
which needs a private namespace, is driven by the disk campaign, whose quick run
tests/reliability/test_campaigns.py asserts: one notice per episode at a real URL).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from aiohttp import web

from portwatch.alerts.notices import NOTICES, NoticeKind
from portwatch.config import NotifySection, Settings
from portwatch.service.daemon import SENT_DIRECTLY_HOLD, Daemon
from portwatch.sim.pacing import pace
from portwatch.sim.sandbox import Sandbox

pytestmark = pytest.mark.usefixtures("_quiet_radio")

STORAGE = NOTICES[NoticeKind.STORAGE_TROUBLE].title


class Receiver:
    """A caregiver URL on loopback; refuses the first ``refuse`` POSTs with 503."""

    def __init__(self, refuse: int = 0) -> None:
        self.titles: list[str] = []
        self.refuse = refuse
        self.url = ""

    async def take(self, request: web.Request) -> web.Response:
        await request.read()
        if self.refuse > 0:
            self.refuse -= 1
            return web.Response(status=503)
        self.titles.append(request.headers.get("Title", ""))
        return web.Response(text="ok")


class CaregiverSandbox(Sandbox):
    def __init__(self, url: str | None) -> None:
        super().__init__(page=False)
        self._url = url

    def settings(self) -> Settings:
        notify = NotifySection(caregiver_url=self._url)
        return super().settings().model_copy(update={"notify": notify})


@pytest.fixture
def _quiet_radio() -> Iterator[None]:
    """Bumble logs every packet at DEBUG; it would only slow caplog down."""
    logger = logging.getLogger("bumble")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver(refuse=2)
    app = web.Application()
    app.router.add_post("/", got.take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    got.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    try:
        yield got
    finally:
        await runner.cleanup()


async def _log_refuses(daemon: Daemon, refuses: bool) -> None:
    """Switch the writer's connection (on the log's writer thread) to query_only, or back."""
    store = daemon.service.writer_store
    pragma = f"PRAGMA query_only = {'ON' if refuses else 'OFF'}"
    await daemon.service.on_store_thread(lambda: store._db.execute(pragma))


async def _play(sandbox: Sandbox, minutes: float) -> None:
    until = sandbox.clock.now() + timedelta(minutes=minutes)
    await pace(sandbox.clock, until, speed=None, settled=sandbox.settled)


async def test_daemon_posts_one_storage_notice_per_episode_when_the_log_refuses_writes(
    receiver: Receiver,
) -> None:
    """Told once per episode, retried past refusals, logged delivered, never sent again."""
    async with CaregiverSandbox(receiver.url) as sandbox:
        daemon = sandbox.daemon
        assert daemon is not None
        for episode in (1, 2):
            await _log_refuses(daemon, True)
            await _play(sandbox, 10)  # readings every minute: each write fails
            assert receiver.titles.count(STORAGE) == episode  # told while still refused
            await _log_refuses(daemon, False)
            await _play(sandbox, 30)  # writable again: the notice is logged, nothing resent
            assert receiver.titles.count(STORAGE) == episode
        rows = [r for r in daemon.store.outbox_all() if r.kind == NoticeKind.STORAGE_TROUBLE]
    assert [r.status for r in rows] == ["delivered", "delivered"]
    assert all(r.not_before is not None for r in rows)
    assert all(r.not_before - r.created_at > SENT_DIRECTLY_HOLD / 2 for r in rows if r.not_before)
    assert receiver.refuse == 0  # the two refusals were retried


async def test_daemon_queues_the_storage_notice_in_the_outbox_when_no_caregiver_url_is_set() -> (
    None
):
    """No URL: the only channels are the outbox (when it takes writes) and the journal."""
    async with CaregiverSandbox(None) as sandbox:
        daemon = sandbox.daemon
        assert daemon is not None
        await _log_refuses(daemon, True)
        await _play(sandbox, 10)
        await _log_refuses(daemon, False)
        await _play(sandbox, 5)
        rows = [r for r in daemon.store.outbox_all() if r.kind == NoticeKind.STORAGE_TROUBLE]
    assert [(r.channel, r.status, r.not_before) for r in rows] == [("notify", "pending", None)]
