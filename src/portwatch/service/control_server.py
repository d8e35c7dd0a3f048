"""HTTP/1.1 on a Unix socket for the control API (:mod:`portwatch.service.control`).

A small server on asyncio's streams, one request per connection (``Connection: close``),
``Content-Length`` bodies only, so that ``curl --unix-socket`` and ``http.client`` work and
the daemon loads no web framework for it (issue 9: aiohttp alone is ~12 MiB of the Pi's
60 MB; it loads only when the caregiver's page is configured). Bounded: request line and
headers (:data:`HEAD_LIMIT`), the body (:data:`~portwatch.service.control.MAX_BODY_BYTES`),
and the time a client may take to send them (:data:`REQUEST_TIMEOUT_S`).

The socket is made mode 0660 and given to group ``portwatch`` when that group exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import logging
import os
import socket
import stat
from http import HTTPStatus
from pathlib import Path
from typing import Final

from portwatch.service.control import MAX_BODY_BYTES, ControlApi, ControlService

__all__ = ["SOCKET_MODE", "ControlServer", "ControlSocketError"]

_LOGGER = logging.getLogger(__name__)

SOCKET_MODE: Final = 0o660
SOCKET_GROUP: Final = "portwatch"
# The request line and each header at most this long; at most this many headers.
HEAD_LIMIT: Final = 8192
MAX_HEADERS: Final = 64
# A client has this long to send its whole request (a large import included).
REQUEST_TIMEOUT_S: Final = 60.0


class ControlSocketError(OSError):
    """The control socket cannot be served (another service answers on it, or no bind)."""


class _BadHttp(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ControlServer:
    """Serves :class:`~portwatch.service.control.ControlApi` on a Unix socket.

    :meth:`start` binds it (a stale socket from a crash is replaced), :meth:`close` ends it.
    """

    def __init__(self, service: ControlService, path: Path) -> None:
        self.path = path
        self._api = ControlApi(service)
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Bind the socket, mode 0660, group portwatch.

        Raises:
            ControlSocketError: another service answers on it, or it cannot be bound.
        """
        if _is_socket(self.path) and await _answers(self.path):
            raise ControlSocketError(f"another portwatch service answers on {self.path}")
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        try:
            self._server = await asyncio.start_unix_server(
                self._connection, path=str(self.path), limit=HEAD_LIMIT
            )
        except OSError as exc:
            raise ControlSocketError(f"cannot serve {self.path}: {exc}") from exc
        os.chmod(self.path, SOCKET_MODE)
        _share_with_group(self.path)
        _LOGGER.info("control API on %s", self.path)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answer: dict[str, object]
        try:
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT_S):
                    method, target, body = await _request(reader, writer)
            except TimeoutError:
                status, answer = 408, {"error": "the request did not arrive in time"}
            except _BadHttp as exc:
                status, answer = exc.status, {"error": exc.message}
            else:
                status, answer = await self._api.answer(method, target, body)
            await _respond(writer, status, answer)
        except (ConnectionError, asyncio.IncompleteReadError):
            _LOGGER.debug("control: a client went away mid-request")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[str, str, bytes]:
    """Method, target and body of one request.

    Raises:
        _BadHttp: a request that is not HTTP/1.x, too large, or without a length for its body.
    """
    try:
        line = (await reader.readuntil(b"\r\n")).decode("latin-1").strip()
        method, target, version = line.split(" ")
    except (ValueError, asyncio.LimitOverrunError) as exc:
        raise _BadHttp(400, "not an HTTP/1.1 request line") from exc
    if not version.startswith("HTTP/1."):
        raise _BadHttp(505, "HTTP/1.x only")
    headers = await _headers(reader)
    if "transfer-encoding" in headers:
        raise _BadHttp(411, "send the body with a Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        raise _BadHttp(400, "Content-Length is not a number") from None
    if not 0 <= length <= MAX_BODY_BYTES:
        raise _BadHttp(413, f"the body has {length} bytes; at most {MAX_BODY_BYTES} are taken")
    if length and headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for it before a body
        await writer.drain()
    return method, target, await reader.readexactly(length)


async def _headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        try:
            line = (await reader.readuntil(b"\r\n")).decode("latin-1").strip()
        except asyncio.LimitOverrunError as exc:
            raise _BadHttp(431, "a header is too long") from exc
        if not line:
            return headers
        name, sep, value = line.partition(":")
        if not sep:
            raise _BadHttp(400, f"not a header: {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    raise _BadHttp(431, "too many headers")


async def _respond(writer: asyncio.StreamWriter, status: int, answer: dict[str, object]) -> None:
    body = json.dumps(answer).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + body)
    await writer.drain()


def _share_with_group(path: Path) -> None:
    """Give the socket to group portwatch when it exists and is not already its group."""
    try:
        gid = grp.getgrnam(SOCKET_GROUP).gr_gid
    except KeyError:
        return
    if path.stat().st_gid != gid:
        try:
            os.chown(path, -1, gid)
        except OSError as exc:
            _LOGGER.warning("control socket %s: cannot give it to group %s: %s", path, gid, exc)


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except FileNotFoundError:
        return False


async def _answers(path: Path) -> bool:
    """Whether a live server accepts connections on ``path`` (False: none, or stale)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(probe, str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True
