"""Campaign: the reference clinic inbox under attack, over real HTTP on loopback.

The inbox (``portwatch.sim.inbox.make_app``) runs on 127.0.0.1 with its own SQLite file and a
``VirtualClock``. It is sent forged, expired, replayed and tampered signatures, requests
without the signature headers, oversized bodies (with and without Content-Length), paths
that try to climb out of the routes, bodies that are not UTF-8 or not JSON, and signed
JSON documents of every wrong shape (a valid alert with one part replaced by a value of the
wrong type). Each request has the statuses it may get; a 5xx answer or a dropped
connection is a crash. Afterwards the inbox must hold exactly the valid alerts, once each,
and its page and API must still answer 200.

Counts: ``crashed`` = 5xx answers and dropped connections; ``duplicated`` = messages the
inbox stored twice or stored from a refused request; ``lost`` = valid alerts it did not
store.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import random
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from portwatch.alerts.signing import parse_secret, sign_headers
from portwatch.clock import VirtualClock
from portwatch.serving import serve
from portwatch.sim.inbox import MAX_BODY_BYTES, InboxStore, inbox_limits, make_app

NAME = "inbox under attack"
QUICK_SHAPES = 150
FULL_SHAPES = 4_000
START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
IO_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Raw:
    """One request as bytes on the wire, and the statuses it may be answered with."""

    what: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    allowed: frozenset[int]
    chunked: bool = False
    valid: bool = False  # a genuine alert that must be stored


def _document(index: int) -> dict[str, Any]:
    """A genuine signed-JSON alert body, shaped as ``payloads.json_document`` makes them."""
    return {
        "type": "fever.confirmed",
        "timestamp": "2026-11-20T12:00:00+00:00",
        "schema": 1,
        "data": {
            "id": f"alert-{index}",
            "priority": "urgent",
            "patient": "Patient/p-17",
            "recipient": "Organization/clinic",
            "summary": "Fever confirmed: 101.2 °F at 08:00 and 101.4 °F at 12:00 UTC.",
            "readings": [
                {"time": "2026-11-20T08:00:00+00:00", "value": "101.2", "unit": "F"},
                {"time": "2026-11-20T12:00:00+00:00", "value": "101.4", "unit": "F"},
            ],
            "late": False,
            "settings": {"threshold": "101.0 F"},
            "gateway": {"id": "pi-0042", "version": "0.1.0"},
        },
    }


_WRONG_VALUES: tuple[object, ...] = (
    None, 0, -1, 1.5e308, True, "", "x" * 5000, [], [1, 2], {}, {"a": None}, [None], [[]],
    "\u0000", "\ud7ff", [{"time": None}], ["not an object"],
)  # fmt: skip


def _paths(node: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def _misshape(rng: random.Random, document: dict[str, Any]) -> object:
    """The document with one part replaced by a value of a wrong type (or removed)."""
    path = rng.choice(_paths(document))
    if not path:
        return rng.choice(_WRONG_VALUES)
    result = copy.deepcopy(document)
    parent: Any = result
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and rng.random() < 0.3:
        del parent[path[-1]]
    else:
        parent[path[-1]] = rng.choice(_WRONG_VALUES)
    return result


def _fhir_misshape(rng: random.Random) -> object:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Communication",
                    "subject": {"reference": "Patient/p-17"},
                    "sender": {"reference": "Device/gw"},
                    "payload": [{"contentString": "Fever confirmed"}],
                    "reasonCode": [{"coding": [{"code": "386661006"}]}],
                }
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "effectiveDateTime": "2026-11-20T08:00:00+00:00",
                    "valueQuantity": {"value": 101.2, "code": "[degF]"},
                }
            },
        ],
    }
    return _misshape(rng, bundle)


def _signed(key: bytes, msg_id: str, body: bytes, at: datetime) -> dict[str, str]:
    text = body.decode("utf-8", errors="replace")
    headers = sign_headers(key, msg_id, text, at)
    return {"Content-Type": "application/json", **headers}


OK, REFUSED_AUTH, BAD = frozenset({200}), frozenset({401}), frozenset({400})
ABSENT = frozenset({400, 404, 405})


def _requests(key: bytes, rng: random.Random, now: datetime, shapes: int) -> list[Raw]:
    valid_body = json.dumps(_document(1)).encode()
    good = _signed(key, "alert-1", valid_body, now)
    return [
        *_signature_requests(key, now, good, valid_body),
        *_header_requests(good, valid_body),
        *_issue21_requests(key, now, good, valid_body),
        *_body_requests(key, now, good),
        *_route_requests(),
        *_shape_requests(key, rng, now, shapes),
    ]


def _signature_requests(
    key: bytes, now: datetime, good: dict[str, str], valid_body: bytes
) -> list[Raw]:
    """Genuine, replayed, tampered, forged and expired signatures."""
    other_key = parse_secret("whsec_" + base64.b64encode(secrets.token_bytes(24)).decode())
    tampered = json.dumps(_document(1)).replace("101.4", "99.1").encode()
    return [
        Raw("genuine alert", "POST", "/webhook", good, valid_body, OK, valid=True),
        Raw("replay within tolerance", "POST", "/webhook", good, valid_body, OK),
        Raw("replay to /", "POST", "/", good, valid_body, OK),
        Raw("replay, body tampered", "POST", "/webhook", good, tampered, REFUSED_AUTH),
        Raw(
            "replay under another id",
            "POST",
            "/webhook",
            {**good, "webhook-id": "alert-999"},
            valid_body,
            REFUSED_AUTH,
        ),
        Raw(
            "signed with another key",
            "POST",
            "/webhook",
            _signed(other_key, "alert-2", valid_body, now),
            valid_body,
            REFUSED_AUTH,
        ),
        Raw(
            "forged signature",
            "POST",
            "/webhook",
            {**good, "webhook-signature": "v1," + base64.b64encode(bytes(32)).decode()},
            valid_body,
            REFUSED_AUTH,
        ),
        Raw(
            "signature of another scheme",
            "POST",
            "/webhook",
            {**good, "webhook-signature": "v1a," + good["webhook-signature"][3:]},
            valid_body,
            REFUSED_AUTH,
        ),
        Raw(
            "expired (6 min old)",
            "POST",
            "/webhook",
            _signed(key, "alert-3", valid_body, now - timedelta(minutes=6)),
            valid_body,
            REFUSED_AUTH,
        ),
        Raw(
            "from the future (6 min ahead)",
            "POST",
            "/webhook",
            _signed(key, "alert-4", valid_body, now + timedelta(minutes=6)),
            valid_body,
            REFUSED_AUTH,
        ),
    ]


def _header_requests(good: dict[str, str], valid_body: bytes) -> list[Raw]:
    """Signature headers missing, or a timestamp that is not Unix seconds."""
    bad = BAD
    return [
        Raw("no signature headers", "POST", "/webhook", {}, valid_body, bad),
        Raw(
            "timestamp not a number",
            "POST",
            "/webhook",
            {**good, "webhook-timestamp": "yesterday"},
            valid_body,
            bad,
        ),
        Raw(
            "timestamp absurdly large",
            "POST",
            "/webhook",
            {**good, "webhook-timestamp": "9" * 40},
            valid_body,
            bad,
        ),
        Raw(
            "timestamp negative",
            "POST",
            "/webhook",
            {**good, "webhook-timestamp": "-1"},
            valid_body,
            bad,
        ),
    ]


def _issue21_requests(
    key: bytes, now: datetime, good: dict[str, str], valid_body: bytes
) -> list[Raw]:
    """Issue 21's reproductions: once 500s, or answered to a rebound name."""
    refused_auth, bad = REFUSED_AUTH, BAD
    surrogate = _document(9)
    surrogate["data"]["summary"] = "Fever \ud800 confirmed"
    surrogate_body = json.dumps(surrogate).encode()  # ensure_ascii: travels as \ud800
    return [
        Raw(
            "timestamp in year 33658",
            "POST",
            "/webhook",
            {**good, "webhook-timestamp": "999999999999"},
            valid_body,
            refused_auth,
        ),
        Raw(
            "timestamp in year 10000",
            "POST",
            "/webhook",
            {**good, "webhook-timestamp": "253402300800"},
            valid_body,
            refused_auth,
        ),
        Raw(
            "timestamp a superscript digit",
            "POST",
            "/webhook",
            {**good, "webhook-timestamp": "\u00b2"},
            valid_body,
            bad,
        ),
        Raw(
            "signed body holding a lone surrogate",
            "POST",
            "/webhook",
            _signed(key, "alert-9", surrogate_body, now),
            surrogate_body,
            bad,
        ),
        Raw(
            "alerts read through a rebound name",
            "GET",
            "/api/alerts",
            {"Host": "evil.example"},
            b"",
            frozenset({421}),
        ),
        Raw(
            "alert closed through a rebound name",
            "POST",
            "/alerts/alert-1/close",
            {"Host": "evil.example"},
            b"",
            frozenset({421}),
        ),
    ]


