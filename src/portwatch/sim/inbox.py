"""A reference clinic inbox: receives signed alerts, stores each once, lists them.

For a clinic that has no FHIR server yet, for the demo and for the tests (issue 6). An
aiohttp server with its own SQLite file. Every request's Standard Webhooks signature is
checked on the clock it is given (5-minute tolerance); forged, expired and malformed
requests are refused; a resend with a known ``webhook-id`` answers 200 and stores nothing.

Routes:
    ``POST /webhook`` (also ``POST /``): a signed JSON body or FHIR transaction Bundle.
    ``GET /``: the page: patients with their last heartbeat, open alerts first.
    ``GET /api/patients``, ``GET /api/alerts``: the same as JSON.
    ``POST /alerts/{id}/close``: a nurse marks an alert as handled, from the inbox's own
    page only (a cross-site post is refused with 403).

The page has no login: keep it on loopback (the default) or behind the clinic's own access
control. A request whose ``Host`` is not an address literal, ``localhost`` or a name given as
``host_names`` is refused with 421, so a web page whose name is rebound to 127.0.0.1 (DNS
rebinding) can neither read ``/api/alerts`` nor close an alert. ``portwatch inbox`` serves it
within :func:`inbox_limits` (:mod:`portwatch.serving`: connection cap, head and body deadlines).

SQLite is called on the event loop: a reference inbox sees a few requests an hour, and one
connection on one thread keeps the store simple.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from portwatch.alerts.signing import SignatureError, SignatureProblem, verify
from portwatch.clock import Clock

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.typedefs import Handler, Middleware

    from portwatch.serving import ServerLimits

__all__ = ["SILENT_AFTER", "InboxError", "InboxStore", "Message", "make_app", "parse_message"]

_LOGGER = logging.getLogger(__name__)

# Heartbeats come every 15 min (alerts.md); two missed in a row makes a gateway "silent".
SILENT_AFTER: Final = timedelta(minutes=30)
# An alert body is a few kilobytes; refuse anything far larger before reading it.
MAX_BODY_BYTES: Final = 1 << 20
SIGNATURE_STATUS: Final[Mapping[SignatureProblem, HTTPStatus]] = {
    SignatureProblem.MALFORMED: HTTPStatus.BAD_REQUEST,
    SignatureProblem.EXPIRED: HTTPStatus.UNAUTHORIZED,
    SignatureProblem.FORGED: HTTPStatus.UNAUTHORIZED,
}
HEARTBEAT_TYPE: Final = "gateway.heartbeat"


def inbox_limits() -> ServerLimits:
    """The inbox server's bounds (issue 21): a clinic's gateways post a few times an hour."""
    from portwatch.serving import ServerLimits

    return ServerLimits(name="inbox", max_connections=128, fd_reserve=128, per_peer=16)


SNOMED_FEVER: Final = "386661006"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS messages (
    webhook_id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    patient TEXT NOT NULL,
    priority TEXT NOT NULL,
    summary TEXT NOT NULL,
    readings TEXT NOT NULL,
    gateway TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE INDEX IF NOT EXISTS messages_patient ON messages (patient, type, received_at);
"""


class InboxError(ValueError):
    """A request body that verifies but cannot be read as an alert (says what is missing)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One received alert or heartbeat, as the inbox keeps it."""

    webhook_id: str
    type: str
    patient: str
    priority: str
    summary: str
    readings: tuple[Mapping[str, object], ...]
    gateway: str
    content_type: str
    body: str


def _require(mapping: object, key: str, where: str) -> Any:
    if not isinstance(mapping, Mapping):
        raise InboxError(f"{where} is not a JSON object")
    if key not in mapping:
        raise InboxError(f"{where}: missing {key!r}")
    return mapping[key]


def _text(mapping: object, key: str, where: str, default: str | None = None) -> str:
    """A non-empty string field (or ``default`` when absent and one is given)."""
    if default is not None and isinstance(mapping, Mapping) and key not in mapping:
        return default
    value = _require(mapping, key, where)
    if not isinstance(value, str) or not value.strip():
        raise InboxError(f"{where}.{key} must be a non-empty string")
    return value


