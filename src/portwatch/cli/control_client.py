"""The commands' side of the control API: HTTP/1.1 over the service's Unix socket.

The standard library only (``http.client`` on an ``AF_UNIX`` socket), so a command that asks
the service starts as quickly as one that does not. :func:`ask` raises
:class:`ServiceNotRunning` when no service listens (no socket, or a stale one left by a
crash: connection refused); the command then writes the log itself and says so in one line
(:data:`NOT_RUNNING`).
"""

from __future__ import annotations

import http.client
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


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("portwatch", timeout=timeout)
        self._socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._socket_path))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


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
    connection = _UnixConnection(path, timeout_s)
    payload = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if payload is not None else {}
    try:
        connection.request(method, f"/{API_VERSION}/{resource}", body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ServiceNotRunning(str(exc)) from exc
    finally:
        connection.close()
    try:
        answer: dict[str, Any] = json.loads(data or b"{}")
    except json.JSONDecodeError:
        answer = {"error": data.decode("utf-8", "replace").strip()}
    if response.status >= 400:
        raise ControlError(response.status, str(answer.get("error", response.reason)))
    return answer
