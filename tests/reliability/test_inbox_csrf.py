"""Another web page cannot mark a clinic alert as handled (security review, issue 10).

The inbox page has a "mark handled" form that posts to ``/alerts/{id}/close``. A page on any
other site open in the nurse's browser could post the same form to the loopback inbox; the
browser says where a request comes from (``Sec-Fetch-Site``, ``Origin``) and the inbox must
refuse it. Real HTTP on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from portwatch.clock import VirtualClock
from portwatch.sim.inbox import InboxStore, Message, make_app

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[tuple[str, InboxStore]]:
    store = InboxStore(tmp_path / "inbox.db")
    store.add(
        Message("a-1", "fever.confirmed", "Patient/p-17", "urgent", "Fever.", (), "pi", "x", "{}"),
        NOW,
    )
    runner = web.AppRunner(make_app(b"k" * 24, store, VirtualClock(NOW)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", store
    finally:
        await runner.cleanup()
        store.close()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Origin": "https://evil.example"}, id="other-origin"),
        pytest.param({"Origin": "null"}, id="opaque-origin"),
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="fetch-metadata-cross-site"),
    ],
)
async def test_inbox_refuses_close_with_403_when_the_post_comes_from_another_site(
    inbox: tuple[str, InboxStore], headers: dict[str, str]
) -> None:
    """The alert must stay open: a closed alert is one no nurse looks at again."""
    url, store = inbox
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/alerts/a-1/close", headers=headers, allow_redirects=False) as answer,
    ):
        assert answer.status == 403
    assert store.alerts()[0]["open"] is True


async def test_inbox_closes_alert_when_the_post_comes_from_its_own_page(
    inbox: tuple[str, InboxStore],
) -> None:
    """The inbox's own form (same origin) still works."""
    url, store = inbox
    headers = {"Origin": url, "Sec-Fetch-Site": "same-origin"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/alerts/a-1/close", headers=headers, allow_redirects=False) as answer,
    ):
        assert answer.status == 303
    assert store.alerts()[0]["open"] is False