def _objects(value: object, where: str) -> list[Mapping[str, Any]]:
    """A JSON list whose items are all objects."""
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise InboxError(f"{where} must be a list of JSON objects")
    return value


def _parse_json_alert(msg_id: str, document: Mapping[str, Any], body: str) -> Message:
    data = _require(document, "data", "body")
    return Message(
        webhook_id=msg_id,
        type=_text(document, "type", "body"),
        patient=_text(data, "patient", "data"),
        priority=_text(data, "priority", "data", default="routine"),
        summary=_text(data, "summary", "data"),
        readings=tuple(_objects(data.get("readings", []), "data.readings")),
        gateway=_text(_require(data, "gateway", "data"), "id", "data.gateway"),
        content_type="application/json",
        body=body,
    )


def _codes(resource: Mapping[str, Any], where: str) -> set[str]:
    codes: set[str] = set()
    for concept in _objects(resource.get("reasonCode", []), f"{where}.reasonCode"):
        for coding in _objects(concept.get("coding", []), f"{where}.reasonCode.coding"):
            code = coding.get("code")
            if code is not None and not isinstance(code, str):
                raise InboxError(f"{where}.reasonCode.coding.code must be a string")
            if code is not None:
                codes.add(code)
    return codes


def _parse_fhir_bundle(msg_id: str, document: Mapping[str, Any], body: str) -> Message:
    entries = _objects(_require(document, "entry", "Bundle"), "Bundle.entry")
    resources = [_require(e, "resource", "Bundle.entry") for e in entries]
    _objects(resources, "Bundle.entry.resource")
    communications = [r for r in resources if r.get("resourceType") == "Communication"]
    if len(communications) != 1:
        raise InboxError(f"Bundle: expected one Communication, found {len(communications)}")
    com = communications[0]
    readings = []
    for resource in resources:
        if resource.get("resourceType") != "Observation":
            continue
        quantity = resource.get("valueQuantity", {})
        if not isinstance(quantity, Mapping):
            raise InboxError("Observation.valueQuantity is not a JSON object")
        readings.append(
            {
                "time": resource.get("effectiveDateTime"),
                "value": str(quantity.get("value")),
                "unit": quantity.get("code"),
            }
        )
    payload = _objects(_require(com, "payload", "Communication"), "Communication.payload")
    if not payload:
        raise InboxError("Communication.payload is empty")
    return Message(
        webhook_id=msg_id,
        type="fhir.fever" if SNOMED_FEVER in _codes(com, "Communication") else "fhir.communication",
        patient=_text(_require(com, "subject", "Communication"), "reference", "subject"),
        priority=_text(com, "priority", "Communication", default="routine"),
        summary=_text(payload[0], "contentString", "Communication.payload"),
        readings=tuple(readings),
        gateway=_text(_require(com, "sender", "Communication"), "reference", "sender"),
        content_type="application/fhir+json",
        body=body,
    )


def parse_message(msg_id: str, body: str) -> Message:
    """Read a verified body: our signed JSON, or a FHIR transaction Bundle.

    Raises:
        InboxError: not JSON, or not one of the two shapes (the message says what is missing
            or of the wrong type).
    """
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InboxError(f"body is not JSON (line {exc.lineno}, column {exc.colno})") from exc
    except RecursionError as exc:
        raise InboxError("body nests too deeply to be an alert") from exc
    if not isinstance(document, dict):
        raise InboxError("body is not a JSON object")
    try:
        # JSON may escape a lone surrogate ("\\ud800"): valid JSON, but no text SQLite (or
        # any UTF-8 reader downstream) can hold, so it is refused here, not at the INSERT.
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InboxError("body holds a lone surrogate escape (such as \\ud800), not text") from exc
    if document.get("resourceType") == "Bundle":
        return _parse_fhir_bundle(msg_id, document, body)
    return _parse_json_alert(msg_id, document, body)


