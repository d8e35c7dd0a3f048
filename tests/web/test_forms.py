"""The page's hand-reading and pause forms (issue 19), over real HTTP into the real log.

Without a running service (make_app alone) the forms write the log themselves, as the
commands do; tests/web/test_setup_browser.py drives them through the running daemon.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from portwatch.clock import VirtualClock
from portwatch.log.store import Store
from portwatch.model import MANUAL_DEVICE, Unit

Client = TestClient[object, object]
EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _manual(db_path: Path) -> list[tuple[Decimal | None, Unit, str | None]]:
    with Store.open_reader(db_path) as store:
        rows = store.readings(EVER[0], EVER[1], device=MANUAL_DEVICE)
    return [(r.reading.value, r.reading.unit, r.reading.site) for r in rows]


async def test_reading_form_records_manual_spot_reading_when_valid(
    authed: Client, db_path: Path
) -> None:
    response = await authed.post(
        "/reading",
        data={"temperature": "38.4", "unit": "C", "at": "", "site": "mouth"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == "/record?done=reading"
    assert _manual(db_path) == [(Decimal("38.4"), Unit.CELSIUS, "mouth")]
    page = await (await authed.get("/record?done=reading")).text()
    assert "Recorded." in page


@pytest.mark.parametrize(
    ("temperature", "unit", "said"),
    [
        ("38,4", "C", "write a dot, not a comma (38.4)"),
        ("3.84", "C", "impossible for a person"),
        ("50", "C", "impossible for a person"),
        ("38.4", "F", "impossible for a person"),  # the wrong unit chosen
        ("", "C", "type the temperature"),
        ("hot", "C", "not a number"),
    ],
)
async def test_reading_form_refuses_with_reason_and_records_nothing_when_typing_error(
    authed: Client, db_path: Path, temperature: str, unit: str, said: str
) -> None:
    response = await authed.post(
        "/reading", data={"temperature": temperature, "unit": unit}, allow_redirects=False
    )
    assert response.status == 400
    assert said in await response.text()
    assert _manual(db_path) == []


async def test_reading_form_takes_unit_typed_in_the_number_when_given(
    authed: Client, db_path: Path
) -> None:
    response = await authed.post(
        "/reading", data={"temperature": "101.2 F", "unit": "C"}, allow_redirects=False
    )
    assert response.status == 303
    assert _manual(db_path) == [(Decimal("101.2"), Unit.FAHRENHEIT, None)]


async def test_reading_form_times_hh_mm_on_the_patients_clock_when_given(
    authed: Client, db_path: Path, clock: VirtualClock
) -> None:
    """'HH:MM' is the last such time on the patient's clock (UTC in these fixtures)."""
    now = clock.now()
    earlier = now - timedelta(hours=2)
    response = await authed.post(
        "/reading",
        data={"temperature": "38.0", "unit": "C", "at": f"{earlier:%H:%M}"},
        allow_redirects=False,
    )
    assert response.status == 303
    with Store.open_reader(db_path) as store:
        rows = store.readings(now - timedelta(hours=3), now, device=MANUAL_DEVICE)
    assert [r.reading.time for r in rows] == [earlier.replace(second=0, microsecond=0)]


async def test_pause_form_records_note_until_end_when_chosen(
    authed: Client, db_path: Path, clock: VirtualClock
) -> None:
    response = await authed.post(
        "/pause", data={"duration": "45m", "reason": "bath"}, allow_redirects=False
    )
    assert response.status == 303
    now = clock.now()
    with Store.open_reader(db_path) as store:
        notes = store.notes(now - timedelta(minutes=1), now + timedelta(hours=1))
    assert [(n.end - n.start, n.reason) for n in notes] == [(timedelta(minutes=45), "bath")]
    # The page says until when, on the patient's clock (the fixture's zone is UTC).
    page = await (await authed.get(response.headers["Location"])).text()
    until = now + timedelta(minutes=45)
    assert f"Paused until {until:%a %d %b %H:%M} UTC: no “thermometer silent”" in page
    for hostile in ("", "x", "١٢٣", "9" * 40):
        page = await (await authed.get(f"/record?done=pause&until={hostile}")).text()
        assert "Paused. No “thermometer silent” notice until the pause ends" in page


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"duration": "3h", "reason": "bath"}, "choose how long"),
        ({"duration": "30m", "reason": " "}, "say why"),
    ],
)
async def test_pause_form_refuses_when_not_offered_or_no_reason(
    authed: Client, data: dict[str, str], said: str
) -> None:
    response = await authed.post("/pause", data=data, allow_redirects=False)
    assert response.status == 400
    assert said in await response.text()


@pytest.mark.parametrize("path", ["/reading", "/pause"])
async def test_forms_refuse_post_from_another_site_when_origin_differs(
    authed: Client, db_path: Path, path: str
) -> None:
    response = await authed.post(
        path,
        data={"temperature": "38.4", "unit": "C", "duration": "30m", "reason": "x"},
        headers={"Origin": "http://evil.example"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert _manual(db_path) == []


@pytest.mark.parametrize("path", ["/reading", "/pause"])
async def test_forms_answer_401_without_cookie(client: Client, path: str) -> None:
    response = await client.post(path, data={"temperature": "38.4"}, allow_redirects=False)
    assert response.status == 401


async def test_record_page_has_both_forms_and_no_script(authed: Client) -> None:
    text = await (await authed.get("/record")).text()
    assert 'action="/reading"' in text
    assert 'action="/pause"' in text
    assert "<script" not in text
    assert 'inputmode="decimal"' in text


async def test_refused_forms_come_back_as_they_were_filled_in(authed: Client) -> None:
    """After a typing error the caregiver corrects the one thing the message names: what
    was typed, chosen and ticked is still there (a long symptom note is never lost)."""
    response = await authed.post(
        "/reading", data={"temperature": "38,4", "unit": "C", "at": "07:45", "site": "ear"}
    )
    assert response.status == 400
    page = await response.text()
    assert 'value="38,4"' in page
    assert 'value="07:45"' in page
    assert '<option value="ear" selected>' in page
    response = await authed.post("/pause", data={"duration": "1h", "reason": ""})
    assert response.status == 400
    assert '<option value="1h" selected>' in await response.text()
    note = 'Red & swollen since <b>noon</b>, "worse" tonight'
    response = await authed.post("/report", data={"symptom": "bogus", "note": note})
    assert response.status == 400
    page = await response.text()
    assert "Red &amp; swollen since &lt;b&gt;noon&lt;/b&gt;, &quot;worse&quot; tonight" in page
    response = await authed.post("/report", data=[("symptom", "pain"), ("symptom", "other")])
    page = await response.text()
    assert "say what" in page
    assert page.count(" checked>") == 2
    assert 'value="pain" checked>' in page
