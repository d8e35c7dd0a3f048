"""Posting one row over HTTP: requests in a worker thread, never on the event loop.

A sender never raises for a failed delivery: every failure, a broken CA file included,
comes back as an :class:`~portwatch.alerts.policy.Answer` for the Deliverer's policy.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final, Protocol

from portwatch import __version__
from portwatch.alerts.endpoints import ClinicEndpoint, NotifyEndpoint
from portwatch.alerts.policy import Answer, parse_retry_after
from portwatch.alerts.signing import sign_headers
from portwatch.log.store import OutboxRow, Priority

if TYPE_CHECKING:
    import requests

__all__ = ["ClinicSender", "HttpPoster", "Note", "NotifySender", "Sender"]

# The outer ceiling over one attempt, above requests' own timeouts, because a server that
# drips bytes can keep a read alive past the read timeout (which is per socket read).
ATTEMPT_GRACE_S: Final = 10.0
# How much of an answer's body is kept for the person reading "portwatch alerts".
ANSWER_EXCERPT_CHARS: Final = 200
# ntfy's Priority header values for our two priorities.
NOTIFY_PRIORITY: Final[Mapping[Priority, str]] = {
    Priority.URGENT: "urgent",
    Priority.ROUTINE: "default",
}
# ntfy (2.16 and later) replaces, rather than adds, a notification published again with the
# same X-Sequence-ID; it takes letters, digits, "-" and "_", at most 64 (ntfy's publish docs).
_SEQUENCE_ID: Final = re.compile(r"[-_A-Za-z0-9]{1,64}")


class Sender(Protocol):
    """Sends one row somewhere; never raises for a failed delivery, answers instead."""

    async def send(self, row: OutboxRow, now: datetime) -> Answer: ...


# --- senders ----------------------------------------------------------------------------


class HttpPoster:
    """POSTs with requests in a worker thread; one session, one request at a time."""

    def __init__(
        self,
        endpoint: ClinicEndpoint | NotifyEndpoint,
        session: requests.Session | None = None,
    ) -> None:
        import requests

        self._session = session or requests.Session()
        self._timeout = (endpoint.connect_timeout_s, endpoint.read_timeout_s)
        ca_bundle = endpoint.ca_bundle
        self._verify: bool | str = str(ca_bundle) if ca_bundle is not None else True
        self._ceiling_s = endpoint.connect_timeout_s + endpoint.read_timeout_s + ATTEMPT_GRACE_S

    def close(self) -> None:
        self._session.close()

    def _post_blocking(
        self, url: str, data: bytes, headers: Mapping[str, str]
    ) -> tuple[Answer, str | None]:
        """One POST; returns the answer and the raw Retry-After header (parsed on the loop)."""
        import requests

        try:
            response = self._session.post(
                url,
                data=data,
                headers=dict(headers),
                timeout=self._timeout,
                verify=self._verify,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError:
            return Answer(None, error="TLS verification failed"), None
        except requests.exceptions.ConnectTimeout:
            return Answer(None, error="connect timeout"), None
        except requests.exceptions.ReadTimeout:
            return Answer(None, error="read timeout"), None
        except requests.exceptions.ConnectionError:
            return Answer(None, error="connection failed"), None
        except requests.exceptions.RequestException as exc:
            # The exception text can carry the URL (a notification topic is a secret).
            return Answer(None, error=f"request failed ({type(exc).__name__})"), None
        except OSError as exc:
            # Not requests' own: e.g. a CA file that is missing or unreadable, raised as a
            # plain OSError before any byte is sent. Retried like any failure (a person may
            # fix the file) and never allowed to end the channel's delivery loop.
            return Answer(None, error=f"request failed locally ({type(exc).__name__})"), None
        with response:
            detail = response.text[:ANSWER_EXCERPT_CHARS].strip()
            return Answer(response.status_code, detail=detail), response.headers.get("Retry-After")

    async def post(
        self, url: str, data: bytes, headers: Mapping[str, str], now: datetime
    ) -> Answer:
        try:
            async with asyncio.timeout(self._ceiling_s):
                answer, retry_after = await asyncio.to_thread(
                    self._post_blocking, url, data, headers
                )
        except TimeoutError:
            return Answer(None, error="attempt timed out")
        if retry_after is None:
            return answer
        return Answer(
            status_code=answer.status_code,
            retry_after_s=parse_retry_after(retry_after, now),
            detail=answer.detail,
        )


class ClinicSender:
    """Signs and POSTs clinic rows (signed JSON or a FHIR Bundle) to the clinic endpoint.

    ``signing_time`` is the clock the ``webhook-timestamp`` is read from, at the moment of
    sending: the receiver's side of the signature, checked against the clinic's own clock
    within 5 minutes (Standard Webhooks). It is the machine's wall clock for everything
    that posts to a real clinic (``portwatch run``, ``alerts test``, ``doctor``), never the
    daemon's trusted clock, which may be counted from the placement or the log while the
    system clock is unsynchronised and would then sign every alert hours stale (the clinic
    answers 401 "expired"). The simulation, whose inbox checks signatures on virtual time,
    passes its virtual clock. There is no default, so no caller can forget to choose.
    """

    def __init__(
        self,
        endpoint: ClinicEndpoint,
        session: requests.Session | None = None,
        *,
        signing_time: Callable[[], datetime],
    ) -> None:
        self._endpoint = endpoint
        self._poster = HttpPoster(endpoint, session)
        self._signing_time = signing_time

    def close(self) -> None:
        self._poster.close()

    async def send(self, row: OutboxRow, now: datetime) -> Answer:
        """Send ``row``; ``now`` (the deliverer's clock) is not used: see the class doc."""
        del now
        return await self.send_body(str(row.id), row.body, row.content_type)

    async def send_body(self, msg_id: str, body: str, content_type: str) -> Answer:
        """Sign ``body`` as ``msg_id`` at the signing clock's now and POST it (also for
        `portwatch alerts test` and `portwatch doctor`)."""
        at = self._signing_time()
        headers = {
            "Content-Type": content_type,
            "User-Agent": f"portwatch/{__version__}",
            **sign_headers(self._endpoint.secret, msg_id, body, at),
        }
        # A Retry-After date is the clinic's clock too: measured from the same wall time.
        return await self._poster.post(self._endpoint.url, body.encode(), headers, at)


def _header_text(text: str) -> str:
    """A header value: ASCII as is, anything else as an RFC 2047 word (ntfy decodes it)."""
    if text.isascii():
        return text.replace("\r", " ").replace("\n", " ")
    import base64

    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


@dataclass(frozen=True, slots=True)
class Note:
    """One notice as a person's sender sends it; ``id`` is the outbox row's."""

    id: str
    title: str
    message: str
    priority: Priority

    @classmethod
    def of(cls, row: OutboxRow) -> Note:
        """A notify row's notice (a body that is not a notice is sent as it is)."""
        try:
            note = json.loads(row.body)
            title, message = str(note["title"]), str(note["message"])
        except (json.JSONDecodeError, KeyError, TypeError):
            title, message = "portwatch", row.body
        return cls(str(row.id), title, message, row.priority)


class NotifySender:
    """POSTs notify rows as plain text with Title and Priority headers (ntfy-style), to an
    http(s) URL (an Apprise URL goes to :class:`~portwatch.alerts.apprise_sender.AppriseSender`,
    see :mod:`portwatch.alerts.notify_url`)."""

    def __init__(self, endpoint: NotifyEndpoint, session: requests.Session | None = None) -> None:
        self._endpoint = endpoint
        self._poster = HttpPoster(endpoint, session)

    def close(self) -> None:
        self._poster.close()

    async def send(self, row: OutboxRow, now: datetime) -> Answer:
        return await self.send_note(Note.of(row), now)

    async def send_note(self, note: Note, now: datetime) -> Answer:
        """POST one notice (also for `portwatch doctor --send-notice`)."""
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Title": _header_text(note.title),
            "Priority": NOTIFY_PRIORITY.get(note.priority, "default"),
            "User-Agent": f"portwatch/{__version__}",
        }
        if _SEQUENCE_ID.fullmatch(note.id):
            # A resend (at-least-once, see Deliverer) then replaces the phone's notification
            # on ntfy 2.16+ instead of showing it twice; other receivers ignore the header.
            headers["X-Sequence-ID"] = note.id
        return await self._poster.post(self._endpoint.url, note.message.encode(), headers, now)