class InboxStore:
    """The inbox's own SQLite file: one row per ``webhook-id``, never two."""

    def __init__(self, path: Path | str) -> None:
        # Alerts carry patients' temperatures: the file is the inbox user's alone (0600),
        # as the gateway's log is; SQLite gives its journal the same mode.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def add(self, message: Message, received_at: datetime) -> bool:
        """Store a message unless its ``webhook-id`` is known; True when it was new."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO messages (webhook_id, type, patient, priority, summary,"
            " readings, gateway, content_type, body, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.webhook_id,
                message.type,
                message.patient,
                message.priority,
                message.summary,
                json.dumps(list(message.readings)),
                message.gateway,
                message.content_type,
                message.body,
                received_at.astimezone(UTC).isoformat(),
            ),
        )
        return cursor.rowcount == 1

    def count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM messages").fetchone()
        return int(row[0])

    def close_alert(self, webhook_id: str, at: datetime) -> bool:
        cursor = self._db.execute(
            "UPDATE messages SET closed_at = ? WHERE webhook_id = ? AND closed_at IS NULL",
            (at.astimezone(UTC).isoformat(), webhook_id),
        )
        return cursor.rowcount == 1

    def alerts(self) -> list[dict[str, object]]:
        """Every alert but heartbeats: open ones first, newest first within each group."""
        rows = self._db.execute(
            "SELECT webhook_id, type, patient, priority, summary, readings, gateway,"
            " received_at, closed_at FROM messages WHERE type != ?"
            " ORDER BY closed_at IS NOT NULL, received_at DESC",
            (HEARTBEAT_TYPE,),
        ).fetchall()
        return [
            {
                "id": r["webhook_id"],
                "type": r["type"],
                "patient": r["patient"],
                "priority": r["priority"],
                "summary": r["summary"],
                "readings": json.loads(r["readings"]),
                "gateway": r["gateway"],
                "received_at": r["received_at"],
                "open": r["closed_at"] is None,
            }
            for r in rows
        ]

    def patients(self, now: datetime) -> list[dict[str, object]]:
        """Each patient with their last heartbeat and whether the gateway has gone silent."""
        rows = self._db.execute(
            "SELECT patient,"
            " max(CASE WHEN type = ? THEN received_at END) AS last_heartbeat,"
            " sum(CASE WHEN type != ? AND closed_at IS NULL THEN 1 ELSE 0 END) AS open_alerts"
            " FROM messages GROUP BY patient ORDER BY patient",
            (HEARTBEAT_TYPE, HEARTBEAT_TYPE),
        ).fetchall()
        result: list[dict[str, object]] = []
        for row in rows:
            last = row["last_heartbeat"]
            silent_s: float | None = None
            if last is not None:
                silent_s = max(0.0, (now - datetime.fromisoformat(last)).total_seconds())
            result.append(
                {
                    "patient": row["patient"],
                    "last_heartbeat": last,
                    "silent_s": silent_s,
                    "silent": silent_s is None or silent_s >= SILENT_AFTER.total_seconds(),
                    "open_alerts": int(row["open_alerts"]),
                }
            )
        return result


def _silence_text(silent_s: float | None) -> str:
    if silent_s is None:
        return "no heartbeat yet"
    minutes = int(silent_s // 60)
    if minutes < 120:
        return f"silent for {minutes} min"
    return f"silent for {minutes // 60} h"


def render_page(patients: list[dict[str, object]], alerts: list[dict[str, object]]) -> str:
    """The inbox page: silent gateways and open alerts stand out (plain HTML, no scripts)."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>portwatch inbox</title>",
        "<style>body{font-family:sans-serif;margin:2em}.silent{color:#b00;font-weight:bold}"
        ".open{border-left:4px solid #b00;padding-left:.5em}.closed{color:#666}</style>",
        "</head><body><h1>portwatch inbox</h1><h2>Patients</h2><ul>",
    ]
    for p in patients:
        silent_s = p["silent_s"]
        text = _silence_text(silent_s if isinstance(silent_s, float) else None)
        css = "silent" if p["silent"] else "ok"
        parts.append(
            f"<li>{esc(str(p['patient']))}: <span class='{css}'>{esc(text)}</span>,"
            f" {p['open_alerts']} open alert(s)</li>"
        )
    parts.append("</ul><h2>Alerts</h2>")
    for a in alerts:
        css = "open" if a["open"] else "closed"
        parts.append(
            f"<div class='{css}'><p><b>{esc(str(a['priority']))}</b> {esc(str(a['type']))}"
            f" for {esc(str(a['patient']))} at {esc(str(a['received_at']))}:"
            f" {esc(str(a['summary']))}</p><ul>"
        )
        readings = a["readings"]
        for r in readings if isinstance(readings, list) else []:
            parts.append(
                f"<li>{esc(str(r.get('time')))}: {esc(str(r.get('value')))}"
                f" {esc(str(r.get('unit')))}</li>"
            )
        parts.append("</ul>")
        if a["open"]:
            parts.append(
                f"<form method='post' action='/alerts/{esc(str(a['id']))}/close'>"
                "<button>mark handled</button></form>"
            )
        parts.append("</div>")
    parts.append("</body></html>")
    return "".join(parts)


