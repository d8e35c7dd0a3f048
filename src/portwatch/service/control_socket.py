"""Where the running service's control socket is, for the service and for every command.

The service serves its control API (:mod:`portwatch.service.control`) on ``control.sock`` in
its runtime directory: ``$RUNTIME_DIRECTORY`` under systemd (``RuntimeDirectory=portwatch``
makes it ``/run/portwatch``, removed when the service stops), else, run by hand or by the
tests, the state directory beside the log. A command looks where a service would have put
it: ``$RUNTIME_DIRECTORY`` when it is set, else ``/run/portwatch`` when that directory
exists, then the state directory of the settings it was given. The first socket file found
is the one asked; none found means no service is running. A set ``$RUNTIME_DIRECTORY``
replaces ``/run/portwatch`` rather than coming before it: a service started with that
environment (a test's, on a machine where the real service also runs) is the one the
command belongs with, and a stopped one must not send its commands to the real service.

Kept free of heavy imports: every command reads it before deciding how to do its work.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

__all__ = [
    "API_VERSION",
    "SOCKET_NAME",
    "SYSTEM_RUNTIME_DIRECTORY",
    "command_socket_path",
    "service_socket_path",
]

SOCKET_NAME: Final = "control.sock"
# What systemd's RuntimeDirectory=portwatch creates (systemd/portwatch.service).
SYSTEM_RUNTIME_DIRECTORY: Final = Path("/run/portwatch")
RUNTIME_DIRECTORY_ENV: Final = "RUNTIME_DIRECTORY"
# The path prefix of every request: /v1/readings, /v1/pauses ...
API_VERSION: Final = "v1"


def _runtime_directory(environ: Mapping[str, str]) -> Path | None:
    value = environ.get(RUNTIME_DIRECTORY_ENV, "")
    # systemd may pass several directories separated by ':'; the first is ours.
    first = value.split(":")[0]
    return Path(first) if first else None


def service_socket_path(state_directory: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """Where ``portwatch run`` binds its socket: the runtime directory, else the state one."""
    runtime = _runtime_directory(environ)
    return (runtime or state_directory) / SOCKET_NAME


def command_socket_path(
    state_directory: Path,
    environ: Mapping[str, str] = os.environ,
    system_runtime: Path = SYSTEM_RUNTIME_DIRECTORY,
) -> Path | None:
    """The socket a command asks, or None when no service has one where it would be.

    ``system_runtime`` is /run/portwatch but for the tests, which cannot make that one.
    """
    runtime = _runtime_directory(environ)
    if runtime is None and system_runtime.is_dir():
        runtime = system_runtime
    candidates = [state_directory / SOCKET_NAME]
    if runtime is not None:
        candidates.insert(0, runtime / SOCKET_NAME)
    for candidate in candidates:
        try:
            if candidate.is_socket():
                return candidate
        except PermissionError:
            # Not in group portwatch: the socket is there but not for us; asking it says so.
            return candidate
    return None