def _body_requests(key: bytes, now: datetime, good: dict[str, str]) -> list[Raw]:
    """Bodies too large, not UTF-8, not JSON, not an object, nested too deeply."""
    bad = BAD
    return [
        Raw(
            "oversized body with Content-Length",
            "POST",
            "/webhook",
            good,
            b"x" * (MAX_BODY_BYTES + 1),
            frozenset({413}),
        ),
        Raw(
            "oversized body, chunked",
            "POST",
            "/webhook",
            good,
            b"y" * (MAX_BODY_BYTES * 2),
            frozenset({413}),
            chunked=True,
        ),
        Raw(
            "body not UTF-8",
            "POST",
            "/webhook",
            _signed(key, "alert-5", b"\xff\xfe\x00", now),
            b"\xff\xfe\x00",
            bad,
        ),
        Raw(
            "signed body not JSON",
            "POST",
            "/webhook",
            _signed(key, "alert-6", b"{not json", now),
            b"{not json",
            bad,
        ),
        Raw(
            "signed body a JSON list",
            "POST",
            "/webhook",
            _signed(key, "alert-7", b"[1,2,3]", now),
            b"[1,2,3]",
            bad,
        ),
        Raw(
            "signed body deeply nested",
            "POST",
            "/webhook",
            _signed(key, "alert-8", b"[" * 100_000 + b"]" * 100_000, now),
            b"[" * 100_000 + b"]" * 100_000,
            bad,
        ),
    ]


