"""The reference clinic inbox over real HTTP on loopback (issue 6, "portwatch inbox")."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from portwatch.alerts.fhir import fhir_body
from portwatch.alerts.payloads import (
    AlertContext,
    GatewayState,
    fever_alert,
    heartbeat_alert,
    json_body,
)
from portwatch.alerts.signing import sign_headers
from portwatch.clock import VirtualClock
from portwatch.model import Decision
from portwatch.sim.inbox import InboxStore, make_app

from .conftest import Inbox, serve


async def _post(url: str, body: str, headers: dict[str, str]) -> requests.Response:
    """A plain client POST from a worker thread, as the gateway would send it."""
    return await asyncio.to_thread(
        requests.post, url, data=body.encode(), headers=headers, timeout=10
    )


async def test_inbox_stores_alert_once_when_same_id_is_resent(
    inbox: Inbox, fever_decision: Decision, context: AlertContext, secret_key: bytes
) -> None:
    """A resend with the same webhook-id (re-signed later) answers 200 and stores nothing new."""
    body = json_body(fever_alert(fever_decision), context)
    first = await _post(inbox.url, body, sign_headers(secret_key, "a-1", body, inbox.clock.now()))
    await inbox.clock.advance(60)
    again = await _post(inbox.url, body, sign_headers(secret_key, "a-1", body, inbox.clock.now()))
    assert (first.status_code, first.json()["stored"]) == (200, True)
    assert (again.status_code, again.json()["stored"]) == (200, False)
    assert inbox.store.count() == 1


async def test_inbox_refuses_with_401_when_signature_is_forged(
    inbox: Inbox, fever_decision: Decision, context: AlertContext
) -> None:
    """A request signed with another key must never reach a nurse's list."""
    from portwatch.alerts.signing import parse_secret

    other_key = parse_secret("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY")
    body = json_body(fever_alert(fever_decision), context)
    answer = await _post(inbox.url, body, sign_headers(other_key, "a-1", body, inbox.clock.now()))
    assert answer.status_code == 401
    assert answer.json()["error"] == "forged"
    assert inbox.store.count() == 0


async def test_inbox_refuses_with_401_when_request_is_replayed_after_tolerance(
    inbox: Inbox, fever_decision: Decision, context: AlertContext, secret_key: bytes
) -> None:
    """A captured request replayed six minutes later is refused on its (inbox-clock) age."""
    body = json_body(fever_alert(fever_decision), context)
    headers = sign_headers(secret_key, "a-1", body, inbox.clock.now())
    await inbox.clock.advance(6 * 60)
    answer = await _post(inbox.url, body, headers)
    assert answer.status_code == 401
    assert answer.json()["error"] == "expired"


