"""The sandbox against an inbox it does not own: how bench_pipeline measures the daemon alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from aiohttp import web

from portwatch.alerts.signing import parse_secret
from portwatch.clock import SystemClock
from portwatch.model import Symptom
from portwatch.sim.inbox import InboxStore, make_app
from portwatch.sim.sandbox import Sandbox

SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


async def test_sandbox_delivers_to_the_given_inbox_when_clinic_is_given(tmp_path: Path) -> None:
    """The memory figure is honest only if the daemon really delivers to the other inbox."""
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    clock = SystemClock()  # the inbox checks signature times against real time, as deployed
    inbox = InboxStore(tmp_path / "inbox.db")
    runner = web.AppRunner(make_app(parse_secret(SECRET), inbox, clock), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
        placement = clock.now() - timedelta(minutes=2)
        sandbox = Sandbox(page=False, clinic=(url, secret_file), placement=placement)
        async with sandbox:
            await sandbox.play(speed=None, until=placement + timedelta(minutes=2))
            assert sandbox.daemon is not None
            alert_id = await sandbox.daemon.report_symptoms([Symptom.REDNESS], "")
            await sandbox.drain()
            assert sandbox.inbox is None  # no inbox of its own
    finally:
        await runner.cleanup()
    received = [(a["id"], a["type"]) for a in inbox.alerts()]
    inbox.close()
    assert received == [(alert_id, "symptoms.reported")]