def _route_requests() -> list[Raw]:
    """Paths that climb out, alerts that do not exist or are closed from elsewhere."""
    absent = ABSENT
    return [
        Raw("traversal ../", "GET", "/../../../../etc/passwd", {}, b"", absent),
        Raw("traversal %2e%2e", "GET", "/%2e%2e/%2e%2e/etc/passwd", {}, b"", absent),
        Raw("traversal %2f", "GET", "/api/..%2f..%2f..%2fetc%2fpasswd", {}, b"", absent),
        Raw("traversal backslash", "GET", "/..\\..\\etc\\passwd", {}, b"", absent),
        Raw("traversal in alert id", "POST", "/alerts/..%2f..%2fetc/close", {}, b"", absent),
        Raw("unknown alert closed", "POST", "/alerts/nope/close", {}, b"", frozenset({404})),
        Raw(
            "alert closed from another site",
            "POST",
            "/alerts/alert-1/close",
            {"Origin": "https://evil.example"},
            b"",
            frozenset({403}),
        ),
        Raw("wrong method", "DELETE", "/webhook", {}, b"", frozenset({405})),
        Raw("absolute URI elsewhere", "GET", "http://169.254.169.254/latest", {}, b"", absent),
    ]


def _shape_requests(key: bytes, rng: random.Random, now: datetime, shapes: int) -> list[Raw]:
    """Signed bodies of random wrong shapes: 200 when still readable, else 400."""
    requests: list[Raw] = []
    for index in range(shapes):
        msg_id = f"shape-{index}"
        shape = _fhir_misshape(rng) if index % 4 == 3 else _misshape(rng, _document(100 + index))
        body = json.dumps(shape).encode()
        requests.append(
            Raw(
                f"signed wrong shape {index}",
                "POST",
                "/webhook",
                _signed(key, msg_id, body, now),
                body,
                frozenset({200, 400}),
            )
        )
    return requests


