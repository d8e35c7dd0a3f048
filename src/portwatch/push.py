"""Sending one notice to a phone: a plain POST of short text, ntfy-style headers.

alerts.md: the caregiver and patient are reached through an optional notification URL,
"a plain POST of a short text, which phone push services such as ntfy accept". The body
is the text (UTF-8); ``Title`` and ``Priority`` (1-5) ride in headers, the title encoded
as RFC 2047 when it is not ASCII (ntfy decodes it; HTTP headers are not UTF-8).

:func:`push_request` is pure; :func:`send_push` makes one attempt and raises
:class:`PushError` saying whether a retry can help. Retrying with backoff belongs to
the outbox, exactly as for clinic alerts.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Final

import aiohttp

from portwatch.notices import Notice

__all__ = ["PushError", "PushRequest", "push_request", "send_push"]

# alerts.md, Delivery: 408, 429 and 5xx are worth retrying; other 4xx are permanent.
RETRYABLE_STATUS: Final = frozenset({408, 429})


class PushError(ValueError):
    """A push was not accepted; ``retryable`` says whether trying again can help."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True, slots=True)
class PushRequest:
    """Headers and body of one push."""

    headers: dict[str, str]
    body: bytes


def _header_text(text: str) -> str:
    if text.isascii():
        return text
    encoded = base64.b64encode(text.encode()).decode("ascii")
    return f"=?UTF-8?B?{encoded}?="


def push_request(notice: Notice) -> PushRequest:
    """The POST for ``notice``: title and priority in headers, the text as the body."""
    headers = {
        "Title": _header_text(notice.title),
        "Priority": str(int(notice.priority)),
        "Tags": "rotating_light" if notice.urgent else "thermometer",
        "Content-Type": "text/plain; charset=utf-8",
    }
    return PushRequest(headers, notice.text.encode())


async def send_push(
    session: aiohttp.ClientSession, url: str, notice: Notice, *, timeout_s: float
) -> int:
    """POST ``notice`` to ``url`` once; returns the 2xx status.

    Raises:
        PushError: on a non-2xx answer, a timeout or a connection error (``retryable``
            set for 408, 429, 5xx, timeouts and connection errors).
    """
    request = push_request(notice)
    try:
        async with session.post(
            url,
            data=request.body,
            headers=request.headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            status = response.status
    except TimeoutError as exc:
        raise PushError(f"push to {_host(url)} timed out", retryable=True) from exc
    except aiohttp.ClientError as exc:
        raise PushError(
            f"push to {_host(url)} failed: {type(exc).__name__}", retryable=True
        ) from exc
    if 200 <= status < 300:
        return status
    retryable = status in RETRYABLE_STATUS or status >= 500
    raise PushError(f"push to {_host(url)} answered {status}", retryable=retryable, status=status)


def _host(url: str) -> str:
    # The topic in the path may be the only secret a ntfy URL has: name the host only.
    return url.split("/")[2] if "://" in url else "the notification URL"
