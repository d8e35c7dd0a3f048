"""Stage isolation (issue 21): delivery to the clinic outlives a broken notification URL, a
broken CA file and a broken page.

The daemon runs as `portwatch run` wires it, through the demo's Sandbox (the Bumble virtual
radio with a CORE wearable, the log, the rule, delivery, the reference clinic inbox on
loopback) over the day-4 fever of the demo's course. Its caregiver URL is https while the
system's CA bundle (``REQUESTS_CA_BUNDLE``) names a file that does not exist, so requests
raises a plain OSError for every notice; its patient URL is a loopback server that answers
every POST with 500; its page's port is held by another socket, so the page cannot start.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from portwatch.config import NotifySection, Settings
from portwatch.model import DecisionType
from portwatch.sim.sandbox import Sandbox
from portwatch.sim.scenario import DEFAULT_PLACEMENT, FEVER

START = DEFAULT_PLACEMENT + FEVER.rise_start - timedelta(hours=1)  # day 4, 09:00
UNTIL = DEFAULT_PLACEMENT + FEVER.plateau + timedelta(hours=5)  # day 4, 17:00


class BrokenSandbox(Sandbox):
    """The demo's daemon with a broken caregiver URL, patient URL and page."""

    def __init__(self, caregiver_url: str, patient_url: str, page_port: int) -> None:
        super().__init__(page=True, start=START)
        self._urls = (caregiver_url, patient_url)
        self.page_port = page_port

    def settings(self) -> Settings:
        caregiver, patient = self._urls
        notify = NotifySection(caregiver_url=caregiver, patient_url=patient)
        return super().settings().model_copy(update={"notify": notify})


@pytest.fixture
def _quiet_radio() -> Iterator[None]:
    """Bumble logs every packet at DEBUG; hours of them would only slow caplog down."""
    logger = logging.getLogger("bumble")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


@pytest.fixture
async def failing_url() -> AsyncIterator[tuple[str, list[int]]]:
    """A notification URL on loopback that answers every POST with 500; counts them."""
    posts: list[int] = []

    async def fail(request: web.Request) -> web.Response:
        await request.read()
        posts.append(500)
        return web.Response(status=500, text="broken")

    app = web.Application()
    app.router.add_post("/", fail)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/", posts
    finally:
        await runner.cleanup()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


@pytest.mark.usefixtures("_quiet_radio")
async def test_clinic_gets_fever_confirmed_when_notify_url_ca_file_and_page_are_broken(
    failing_url: tuple[str, list[int]],
    taken_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each broken part fails alone, logged once; the fever still reaches the clinic."""
    patient_url, patient_posts = failing_url
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing-ca.pem"))
    caplog.set_level(logging.INFO)
    sandbox = BrokenSandbox("https://127.0.0.1:9/topic", patient_url, taken_port)
    async with sandbox:
        await sandbox.play(speed=None, until=UNTIL)
        assert sandbox.daemon is not None
        assert sandbox.daemon.web_url is None  # the page never started: its port is taken
        rows = sandbox.daemon.store.outbox_all()
        inbox = sandbox.inbox
        assert inbox is not None
        received = {alert["type"] for alert in inbox.alerts()}
    assert DecisionType.FEVER_CONFIRMED in {d.type for d in sandbox.decisions}
    assert "fever.confirmed" in received
    caregiver = [r for r in rows if r.channel == "notify"]
    assert caregiver != []
    assert all(r.status == "pending" for r in caregiver)
    assert {r.last_error for r in caregiver if r.attempts} == {"request failed locally (OSError)"}
    assert patient_posts != []  # tried, refused with 500, retried: never stopping the clinic
    failures = [r.getMessage() for r in caplog.records if "stage failed" in r.getMessage()]
    assert failures == ["page: stage failed; restarting it"]  # logged once, then at DEBUG
