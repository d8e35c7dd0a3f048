"""The caregiver page over real HTTP on loopback, reading a real log (issue 8)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from portwatch.alerts.delivery import ClinicEndpoint, ClinicSender, Deliverer
from portwatch.alerts.payloads import ClinicFormat
from portwatch.alerts.signing import parse_secret
from portwatch.clock import VirtualClock
from portwatch.log.store import Store
from portwatch.sim.inbox import InboxStore
from portwatch.sim.inbox import make_app as make_inbox
from portwatch.web.app import SECURITY_HEADERS, WebSettings, make_app
from portwatch.web.source import ClinicTarget
from portwatch.web.view import DisplaySettings

from .conftest import PLACEMENT, TOKEN, log_in, reading

PAGES = ("/", "/chart", "/chart?day=2", "/log", "/log?day=1", "/alerts", "/report", "/summary")

Client = TestClient[object, object]


@pytest.mark.parametrize("path", PAGES)
async def test_page_answers_401_and_nothing_else_when_no_token(client: Client, path: str) -> None:
    """Health data is never shown without the token; the 401 says nothing about the patient."""
    response = await client.get(path, allow_redirects=False)
    assert response.status == 401
    assert await response.read() == b""


@pytest.mark.parametrize("path", ["/", "/nope", "/report"])
async def test_security_headers_present_when_answering(authed: Client, path: str) -> None:
    """No caching of health data, a strict CSP, no sniffing, no referrer, on every answer."""
    response = await authed.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "script-src" not in response.headers["Content-Security-Policy"]  # 'none' by default


async def test_security_headers_present_when_answering_401(client: Client) -> None:
    """The refusal itself must not be cached either."""
    response = await client.get("/")
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/chart/../../../etc/passwd",
    ],
)
async def test_path_traversal_finds_nothing_when_path_climbs_out(authed: Client, path: str) -> None:
    """No file on the Pi is reachable through the page, whatever the path says."""
    response = await authed.get(URL(path, encoded=True))  # sent as written, not normalised
    assert response.status in (400, 404)
    assert "root:" not in await response.text()


async def test_oversized_body_refused_with_413_when_posting_report(
    authed: Client, db_path: Path
) -> None:
    """A huge body is refused before it is read, and nothing is queued."""
    response = await authed.post(
        "/report", data={"symptom": "pain", "note": "x" * 64 * 1024}, allow_redirects=False
    )
    assert response.status == 413
    with Store.open_reader(db_path) as store:
        assert [r.kind for r in store.outbox_all()] == ["fever.confirmed"]


async def test_symptom_form_queues_urgent_clinic_alert_when_submitted(
    authed: Client, db_path: Path
) -> None:
    """Issue 8: the symptom form sends the clinic an urgent alert at once."""
    response = await authed.post(
        "/report",
        data=[("symptom", "redness"), ("symptom", "pus"), ("note", "yellow at the edge")],
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/report?sent=1"
    with Store.open_reader(db_path) as store:
        alerts = [r for r in store.outbox_all() if r.kind == "symptoms.reported"]
        reports = store.symptom_reports(*_wide())
    assert [(a.channel, a.priority, a.status.value) for a in alerts] == [
        ("clinic", "urgent", "pending")
    ]
    data = json.loads(alerts[0].body)["data"]
    assert data["symptoms"] == ["redness", "pus"]
    assert "yellow at the edge" in data["summary"]
    assert [(r.symptoms, r.note) for r in reports] == [((("redness", "pus")), "yellow at the edge")]
    page = await authed.get("/report?sent=1")
    assert "The clinic is alerted as urgent" in await page.text()


async def test_symptom_form_refuses_with_400_and_queues_nothing_when_no_symptom(
    authed: Client, db_path: Path
) -> None:
    """An empty report would alert the clinic about nothing."""
    response = await authed.post("/report", data={"note": "hello"}, allow_redirects=False)
    assert response.status == 400
    assert "tick at least one symptom" in await response.text()
    with Store.open_reader(db_path) as store:
        assert all(r.kind != "symptoms.reported" for r in store.outbox_all())


async def test_symptom_form_refuses_with_403_when_posted_from_another_site(
    authed: Client,
) -> None:
    """A page elsewhere must not be able to alert the clinic in the caregiver's name."""
    response = await authed.post(
        "/report",
        data={"symptom": "pain"},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert response.status == 403


async def test_now_page_shows_day_fever_and_battery_when_fever_confirmed(authed: Client) -> None:
    """The status a caregiver opens first: where we are, whether there is a fever."""
    text = await (await authed.get("/")).text()
    assert "day 3 of 10" in text
    assert "CONFIRMED since" in text
    assert "battery 77 %" in text
    assert "1 alert not yet received by the clinic" in text


async def test_chart_page_shows_threshold_decisions_gap_and_pause_when_whole_period(
    authed: Client,
) -> None:
    """The chart carries every mark the issue names."""
    text = await (await authed.get("/chart")).text()
    assert 'class="threshold"' in text
    assert 'data-type="fever.confirmed"' in text
    assert 'class="gap"' in text
    assert ">shower</text>" in text
    assert text.count('class="elevated"') >= 2
    assert '<a href="/chart?day=10">Day 10</a>' in text


async def test_chart_page_refuses_with_400_when_day_is_not_a_number(authed: Client) -> None:
    """A bad zoom is the caller's mistake, not a server error."""
    response = await authed.get("/chart?day=abc")
    assert response.status == 400


async def test_log_page_marks_elevated_reading_and_lists_decisions_when_day_two(
    authed: Client,
) -> None:
    """The log shows the fever readings marked and the rule's decisions interleaved."""
    text = await (await authed.get("/log?day=2")).text()
    assert "elevated 101.3 °F" in text
    assert "Fever confirmed: 101.3 °F at Thu 19 Nov 15:00 UTC and 101.5 °F at" in text
    assert "fever.confirmed" not in text  # issue 18: no internal names in human text
    # Every day of the period is a link (18 Nov 09:00 + 10 days ends on the 11th date).
    days = re.findall(r'<a href="/log\?day=(\d+)">Day \1</a>', text)
    assert days == [str(n) for n in range(1, 12)]
    assert '<a href="/log">Last 24 hours</a>' in text


async def test_log_page_summarises_stream_per_window_when_day_one(authed: Client) -> None:
    """A one-per-minute stream is listed as the rule's 5-minute observations, not 1,440 lines."""
    text = await (await authed.get("/log?day=1&events=0")).text()
    assert "(median of 5 samples)" in text
    assert text.count("<tr") < 24 * 12 + 5


async def test_alerts_page_lists_alert_and_its_delivery_when_pending(authed: Client) -> None:
    """The caregiver sees what was sent and whether the clinic has it."""
    text = await (await authed.get("/alerts")).text()
    assert "Fever confirmed: 101.3 °F then 101.5 °F" in text
    assert "pending, not tried yet" in text


async def test_summary_page_shows_episode_and_device_when_fever_in_period(
    authed: Client,
) -> None:
    """The clinic's check sees the episode, the thermometer and the curve."""
    text = await (await authed.get("/summary")).text()
    assert "<b>still open</b>" in text
    assert "AA:BB:CC:DD:EE:FF" in text
    assert "<svg" in text


def _wide() -> tuple[object, object]:
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


async def test_alerts_page_shows_fhir_communication_summary_when_clinic_takes_fhir(
    db_path: Path, display: DisplaySettings, target: ClinicTarget, clock: VirtualClock
) -> None:
    """A FHIR clinic's alert is listed by its sentence, not by an opaque Bundle."""
    fhir_target = replace(target, format=ClinicFormat.FHIR)
    app = make_app(db_path, WebSettings(token=TOKEN), display, fhir_target, clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await log_in(client, db_path, clock.now())
        sent = await client.post("/report", data={"symptom": "bleeding"}, allow_redirects=False)
        assert sent.status == 303
        text = await (await client.get("/alerts")).text()
    assert "Patient reports bleeding at the port site." in text
    with Store.open_reader(db_path) as store:
        row = next(r for r in store.outbox_all() if r.kind == "symptoms.reported")
    assert row.content_type == "application/fhir+json"


async def test_symptom_form_reaches_reference_inbox_when_deliverer_flushes(
    authed: Client, db_path: Path, clock: VirtualClock
) -> None:
    """The whole way: the form, the outbox, the alerts stage's sender, the clinic's inbox."""
    secret = parse_secret("whsec_" + base64.b64encode(b"k" * 32).decode())
    inbox_store = InboxStore(db_path.parent / "inbox.db")
    runner = web.AppRunner(make_inbox(secret, inbox_store, clock))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sender: ClinicSender | None = None
    try:
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        sent = await authed.post(
            "/report", data={"symptom": "warmth", "note": "hot to touch"}, allow_redirects=False
        )
        assert sent.status == 303
        endpoint = ClinicEndpoint(f"http://127.0.0.1:{port}/webhook", ClinicFormat.JSON, secret)
        sender = ClinicSender(endpoint, signing_time=clock.now)
        with Store.open(db_path) as outbox:
            deliverer = Deliverer(outbox, {"clinic": sender}, clock, lambda *a: None)
            await deliverer.flush()
            row = next(r for r in outbox.outbox_all() if r.kind == "symptoms.reported")
        assert row.status == "delivered"
        received = [a for a in inbox_store.alerts() if a["type"] == "symptoms.reported"]
        assert [a["summary"] for a in received] == [
            "Patient reports warmth at the port site: hot to touch"
        ]
    finally:
        if sender is not None:
            sender.close()
        await runner.cleanup()
        inbox_store.close()


async def test_chart_marks_elevated_spot_reading_when_no_decision_cites_it(
    authed: Client, db_path: Path
) -> None:
    """Every elevated spot reading is marked, not only those the rule cited, with its exact
    value in both units and its time in an SVG title (a tooltip without JavaScript)."""
    with Store.open(db_path) as store:
        store.add_readings([reading(PLACEMENT + timedelta(hours=12), 38.4)])
    text = await (await authed.get("/chart")).text()
    assert "<title>elevated observation 101.1 °F (38.4 °C) at Wed 18 Nov 21:00 UTC</title>" in text


async def test_now_page_says_so_when_the_services_clock_is_not_synchronised(
    db_path: Path, display: DisplaySettings, target: ClinicTarget
) -> None:
    """The page the caregiver reads shows the same "Clock" line as `portwatch status`: with
    the clock never synchronised the day number and reminders are counted from the log,
    and the page said nothing of it. The service's own clock (a TrustedClock that has
    never seen the system clock synchronised) is what the app is given."""
    from portwatch.service.timekeeping import TrustedClock

    from .conftest import NOW

    for synchronised, said in ((False, True), (True, False)):
        clock = TrustedClock(
            VirtualClock(NOW), synchronised=lambda s=synchronised: s,
            last_trusted=NOW, not_before=PLACEMENT,
        )  # fmt: skip
        app = make_app(db_path, WebSettings(token=TOKEN), display, target, clock)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await log_in(client, db_path, NOW)
            page = await (await client.get("/")).text()
        assert ("not synchronised: times, the day and reminders" in page) is said