async def _send(port: int, request: Raw) -> int | None:
    """Send one request as raw bytes (so paths reach the server unnormalised); its status."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), IO_TIMEOUT_S
    )
    try:
        host = request.headers.get("Host", f"127.0.0.1:{port}")
        head = [f"{request.method} {request.path} HTTP/1.1", f"Host: {host}"]
        head += [f"{name}: {value}" for name, value in request.headers.items() if name != "Host"]
        head.append("Connection: close")
        if request.chunked:
            head.append("Transfer-Encoding: chunked")
            chunk = 64 * 1024
            payload = b"".join(
                b"%x\r\n%s\r\n" % (len(request.body[i : i + chunk]), request.body[i : i + chunk])
                for i in range(0, len(request.body), chunk)
            )
            payload += b"0\r\n\r\n"
        else:
            head.append(f"Content-Length: {len(request.body)}")
            payload = request.body
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("utf-8"))
        writer.write(payload)
        # The server may refuse an oversized body before reading all of it.
        with contextlib.suppress(ConnectionError):
            await asyncio.wait_for(writer.drain(), IO_TIMEOUT_S)
        line = await asyncio.wait_for(reader.readline(), IO_TIMEOUT_S)
        parts = line.split()
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    except (ConnectionError, TimeoutError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), IO_TIMEOUT_S)


async def _get(port: int, path: str) -> int | None:
    return await _send(port, Raw("check", "GET", path, {}, b"", frozenset({200})))


async def _campaign(
    quick: bool, seed: int, directory: Path, report: Callable[[str], None]
) -> dict[str, Any]:

    rng = random.Random(seed)
    key = parse_secret("whsec_" + base64.b64encode(random.Random(seed).randbytes(24)).decode())
    clock = VirtualClock(START)
    store = InboxStore(directory / "inbox.db")
    served = await serve(make_app(key, store, clock), "127.0.0.1", 0, inbox_limits())
    port = served.port
    tried = crashed = wrong_status = 0
    statuses: dict[int | None, int] = {}
    try:
        requests = _requests(key, rng, clock.now(), QUICK_SHAPES if quick else FULL_SHAPES)
        for request in requests:
            tried += 1
            status = await _send(port, request)
            statuses[status] = statuses.get(status, 0) + 1
            if status is None or status >= 500:
                crashed += 1
                report(f"{request.what}: {status or 'connection dropped'}")
            elif status not in request.allowed:
                wrong_status += 1
                report(f"{request.what}: {status}, expected {sorted(request.allowed)}")
        # Replays after the tolerance are refused as expired.
        late = next(r for r in requests if r.valid)
        await clock.advance(6 * 60)
        tried += 1
        status = await _send(port, late)
        if status != 401:
            wrong_status += 1
            report(f"replay after 6 min: {status}, expected [401]")
        pages = [await _get(port, path) for path in ("/", "/api/alerts", "/api/patients")]
        for path, status in zip(("/", "/api/alerts", "/api/patients"), pages, strict=True):
            if status != 200:
                crashed += 1
                report(f"GET {path} after the attack: {status}")
        genuine = sum(1 for a in store.alerts() if a["id"] == "alert-1" and a["open"])
        refused_ids = {f"alert-{n}" for n in range(2, 9)} | {"alert-999"}
        stored_refused = sum(1 for a in store.alerts() if a["id"] in refused_ids)
    finally:
        await served.close()
        store.close()
    return {
        "tried": tried,
        "crashed": crashed,
        "wrong_status": wrong_status,
        "lost": 1 - genuine if genuine <= 1 else 0,
        "duplicated": max(0, genuine - 1) + stored_refused,
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
    }


def run(quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Attack the inbox; count 5xx answers, wrong statuses and what it stored."""
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    problems: list[str] = []

    def report(text: str) -> None:
        if len(problems) < 20:
            problems.append(text)

    with tempfile.TemporaryDirectory(prefix="portwatch-inbox-") as tmp:
        result = asyncio.run(_campaign(quick, seed, Path(tmp), report))
    passed = result["crashed"] == 0 and result["wrong_status"] == 0
    passed = passed and result["lost"] == 0 and result["duplicated"] == 0
    notes = (
        f"seed={seed}; answers {result['statuses']}; {result['wrong_status']} with a wrong "
        f"status; 5xx or dropped: {result['crashed']}"
    )
    if problems:
        notes += "; " + "; ".join(problems)
    return {"campaign": NAME, **result, "passed": passed, "seed": seed, "notes": notes}
