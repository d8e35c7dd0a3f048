"""Pushes reach a real HTTP server on loopback with ntfy's headers; failures are typed."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from portwatch.notices import NoticeKind, render
from portwatch.push import PushError, push_request, send_push

FACTS = {"temperature": "101.4 °F", "time": "Tue 14:05", "first_time": "Tue 10:00"}


class Inbox:
    """A loopback HTTP receiver standing in for ntfy; answers with a chosen status."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict[str, str], str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.text()))
        return web.Response(status=self.status)


@pytest.fixture
async def inbox() -> AsyncIterator[tuple[Inbox, str]]:
    box = Inbox()
    app = web.Application()
    app.router.add_post("/{topic}", box.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield box, f"http://127.0.0.1:{port}/caregiver-topic"
    finally:
        await runner.cleanup()


async def test_push_arrives_with_title_priority_and_text_when_accepted(
    inbox: tuple[Inbox, str],
) -> None:
    """The phone shows the title and text as written, at the notice's priority."""
    box, url = inbox
    notice = render(NoticeKind.FEVER_CONFIRMED_CAREGIVER, FACTS)
    async with aiohttp.ClientSession() as session:
        assert await send_push(session, url, notice, timeout_s=5) == 200
    ((headers, text),) = box.received
    assert headers["Title"] == "Fever confirmed: clinic told"
    assert headers["Priority"] == "5"
    assert text == notice.text


def test_non_ascii_title_is_rfc2047_encoded_when_built() -> None:
    """HTTP headers are not UTF-8; ntfy decodes RFC 2047 titles."""
    notice = render(
        NoticeKind.DAILY_SUMMARY,
        {"day": "4", "status": "37.1 °C · normal", "readings": "3", "temperature": "37.2 °C"},
    )
    title = push_request(notice).headers["Title"]
    assert title.startswith("=?UTF-8?B?")
    assert base64.b64decode(title[10:-2]).decode() == "Day 4: 37.1 °C · normal"


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (403, False)])
async def test_failure_says_whether_to_retry_when_server_refuses(
    inbox: tuple[Inbox, str], status: int, retryable: bool
) -> None:
    """alerts.md: 429 and 5xx are retried; other 4xx need a person to fix the setup."""
    box, url = inbox
    box.status = status
    async with aiohttp.ClientSession() as session:
        with pytest.raises(PushError) as info:
            await send_push(session, url, render(NoticeKind.CARE_FLUSH, {}), timeout_s=5)
    assert (info.value.status, info.value.retryable) == (status, retryable)
    assert "caregiver-topic" not in str(info.value)


async def test_connection_refused_is_retryable_when_nobody_listens() -> None:
    """A phone service that is down is retried, not dropped."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(PushError) as info:
            await send_push(
                session, "http://127.0.0.1:9/x", render(NoticeKind.CARE_FLUSH, {}), timeout_s=5
            )
    assert info.value.retryable
