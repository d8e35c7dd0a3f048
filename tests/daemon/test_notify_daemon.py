"""The running daemon's notices: quiet hours and each reader's URL (issue 7).

The daemon runs as `portwatch run` wires it, through the demo's Sandbox (the Bumble virtual
radio with a CORE wearable, the link, the log, the rule, delivery), with its settings given
a caregiver URL, a patient URL and quiet hours. The two URLs are loopback receivers that
note the simulated time each notice arrives at. The day-4 fever of the demo's course rises
inside the quiet hours chosen here (11:00-13:00 in the patient's zone, UTC in the demo).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import pytest
from aiohttp import web

from portwatch.alerts.notices import NOTICES, Audience, NoticeKind
from portwatch.clock import VirtualClock
from portwatch.config import NotifySection, QuietHours, Settings
from portwatch.model import DecisionType
from portwatch.sim.sandbox import Sandbox
from portwatch.sim.scenario import DEFAULT_PLACEMENT, FEVER

DAY4 = DEFAULT_PLACEMENT.date() + timedelta(days=3)
START = DEFAULT_PLACEMENT + FEVER.rise_start - timedelta(hours=1)  # day 4, 09:00
UNTIL = DEFAULT_PLACEMENT + FEVER.plateau + timedelta(hours=5)  # day 4, 17:00
QUIET = QuietHours(start=time(11, 0), end=time(13, 0))
QUIET_END = datetime.combine(DAY4, QUIET.end, tzinfo=DEFAULT_PLACEMENT.tzinfo)
PATIENT_ONLY = {
    NOTICES[kind].title for kind in NoticeKind if NOTICES[kind].audiences == {Audience.PATIENT}
}


@dataclass
class Receiver:
    """A notification URL on loopback: (simulated time, Title) of each notice it took."""

    url: str = ""
    got: list[tuple[datetime, str]] = field(default_factory=list)

    def titled(self, title: str) -> list[datetime]:
        return [at for at, text in self.got if text == title]


class NotifyingSandbox(Sandbox):
    """The demo's daemon with both notification URLs and quiet hours set."""

    def __init__(self, caregiver: Receiver, patient: Receiver) -> None:
        super().__init__(page=False, start=START)
        self._urls = (caregiver, patient)

    def settings(self) -> Settings:
        caregiver, patient = self._urls
        notify = NotifySection(
            caregiver_url=caregiver.url, patient_url=patient.url, quiet_hours=QUIET
        )
        return super().settings().model_copy(update={"notify": notify})


@pytest.fixture
def _quiet_radio() -> Iterator[None]:
    """Bumble logs every packet at DEBUG; hours of them would only slow caplog down."""
    logger = logging.getLogger("bumble")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


async def _serve(receiver: Receiver, clock: VirtualClock, runners: list[web.AppRunner]) -> None:
    async def take(request: web.Request) -> web.Response:
        await request.read()
        receiver.got.append((clock.now(), request.headers.get("Title", "")))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    runners.append(runner)
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/"


@pytest.fixture
async def played(_quiet_radio: None) -> AsyncIterator[tuple[Sandbox, Receiver, Receiver]]:
    runners: list[web.AppRunner] = []
    caregiver, patient = Receiver(), Receiver()
    sandbox = NotifyingSandbox(caregiver, patient)
    try:
        for receiver in (caregiver, patient):
            await _serve(receiver, sandbox.clock, runners)
        async with sandbox:
            await sandbox.play(speed=None, until=UNTIL)
            yield sandbox, caregiver, patient
    finally:
        for runner in runners:
            await runner.cleanup()


async def test_daemon_holds_first_high_reading_notice_until_quiet_end_when_fever_rises_at_night(
    played: tuple[Sandbox, Receiver, Receiver],
) -> None:
    """The rule's non-urgent notice waits for 13:00; the confirmed fever goes at once."""
    sandbox, caregiver, _ = played
    decided = {d.type: d.time for d in sandbox.decisions}
    assert QUIET_END - timedelta(hours=2) < decided[DecisionType.ELEVATED_FIRST] < QUIET_END
    high = [at for at, text in caregiver.got if text.startswith("Temperature high")]
    assert high == [QUIET_END]
    (confirmed,) = caregiver.titled(NOTICES[NoticeKind.FEVER_CONFIRMED_CAREGIVER].title)
    assert confirmed - decided[DecisionType.FEVER_CONFIRMED] < timedelta(minutes=1)


async def test_daemon_sends_patient_notices_to_patient_url_only_when_patient_url_set(
    played: tuple[Sandbox, Receiver, Receiver],
) -> None:
    """The patient hears of the fever on their own URL; the caregiver's gets none of theirs."""
    _, caregiver, patient = played
    assert patient.titled(NOTICES[NoticeKind.FEVER_CONFIRMED_PATIENT].title) != []
    assert PATIENT_ONLY & {text for _, text in caregiver.got} == set()
    caregiver_only = {t for _, t in caregiver.got} - {t for _, t in patient.got}
    assert NOTICES[NoticeKind.FEVER_CONFIRMED_CAREGIVER].title in caregiver_only