async def test_inbox_refuses_with_400_when_headers_are_missing(inbox: Inbox) -> None:
    """A malformed request is a client error, distinct from a forgery."""
    answer = await _post(inbox.url, "{}", {"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed"


async def test_inbox_refuses_with_400_when_signed_body_is_not_an_alert(
    inbox: Inbox, secret_key: bytes
) -> None:
    """A correctly signed but meaningless body is refused with what is missing."""
    body = '{"type": "fever.confirmed"}'
    answer = await _post(inbox.url, body, sign_headers(secret_key, "x", body, inbox.clock.now()))
    assert answer.status_code == 400
    assert "data" in answer.json()["error"]


async def test_inbox_reads_summary_when_sent_a_fhir_bundle(
    inbox: Inbox, fever_decision: Decision, context: AlertContext, secret_key: bytes
) -> None:
    """A clinic on the FHIR format sees the same summary and readings in the inbox."""
    body = fhir_body(fever_alert(fever_decision), context)
    headers = sign_headers(secret_key, str(fever_decision.id), body, inbox.clock.now())
    answer = await _post(inbox.url, body, {**headers, "Content-Type": "application/fhir+json"})
    assert answer.status_code == 200
    (alert,) = inbox.store.alerts()
    assert alert["summary"] == fever_decision.summary
    assert alert["type"] == "fhir.fever"
    assert len(alert["readings"]) == 2  # type: ignore[arg-type]


async def test_inbox_page_marks_gateway_silent_when_last_heartbeat_is_two_hours_old(
    inbox: Inbox, context: AlertContext, secret_key: bytes, fever_decision: Decision
) -> None:
    """A gateway that died must stand out on the page, and open alerts come first."""
    state = GatewayState(started_at=inbox.clock.now(), thermometer_connected=True)
    beat = json_body(heartbeat_alert(context, state, inbox.clock.now()), context)
    await _post(inbox.url, beat, sign_headers(secret_key, "hb-1", beat, inbox.clock.now()))
    body = json_body(fever_alert(fever_decision), context)
    await _post(inbox.url, body, sign_headers(secret_key, "a-1", body, inbox.clock.now()))
    await inbox.clock.advance(timedelta(hours=2).total_seconds())
    base = inbox.url.removesuffix("/webhook")
    page = await asyncio.to_thread(requests.get, f"{base}/", timeout=10)
    patients = (await asyncio.to_thread(requests.get, f"{base}/api/patients", timeout=10)).json()
    assert "<span class='silent'>silent for 2 h</span>" in page.text
    assert patients[0]["silent"] is True
    assert patients[0]["open_alerts"] == 1
    assert page.text.index("Fever confirmed") > page.text.index("Patients")


async def test_inbox_lists_open_alerts_first_when_one_is_closed(
    inbox: Inbox, context: AlertContext, secret_key: bytes, fever_decision: Decision
) -> None:
    """A nurse's list puts what still needs action on top."""
    body = json_body(fever_alert(fever_decision), context)
    for msg_id in ("old", "new"):
        await _post(inbox.url, body, sign_headers(secret_key, msg_id, body, inbox.clock.now()))
        await inbox.clock.advance(60)
    base = inbox.url.removesuffix("/webhook")
    closed = await asyncio.to_thread(
        requests.post, f"{base}/alerts/new/close", timeout=10, allow_redirects=False
    )
    alerts = (await asyncio.to_thread(requests.get, f"{base}/api/alerts", timeout=10)).json()
    assert closed.status_code == 303
    assert [(a["id"], a["open"]) for a in alerts] == [("old", True), ("new", False)]


# --- hostile input: a clear 4xx, never a 500 (issue 21) -----------------------------------


@pytest.mark.parametrize(
    ("stamp", "status", "error"),
    [
        pytest.param("999999999999", 401, "expired", id="year-33658"),
        pytest.param("253402300800", 401, "expired", id="year-10000"),
        pytest.param("²", 400, "malformed", id="superscript-two"),
        pytest.param("١٧٠٠٠٠٠٠٠٠", 400, "malformed", id="arabic-indic-digits"),
    ],
)
async def test_inbox_refuses_with_4xx_when_timestamp_is_out_of_range_or_not_ascii(
    inbox: Inbox, secret_key: bytes, stamp: str, status: int, error: str
) -> None:
    """A timestamp no clock can hold, or digits int() reads but the format does not, is
    refused as a client error; nothing is stored."""
    body = '{"type": "x"}'
    headers = sign_headers(secret_key, "a-1", body, inbox.clock.now())
    headers["webhook-timestamp"] = stamp
    answer = await asyncio.to_thread(
        requests.post,
        inbox.url,
        data=body.encode(),
        headers={k: v.encode() for k, v in headers.items()},  # type: ignore[misc]
        timeout=10,
    )
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    assert inbox.store.count() == 0


async def test_inbox_refuses_with_400_when_signed_body_holds_a_lone_surrogate(
    inbox: Inbox, fever_decision: Decision, context: AlertContext, secret_key: bytes
) -> None:
    """JSON may escape a lone surrogate ("\\ud800"); it is no text SQLite can store."""
    document = json.loads(json_body(fever_alert(fever_decision), context))
    document["data"]["summary"] = "Fever \ud800 confirmed"
    body = json.dumps(document)  # ensure_ascii: the surrogate travels as \ud800
    answer = await _post(inbox.url, body, sign_headers(secret_key, "a-1", body, inbox.clock.now()))
    assert answer.status_code == 400
    assert "surrogate" in answer.json()["error"]
    assert inbox.store.count() == 0


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/alerts"), ("POST", "/alerts/a-1/close")]
)
async def test_inbox_refuses_with_421_when_host_is_a_rebound_name(
    inbox: Inbox,
    fever_decision: Decision,
    context: AlertContext,
    secret_key: bytes,
    method: str,
    path: str,
) -> None:
    """DNS rebinding: a page at evil.example, rebound to 127.0.0.1, is same-origin with the
    inbox as far as the browser knows; the Host header still names evil.example."""
    body = json_body(fever_alert(fever_decision), context)
    await _post(inbox.url, body, sign_headers(secret_key, "a-1", body, inbox.clock.now()))
    base = inbox.url.removesuffix("/webhook")
    port = base.rsplit(":", 1)[1]
    answer = await asyncio.to_thread(
        requests.request,
        method,
        base + path,
        headers={"Host": f"evil.example:{port}"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 421
    assert "Patient" not in answer.text
    assert [a["open"] for a in inbox.store.alerts()] == [True]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        ok = await asyncio.to_thread(
            requests.get, base + "/api/alerts", headers={"Host": host}, timeout=10
        )
        assert ok.status_code == 200


async def test_inbox_answers_for_a_name_it_is_given_when_behind_the_clinics_proxy(
    tmp_path: Path, secret_key: bytes, clock: VirtualClock
) -> None:
    """``portwatch inbox --allow-host inbox.clinic.example``: that name is the inbox."""
    store = InboxStore(tmp_path / "inbox.db")
    app = make_app(secret_key, store, clock, host_names=("inbox.clinic.example",))
    runner, url = await serve(app)
    try:
        statuses = [
            (
                await asyncio.to_thread(
                    requests.get, f"{url}/api/alerts", headers={"Host": host}, timeout=10
                )
            ).status_code
            for host in ("inbox.clinic.example", "INBOX.clinic.example.:443", "evil.example")
        ]
    finally:
        await runner.cleanup()
        store.close()
    assert statuses == [200, 200, 421]
