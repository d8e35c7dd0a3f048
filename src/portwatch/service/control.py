"""The service's control API: HTTP on a Unix socket, for the commands on the same machine.

``portwatch run`` serves it on ``control.sock`` in its runtime directory
(:mod:`portwatch.service.control_socket`), mode 0660, group ``portwatch`` where that group
exists: the people who look after the Pi, in that group, use it without sudo. Plain HTTP
with JSON bodies, so ordinary tools can poke it::

    curl --unix-socket /run/portwatch/control.sock http://portwatch/v1/status
    curl --unix-socket /run/portwatch/control.sock -X POST http://portwatch/v1/pauses \\
        -H 'Content-Type: application/json' -d '{"duration_s": 1800, "reason": "shower"}'

Every path starts with the version (``/v1/``); another version is answered 404. Bodies are
validated by pydantic models that refuse unknown fields; a refusal is a 400 whose
``error`` names the field. Bodies are bounded (:data:`MAX_BODY_BYTES`, and
:data:`MAX_SMALL_BODY_BYTES` for all but readings) and must arrive within
:data:`BODY_TIMEOUT_S`; the service answers within :data:`SERVICE_TIMEOUT_S`.

=========================  ============================================================
``GET  /v1/status``        the service's status line and the pause in force
``POST /v1/readings``      ``{"readings": [...], "once": bool}``: readings in, to the rule
``POST /v1/reports``       ``{"symptoms": [...], "note": str}``: an urgent clinic alert
``POST /v1/pauses``        ``{"duration_s": n, "reason": str}``: off the body on purpose
``POST /v1/alerts/{id}/resend``  queue an alert again with the same id, sent at once
``POST /v1/purge``         ``{"before": time, "dry_run": bool}``: count or remove old rows
=========================  ============================================================
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import grp
import logging
import os
import socket
import stat
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Final, Protocol, TypeVar

from aiohttp import web
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NaiveDatetime,
    ValidationError,
)

from portwatch.log.store import StoreError
from portwatch.model import Reading, ReadingKind, Site, Special, Symptom, Unit
from portwatch.service.control_socket import API_VERSION
from portwatch.service.entrances import Refused, Taken, Unknown
from portwatch.service.watch import Pause

__all__ = [
    "BODY_TIMEOUT_S",
    "MAX_BODY_BYTES",
    "SOCKET_MODE",
    "ControlServer",
    "ControlService",
    "make_app",
]

_LOGGER = logging.getLogger(__name__)
_M = TypeVar("_M", bound=BaseModel)

SOCKET_MODE: Final = 0o660
SOCKET_GROUP: Final = "portwatch"
# A ten-day export of a wearable (one reading a minute, ~200 bytes each as JSON) is ~3 MB.
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
MAX_SMALL_BODY_BYTES: Final = 64 * 1024
MAX_READINGS: Final = 1_000_000
BODY_TIMEOUT_S: Final = 30.0
SERVICE_TIMEOUT_S: Final = 120.0
PREFIX: Final = f"/{API_VERSION}"


class ControlService(Protocol):
    """What the API asks of the service (:class:`portwatch.service.entrances.Entrances`)."""

    def now(self) -> datetime: ...

    async def take_readings(self, readings: list[Reading], *, once: bool) -> Taken: ...

    async def report_symptoms(self, symptoms: list[Symptom], note: str) -> str: ...

    async def pause(self, duration: timedelta, reason: str) -> Pause: ...

    async def resend(self, alert_id: str) -> None: ...

    async def purge(self, before: datetime, *, dry_run: bool) -> dict[str, int]: ...

    async def status(self) -> dict[str, object]: ...


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReadingIn(_Body):
    """One reading as a command parsed it.

    ``received_at``: when it reached the gateway, as the command says (a hand reading: when
    it was typed; an imported row: its own time, as if it had arrived live, which is what
    the rule is fed at a replay too); without it, when the service received it.
    """

    device: str = Field(min_length=1, max_length=200)
    kind: ReadingKind
    value: Decimal | None
    unit: Unit
    celsius: float | None
    time: AwareDatetime
    received_at: AwareDatetime | None = None
    device_time: NaiveDatetime | None = None
    site: Site | None = None
    interval_s: float | None = None
    special: Special | None = None
    raw: str = Field(default="", description="base64 of the bytes as received or typed")
    invalid_reason: str | None = None

    def reading(self, received_at: datetime) -> Reading:
        try:
            raw = base64.b64decode(self.raw, validate=True)
        except binascii.Error as exc:
            raise Refused(f"readings: raw: not base64 ({exc})") from exc
        return Reading(
            device=self.device,
            kind=self.kind,
            value=self.value,
            unit=self.unit,
            celsius=self.celsius,
            time=self.time,
            received_at=self.received_at or received_at,
            device_time=self.device_time,
            site=self.site,
            interval_s=self.interval_s,
            special=self.special,
            raw=raw,
            invalid_reason=self.invalid_reason,
        )


class ReadingsIn(_Body):
    readings: Annotated[list[ReadingIn], Field(max_length=MAX_READINGS)]
    once: bool = False  # an import: readings the log already holds are skipped


class ReportIn(_Body):
    symptoms: Annotated[list[Symptom], Field(min_length=1, max_length=len(Symptom))]
    note: str = Field(default="", max_length=2000)


class PauseIn(_Body):
    duration_s: float = Field(gt=0)
    reason: str = Field(max_length=200)


class PurgeIn(_Body):
    before: AwareDatetime
    dry_run: bool = True


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _field_errors(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "body"
        if error["type"] == "extra_forbidden":
            parts.append(f"{where}: unknown field")
        else:
            parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


async def _body(request: web.Request, model: type[_M], limit: int) -> _M:
    """The request's JSON body as ``model``.

    Raises:
        web.HTTPException: 413 too big, 408 too slow, 400 not JSON or not valid.
    """
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            raw = await request.read()
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="the body did not arrive in time") from None
    if len(raw) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise _BadRequest(_field_errors(exc)) from None


class _BadRequest(Exception):
    pass


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer JSON, every refusal one line that says what to change."""
    try:
        async with asyncio.timeout(SERVICE_TIMEOUT_S):
            return await handler(request)
    except _BadRequest as exc:
        return _problem(400, str(exc))
    except Refused as exc:
        return _problem(400, str(exc))
    except Unknown as exc:
        return _problem(404, str(exc))
    except StoreError as exc:
        return _problem(503, f"the log: {exc}")
    except TimeoutError:
        return _problem(503, "the service did not finish in time; it may still be done")
    except web.HTTPNotFound:
        return _problem(
            404, f"no such request: {request.method} {request.path} (this service speaks /v1/)"
        )
    except web.HTTPMethodNotAllowed as exc:
        return _problem(405, f"{request.method} is not allowed on {request.path} ({exc.reason})")
    except web.HTTPException as exc:
        return _problem(exc.status, exc.text or exc.reason)


