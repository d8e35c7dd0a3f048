"""Real notification receivers on loopback for the Apprise tests (issue 19).

A mail server (aiosmtpd, plain SMTP with a login, on the test's own event loop) and an
ntfy-compatible topic (aiohttp, like the receivers in test_notify_routes.py), each noting
what it took. Nothing is mocked: Apprise speaks SMTP to the one, our NotifySender HTTP to
the other.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .conftest import serve

MAIL_USER = "portwatch"
# A throwaway password for the loopback mail server: a test looks for it in every answer
# and every log line, where it must never appear.
MAIL_PASSWORD = "pw-Zq81-never-shown"
MAIL_FROM = "portwatch@example.org"
MAIL_TO = "carer@example.org"


@dataclass
class Mailbox:
    """A mail server on loopback: the messages it took, with the virtual time of each."""

    port: int = 0
    now: Callable[[], datetime] | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    taken_at: list[datetime] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def url(self, *, to: str = MAIL_TO) -> str:
        """The Apprise URL that sends here: plain SMTP with a login (loopback only)."""
        return (
            f"mailto://{MAIL_USER}:{MAIL_PASSWORD}@127.0.0.1:{self.port}"
            f"?from={MAIL_FROM}&to={to}&mode=insecure"
        )

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        del server, session
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        if self.now is not None:
            self.taken_at.append(self.now())
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        del server, session, envelope, mechanism
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = (data.login.decode(), data.password.decode())
        self.logins.append(login)
        return AuthResult(success=login == (MAIL_USER, MAIL_PASSWORD))


@asynccontextmanager
async def mailbox(now: Callable[[], datetime] | None = None) -> AsyncIterator[Mailbox]:
    """A :class:`Mailbox` listening on 127.0.0.1 (a free port) until the block ends."""
    box = Mailbox(now=now)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(
            box,
            hostname="mail.test",
            auth_require_tls=False,  # loopback only: no TLS to set up in a test
            authenticator=box.authenticate,
            loop=loop,
        ),
        "127.0.0.1",
        0,
    )
    box.port = server.sockets[0].getsockname()[1]
    try:
        yield box
    finally:
        server.close()
        await server.wait_closed()


def refused_port() -> int:
    """A loopback port nobody listens on (bound, then let go): connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Topic:
    """An ntfy-compatible topic on loopback: each POST's headers and text, as it came."""

    url: str = ""
    now: Callable[[], datetime] | None = None
    posts: list[tuple[dict[str, str], str]] = field(default_factory=list)
    taken_at: list[datetime] = field(default_factory=list)

    def titles(self) -> list[str]:
        return [headers.get("Title", "") for headers, _ in self.posts]

    async def take(self, request: web.Request) -> web.Response:
        text = await request.text()
        self.posts.append((dict(request.headers), text))
        if self.now is not None:
            self.taken_at.append(self.now())
        return web.json_response({"id": str(len(self.posts)), "event": "message"})


@asynccontextmanager
async def topic(now: Callable[[], datetime] | None = None) -> AsyncIterator[Topic]:
    """A :class:`Topic` at ``http://127.0.0.1:PORT/portwatch-test`` until the block ends."""
    got = Topic(now=now)
    app = web.Application()
    app.router.add_post("/portwatch-test", got.take)
    runner, base = await serve(app)
    got.url = f"{base}/portwatch-test"
    try:
        yield got
    finally:
        await runner.cleanup()
