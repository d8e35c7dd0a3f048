"""The commands' side of the control API: HTTP/1.1 over the service's Unix socket.

The standard library only (HTTP/1.1 written on an ``AF_UNIX`` socket), so a command that asks
the service starts as quickly as one that does not. :func:`ask` raises
:class:`ServiceNotRunning` when no service listens (no socket, or a stale one left by a
crash: connection refused); the command then writes the log itself and says so in one line
(:data:`NOT_RUNNING`).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any, Final

from portwatch.service.control_socket import API_VERSION

__all__ = ["NOT_RUNNING", "ControlError", "ServiceNotRunning", "ask"]

# How long a command waits for the service (an import of ten days of readings included).
TIMEOUT_S: Final = 150.0
NOT_RUNNING: Final = "portwatch is not running:"


class ServiceNotRunning(Exception):
    """No service answers on the control socket; the command does the work itself."""


class ControlError(Exception):
    """The service answered with a refusal or a failure; ``message`` is its one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.message = message


def _exchange(
    path: Path, method: str, target: str, payload: bytes | None, timeout_s: float
) -> tuple[int, str, bytes]:
    """One request over the Unix socket: the answer's status, reason and body.

    The service answers one request per connection, with a ``Content-Length`` and
    ``Connection: close`` (:mod:`portwatch.service.control_server`), so reading to the end
    of the stream is the whole answer. Not ``http.client``: with the ``email`` parser and
    ``ssl`` it imports, it was a third of `portwatch status`'s start (issue 20).

    Raises:
        FileNotFoundError, ConnectionRefusedError: nobody listens on ``path``.
        OSError: the connection failed or timed out; ValueError: the answer is not HTTP.
    """
    head = f"{method} {target} HTTP/1.1\r\nHost: portwatch\r\nConnection: close\r\n"
    if payload is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        sock.connect(str(path))
        sock.sendall(head.encode("latin-1") + b"\r\n" + (payload or b""))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    finally:
        sock.close()
    return _parsed(b"".join(chunks))


def _parsed(answer: bytes) -> tuple[int, str, bytes]:
    """Status, reason and body of a whole HTTP/1.x answer with a ``Content-Length``.

    Raises:
        ValueError: not one (cut short included).
    """
    head, sep, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not sep or not version.startswith("HTTP/1.") or not code.isdigit():
        raise ValueError(f"not an HTTP answer: {answer[:60]!r}")
    fields = (line.partition(":") for line in lines[1:])
    length = {name.strip().lower(): value.strip() for name, _, value in fields}.get(
        "content-length"
    )
    if length is not None:
        if not length.isdigit() or len(body) < int(length):
            raise ValueError(f"the answer was cut short ({len(body)} of {length} bytes)")
        body = body[: int(length)]
    return int(code), reason, body


def ask(
    path: Path | None,
    method: str,
    resource: str,
    body: dict[str, Any] | None = None,
    *,
    timeout_s: float = TIMEOUT_S,
) -> dict[str, Any]:
    """One request to ``/v1/<resource>``; the service's JSON answer.

    Raises:
        ServiceNotRunning: no socket (``path`` None or missing), or nobody listens on it.
        ControlError: the service refused (4xx) or failed (5xx); its message says why.
        PermissionError: the socket is there but this user may not use it (not in group
            portwatch).
    """
    if path is None:
        raise ServiceNotRunning("no control socket")
    payload = None if body is None else json.dumps(body).encode()
    try:
        status, reason, data = _exchange(
            path, method, f"/{API_VERSION}/{resource}", payload, timeout_s
        )
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ServiceNotRunning(str(exc)) from exc
    try:
        answer: dict[str, Any] = json.loads(data or b"{}")
    except json.JSONDecodeError:
        answer = {"error": data.decode("utf-8", "replace").strip()}
    if status >= 400:
        raise ControlError(status, str(answer.get("error", reason)))
    return answer