def make_app(service: ControlService) -> web.Application:
    """The API's routes over ``service``."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_errors])
    routes = _Routes(service)
    app.router.add_get(f"{PREFIX}/status", routes.status)
    app.router.add_post(f"{PREFIX}/readings", routes.readings)
    app.router.add_post(f"{PREFIX}/reports", routes.reports)
    app.router.add_post(f"{PREFIX}/pauses", routes.pauses)
    app.router.add_post(f"{PREFIX}/alerts/{{alert_id}}/resend", routes.resend)
    app.router.add_post(f"{PREFIX}/purge", routes.purge)
    return app


class _Routes:
    def __init__(self, service: ControlService) -> None:
        self._service = service

    async def status(self, request: web.Request) -> web.Response:
        del request
        return web.json_response(await self._service.status())

    async def readings(self, request: web.Request) -> web.Response:
        body = await _body(request, ReadingsIn, MAX_BODY_BYTES)
        received_at = self._service.now()
        readings = [item.reading(received_at) for item in body.readings]
        taken = await self._service.take_readings(readings, once=body.once)
        return web.json_response({"ids": list(taken.ids), "already_present": taken.already_present})

    async def reports(self, request: web.Request) -> web.Response:
        body = await _body(request, ReportIn, MAX_SMALL_BODY_BYTES)
        alert_id = await self._service.report_symptoms(list(body.symptoms), body.note)
        return web.json_response({"id": alert_id})

    async def pauses(self, request: web.Request) -> web.Response:
        body = await _body(request, PauseIn, MAX_SMALL_BODY_BYTES)
        pause = await self._service.pause(timedelta(seconds=body.duration_s), body.reason)
        return web.json_response(
            {"start": pause.start.isoformat(), "end": pause.end.isoformat(), "reason": pause.reason}
        )

    async def resend(self, request: web.Request) -> web.Response:
        alert_id = request.match_info["alert_id"]
        await self._service.resend(alert_id)
        return web.json_response({"id": alert_id})

    async def purge(self, request: web.Request) -> web.Response:
        body = await _body(request, PurgeIn, MAX_SMALL_BODY_BYTES)
        counts = await self._service.purge(body.before, dry_run=body.dry_run)
        return web.json_response({"counts": counts, "dry_run": body.dry_run})


class ControlSocketError(OSError):
    """The control socket cannot be served (another service answers on it, or no bind)."""


class ControlServer:
    """Serves :func:`make_app` on a Unix socket; :meth:`start`, then :meth:`close`."""

    def __init__(self, service: ControlService, path: Path) -> None:
        self.path = path
        self._app = make_app(service)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind the socket (a stale one from a crash is replaced), mode 0660, group portwatch.

        Raises:
            ControlSocketError: another service answers on it, or it cannot be bound.
        """
        if _is_socket(self.path) and await _answers(self.path):
            raise ControlSocketError(f"another portwatch service answers on {self.path}")
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        runner = web.AppRunner(self._app, access_log=None, handler_cancellation=True)
        await runner.setup()
        try:
            await web.UnixSite(runner, str(self.path)).start()
        except OSError as exc:
            await runner.cleanup()
            raise ControlSocketError(f"cannot serve {self.path}: {exc}") from exc
        self._runner = runner
        os.chmod(self.path, SOCKET_MODE)
        _share_with_group(self.path)
        _LOGGER.info("control API on %s", self.path)

    async def close(self) -> None:
        if self._runner is None:
            return
        await self._runner.cleanup()
        self._runner = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


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