def _cross_site(headers: Mapping[str, str], host: str) -> bool:
    """Whether a browser says the request comes from another site (Fetch Metadata, Origin)."""
    if headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = headers.get("Origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc != host


def _host_check(names: tuple[str, ...]) -> Middleware:
    """Refuse a request whose Host is a name this inbox was not told it has (DNS rebinding:
    a page whose name now points at 127.0.0.1 could otherwise read and close alerts)."""
    from aiohttp import web

    from portwatch.serving import host_allowed

    @web.middleware
    async def host_check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not host_allowed(request.headers.get("Host"), names):
            _LOGGER.info("refused a request for another host name from %s", request.remote)
            return web.json_response({"error": "unknown host name"}, status=421)
        return await handler(request)

    return host_check


def _receiver(key: bytes, store: InboxStore, clock: Clock) -> Handler:
    """``POST /webhook``: verify, read, store once; every refusal a 4xx naming why."""
    from aiohttp import web

    async def receive(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        now = clock.now()
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response({"error": "body is not UTF-8"}, status=400)
        try:
            msg_id = verify(key, request.headers, body, now)
        except SignatureError as exc:
            _LOGGER.info("refused a request from %s: %s", request.remote, exc.problem.value)
            status = SIGNATURE_STATUS[exc.problem]
            return web.json_response({"error": exc.problem.value}, status=status)
        try:
            message = parse_message(msg_id, body)
        except InboxError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        stored = store.add(message, now)
        _LOGGER.info("%s %s (%s)", "stored" if stored else "already had", msg_id, message.type)
        return web.json_response({"id": msg_id, "stored": stored})

    return receive


def make_app(
    key: bytes, store: InboxStore, clock: Clock, *, host_names: tuple[str, ...] = ()
) -> web.Application:
    """The inbox as an aiohttp application; ``key`` is the HMAC key of the shared secret.

    ``host_names``: names the inbox is reached by (besides address literals and
    ``localhost``), e.g. ``inbox.clinic.example`` behind the clinic's proxy.
    """
    from aiohttp import web

    receive = _receiver(key, store, clock)

    async def page(request: web.Request) -> web.Response:
        del request
        body = render_page(store.patients(clock.now()), store.alerts())
        return web.Response(text=body, content_type="text/html")

    async def api_alerts(request: web.Request) -> web.Response:
        del request
        return web.json_response(store.alerts())

    async def api_patients(request: web.Request) -> web.Response:
        del request
        return web.json_response(store.patients(clock.now()))

    async def close(request: web.Request) -> web.Response:
        if _cross_site(request.headers, request.host):
            # Any page a nurse has open could post this form to a loopback inbox and mark
            # an alert handled; only the inbox's own page may.
            _LOGGER.info("refused a cross-site close from %s", request.remote)
            return web.json_response({"error": "cross-site request"}, status=403)
        if not store.close_alert(request.match_info["id"], clock.now()):
            return web.json_response({"error": "no such open alert"}, status=404)
        raise web.HTTPSeeOther("/")

    app = web.Application(middlewares=[_host_check(host_names)], client_max_size=MAX_BODY_BYTES)
    app.add_routes(
        [
            web.post("/", receive),
            web.post("/webhook", receive),
            web.get("/", page),
            web.get("/api/alerts", api_alerts),
            web.get("/api/patients", api_patients),
            web.post("/alerts/{id}/close", close),
        ]
    )
    return app
