"""Sending a notice through Apprise: e-mail, SMS gateways, Signal, Telegram, ... (issue 19).

The same :class:`~portwatch.alerts.posting.Sender` as the ntfy POST, so the outbox, the
Deliverer's retries, its per-channel queues, quiet hours and de-duplication are the same
for every kind of URL: this module only turns one row into one Apprise ``notify()``.

Apprise answers True or False, nothing more: True is recorded as :data:`ACCEPTED_STATUS`
(the Deliverer's "delivered"), False as an answer without a status, which the Deliverer
retries with backoff and escalates like a clinic server that does not answer. What went
wrong is in Apprise's own log lines (the journal), never in the answer: its text goes to
the outbox, and an Apprise URL holds a password or a token.

Apprise blocks (SMTP, HTTP): each send runs in a worker thread, like the ntfy POST, under
an outer ceiling. Each send builds its own Apprise service from the URL, so a send that
outlives its ceiling in its thread shares nothing with the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from portwatch.alerts.endpoints import NotifyEndpoint
from portwatch.alerts.mail_identity import pinned_message_id
from portwatch.alerts.notify_url import NotifyTransport, build_apprise, scheme_of
from portwatch.alerts.policy import Answer
from portwatch.alerts.posting import ATTEMPT_GRACE_S, Note, NotifySender
from portwatch.log.store import OutboxRow, Priority

__all__ = ["ACCEPTED_STATUS", "AppriseSender", "NotifyChannelSender", "notify_sender"]

# What an accepted notice is recorded as: Apprise gives no status, and the Deliverer
# records a delivery with a 2xx one. 202 Accepted says what Apprise's True means: the mail
# server (or the service) took the notice for delivery.
ACCEPTED_STATUS: Final = 202
# Apprise's notify types for our priorities (a service may show them as a colour or icon).
APPRISE_TYPE: Final[Mapping[Priority, str]] = {
    Priority.URGENT: "warning",
    Priority.ROUTINE: "info",
}


class AppriseSender:
    """Sends notify rows through Apprise: the title as the subject, the message as the text.

    Never raises for a failed delivery: Apprise's False, an exception from one of its
    services, or a send past the ceiling each come back as a retryable answer.
    """

    def __init__(self, endpoint: NotifyEndpoint) -> None:
        self._url = endpoint.url
        self._scheme = scheme_of(endpoint.url)
        # Apprise's own timeouts (15 s to connect by default) end a send; this ceiling
        # only stops a send that would hold the channel's queue past them.
        self._ceiling_s = endpoint.connect_timeout_s + endpoint.read_timeout_s + ATTEMPT_GRACE_S

    def close(self) -> None:
        """Nothing is kept open between sends."""

    def _notify_blocking(self, note: Note) -> Answer:
        from apprise import NotifyFormat, NotifyType

        service = build_apprise(self._url, quiet=False)  # its log tells why a send failed
        if service is None:  # checked when the settings were loaded; not expected here
            return Answer(None, error=f"Apprise cannot use the {self._scheme}:// URL")
        # E-mail: the row's own Message-ID on every attempt (portwatch.alerts.mail_identity).
        mail = type(service).__module__.startswith("apprise.plugins.email")
        try:
            with pinned_message_id(note.id) if mail else contextlib.nullcontext():
                sent = service.notify(
                    body=note.message,
                    title=note.title,
                    notify_type=NotifyType(APPRISE_TYPE.get(note.priority, "info")),
                    body_format=NotifyFormat.TEXT,
                )
        except Exception as exc:  # noqa: BLE001 (a service's bug must not end the channel)
            return Answer(None, error=f"{self._scheme}:// send failed ({type(exc).__name__})")
        if sent:
            return Answer(ACCEPTED_STATUS, detail=f"accepted by {self._scheme}://")
        return Answer(None, error=f"{self._scheme}:// not accepted (see the apprise log lines)")

    async def send(self, row: OutboxRow, now: datetime) -> Answer:
        return await self.send_note(Note.of(row), now)

    async def send_note(self, note: Note, now: datetime) -> Answer:
        """Send one notice (also for `portwatch doctor --send-notice`); its id is sent only
        as an e-mail's Message-ID (no other Apprise service de-duplicates by one)."""
        del now
        try:
            async with asyncio.timeout(self._ceiling_s):
                return await asyncio.to_thread(self._notify_blocking, note)
        except TimeoutError:
            return Answer(None, error="attempt timed out")


NotifyChannelSender = NotifySender | AppriseSender


def notify_sender(endpoint: NotifyEndpoint) -> NotifyChannelSender:
    """The sender for a person's URL: the ntfy POST for http(s), Apprise for any other
    scheme (:mod:`portwatch.alerts.notify_url`)."""
    if endpoint.transport is NotifyTransport.NTFY:
        return NotifySender(endpoint)
    return AppriseSender(endpoint)
