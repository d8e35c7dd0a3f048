"""The service's control API: HTTP on a Unix socket, for the commands on the same machine.

``portwatch run`` serves it (:mod:`portwatch.service.control_server`) on ``control.sock``
in its runtime directory (:mod:`portwatch.service.control_socket`), mode 0660, group
``portwatch`` where that group exists: the people who look after the Pi, in that group,
use it without sudo. Plain HTTP/1.1 with JSON bodies, so ordinary tools can poke it::

    curl --unix-socket /run/portwatch/control.sock http://portwatch/v1/status
    curl --unix-socket /run/portwatch/control.sock -X POST http://portwatch/v1/pauses \\
        -H 'Content-Type: application/json' -d '{"duration_s": 1800, "reason": "shower"}'

Every path starts with the version (``/v1/``); another version is answered 404. Bodies are
validated by pydantic models that refuse unknown fields; a refusal is a 400 whose
``error`` names the field. Bodies are bounded (:data:`MAX_BODY_BYTES`, and
:data:`MAX_SMALL_BODY_BYTES` for all but readings); the service answers within
:data:`SERVICE_TIMEOUT_S`. This module is what the requests mean; the server is HTTP only.

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
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Final, Protocol, TypeVar

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

__all__ = ["MAX_BODY_BYTES", "MAX_SMALL_BODY_BYTES", "ControlApi", "ControlService", "Problem"]

_M = TypeVar("_M", bound=BaseModel)

# A ten-day export of a wearable (one reading a minute, ~200 bytes each as JSON) is ~3 MB.
MAX_BODY_BYTES: Final = 64 * 1024 * 1024
MAX_SMALL_BODY_BYTES: Final = 64 * 1024
MAX_READINGS: Final = 1_000_000
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


class Problem(Exception):
    """A request answered with an error: its HTTP status and one line that says what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _field_errors(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "body"
        if error["type"] == "extra_forbidden":
            parts.append(f"{where}: unknown field")
        else:
            parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _body(raw: bytes, model: type[_M], limit: int) -> _M:
    """The request's JSON body as ``model``.

    Raises:
        Problem: 413 too big, 400 not JSON or not valid (naming each field).
    """
    if len(raw) > limit:
        raise Problem(413, f"the body has {len(raw)} bytes; at most {limit} are taken here")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise Problem(400, _field_errors(exc)) from None


Route = Callable[[bytes, dict[str, str]], Awaitable[dict[str, object]]]


class ControlApi:
    """The requests the service answers; ``await answer(method, path, body)``."""

    def __init__(self, service: ControlService) -> None:
        self._service = service
        self._routes: list[tuple[str, re.Pattern[str], Route]] = [
            ("GET", re.compile(rf"^{PREFIX}/status$"), self.status),
            ("POST", re.compile(rf"^{PREFIX}/readings$"), self.readings),
            ("POST", re.compile(rf"^{PREFIX}/reports$"), self.reports),
            ("POST", re.compile(rf"^{PREFIX}/pauses$"), self.pauses),
            ("POST", re.compile(rf"^{PREFIX}/alerts/(?P<alert_id>[^/]+)/resend$"), self.resend),
            ("POST", re.compile(rf"^{PREFIX}/purge$"), self.purge),
        ]

    async def answer(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, object]]:
        """The status and JSON answer to one request; every refusal one line (``error``)."""
        try:
            route, params = self._route(method, path)
            async with asyncio.timeout(SERVICE_TIMEOUT_S):
                return 200, await route(body, params)
        except Problem as exc:
            return exc.status, {"error": exc.message}
        except Refused as exc:
            return 400, {"error": str(exc)}
        except Unknown as exc:
            return 404, {"error": str(exc)}
        except StoreError as exc:
            return 503, {"error": f"the log: {exc}"}
        except TimeoutError:
            return 503, {"error": "the service did not finish in time; it may still be done"}

    def _route(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = []
        for verb, pattern, route in self._routes:
            match = pattern.match(urllib.parse.unquote(path.split("?")[0]))
            if match is None:
                continue
            if verb == method:
                return route, match.groupdict()
            allowed.append(verb)
        if allowed:
            raise Problem(405, f"{method} is not allowed on {path}; use {', '.join(allowed)}")
        raise Problem(404, f"no such request: {method} {path} (this service speaks {PREFIX}/)")

    async def status(self, body: bytes, params: dict[str, str]) -> dict[str, object]:
        del body, params
        return await self._service.status()

    async def readings(self, body: bytes, params: dict[str, str]) -> dict[str, object]:
        request = _body(body, ReadingsIn, MAX_BODY_BYTES)
        received_at = self._service.now()
        readings = [item.reading(received_at) for item in request.readings]
        taken = await self._service.take_readings(readings, once=request.once)
        # "now": the service's clock, so a command can say when it is not its own (an
        # unsynchronised gateway times its thermometer's readings on it).
        return {
            "ids": list(taken.ids),
            "already_present": taken.already_present,
            "now": received_at.isoformat(),
        }

    async def reports(self, body: bytes, params: dict[str, str]) -> dict[str, object]:
        request = _body(body, ReportIn, MAX_SMALL_BODY_BYTES)
        alert_id = await self._service.report_symptoms(list(request.symptoms), request.note)
        return {"id": alert_id}

    async def pauses(self, body: bytes, params: dict[str, str]) -> dict[str, object]:
        request = _body(body, PauseIn, MAX_SMALL_BODY_BYTES)
        pause = await self._service.pause(timedelta(seconds=request.duration_s), request.reason)
        return {
            "start": pause.start.isoformat(),
            "end": pause.end.isoformat(),
            "reason": pause.reason,
        }

    async def resend(self, body: bytes, params: dict[str, str]) -> dict[str, object]:
        del body
        await self._service.resend(params["alert_id"])
        return {"id": params["alert_id"]}

    async def purge(self, body: bytes, params: dict[str, str]) -> dict[str, object]:
        request = _body(body, PurgeIn, MAX_SMALL_BODY_BYTES)
        counts = await self._service.purge(request.before, dry_run=request.dry_run)
        return {"counts": counts, "dry_run": request.dry_run}
