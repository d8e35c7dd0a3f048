"""The "now" page at a glance (issue 18): one value, one colour, one sentence of what to do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from portwatch.model import LinkEvent, LinkEventKind, Reading, ReadingKind, Unit
from portwatch.web.pages import now_page
from portwatch.web.text import now_state
from portwatch.web.view import AlertRow, DisplaySettings, EpisodeState, StatusData

PLACEMENT = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)
NOW = PLACEMENT + timedelta(days=3, hours=17)
DEVICE = "AA:BB:CC:DD:EE:FF"


def _reading(age: timedelta, celsius: float) -> Reading:
    at = NOW - age
    value = Decimal(f"{celsius:.2f}")
    return Reading(DEVICE, ReadingKind.STREAM, value, Unit.CELSIUS, celsius, at, at)


def now_status(state: str) -> StatusData:
    """A status in one of the page's states: normal, elevated, fever, stale, nodata, and a
    high last reading the rule holds no episode for (uncounted)."""
    base = StatusData(
        now=NOW,
        settings=DisplaySettings(placement=PLACEMENT),
        latest=_reading(timedelta(minutes=2), 37.1),
        link=LinkEvent(LinkEventKind.CONNECTED, DEVICE, NOW - timedelta(hours=5)),
        battery=None,
        episode_state=EpisodeState.NONE,
        episode_since=None,
        recheck_due=None,
        clinic_undelivered=(),
    )
    hot = _reading(timedelta(minutes=1), 38.9)
    return {
        "normal": base,
        "elevated": replace(
            base,
            latest=hot,
            episode_state=EpisodeState.PENDING,
            episode_since=NOW - timedelta(hours=1),
            recheck_due=NOW + timedelta(hours=3),
        ),
        "fever": replace(
            base,
            latest=hot,
            episode_state=EpisodeState.OPEN,
            episode_since=NOW - timedelta(hours=1),
        ),
        "stale": replace(base, latest=_reading(timedelta(minutes=95), 37.0)),
        "uncounted": replace(base, latest=hot),  # one high sample, no episode
        "nodata": replace(base, latest=None, link=None),
    }[state]


@pytest.mark.parametrize(
    ("state", "colour", "headline", "todo"),
    [
        ("normal", "normal", "Normal", "Nothing to do"),
        ("elevated", "elevated", "Elevated: recheck due", "Take another temperature at Sun 22"),
        ("fever", "fever", "Fever confirmed: clinic told", "The clinic has been told. If nobody"),
        ("stale", "nodata", "No data for 1 h 35 min", "Please check that the thermometer"),
        ("uncounted", "elevated", "High reading, not counted yet", "The fever rule has not"),
        ("nodata", "nodata", "No data", "No temperature yet"),
    ],
)
def test_now_state_names_colour_headline_and_one_thing_to_do(
    state: str, colour: str, headline: str, todo: str
) -> None:
    told = now_state(now_status(state))
    assert (told.colour, told.headline) == (colour, headline)
    assert told.todo.startswith(todo)
    assert told.stale is (state in ("stale", "nodata"))


def test_now_page_shows_the_value_large_with_its_age_and_greys_a_stale_one() -> None:
    page = now_page(now_status("normal"))
    assert '<section class="now s-normal" role="status">' in page
    assert '<p class="big">98.8 °F</p><p class="age">2 min ago (Sun 22 Nov 01:58 UTC)</p>' in page
    stale = now_page(now_status("stale"))
    assert 'class="now s-nodata stale"' in stale
    assert "old reading" in stale


def test_now_page_says_call_the_clinic_when_the_fever_alert_has_not_arrived() -> None:
    row = AlertRow("a", "clinic", "fever.confirmed", "urgent", NOW, "pending", 3, 503, None, None)
    told = now_state(replace(now_status("fever"), clinic_undelivered=(row,)))
    assert told.headline == "Fever confirmed: clinic NOT reached"
    assert told.todo == "The clinic has not received the alert yet: call the clinic now."


def test_now_page_never_says_normal_under_a_high_number() -> None:
    """Found by hand: a green "Normal: the temperature is normal" panel over "101.6 °F"
    while the table below said "(elevated)". Whatever the rule holds, a high last reading
    is never called normal."""
    page = now_page(now_status("uncounted"))
    assert '<section class="now s-elevated" role="status">' in page
    assert "temperature is normal" not in page
    assert "102.0 °F" in page


def _report(status: str, attempts: int) -> AlertRow:
    return AlertRow(
        "r", "clinic", "symptoms.reported", "urgent", NOW, status, attempts, 422, None, None
    )


@pytest.mark.parametrize("state", ["normal", "elevated", "fever"])
def test_now_page_says_call_the_clinic_first_when_a_symptom_report_did_not_reach_it(
    state: str,
) -> None:
    """A caregiver who reported redness believes the clinic knows; a refused report must
    not sit under "Nothing to do", nor under "the clinic has been told" of the fever."""
    for row in (_report("failed", 1), _report("pending", 2)):
        told = now_state(replace(now_status(state), clinic_undelivered=(row,)))
        plain = now_state(now_status(state))
        first = "Your symptom report has not reached the clinic"
        if state == "fever":
            assert told.todo == f"{first} (the fever alert has): call the clinic now."
        else:
            assert told.todo == f"{first}: call the clinic. {plain.todo}"
        assert (told.colour, told.headline) == (plain.colour, plain.headline)
    just_sent = replace(now_status(state), clinic_undelivered=(_report("pending", 0),))
    assert now_state(just_sent) == now_state(now_status(state))  # not tried yet: not news


def _spot(age: timedelta, celsius: float) -> Reading:
    at = NOW - age
    value = Decimal(f"{celsius:.2f}")
    return Reading(DEVICE, ReadingKind.SPOT, value, Unit.CELSIUS, celsius, at, at)


def test_now_page_shows_a_three_hour_old_spot_reading_normally_with_its_age() -> None:
    """Issue 19: a spot household's reading is hours old by design; greyed as "No data for
    3 h" it told the caregiver something was wrong several times a day."""
    status = replace(now_status("normal"), latest=_spot(timedelta(hours=3), 37.0))
    told = now_state(status)
    assert (told.colour, told.headline, told.stale) == ("normal", "Normal", False)
    page = now_page(status)
    assert "No data" not in page
    assert "old reading" not in page
    assert "3 h" in page  # its age is still shown


def test_now_page_greys_a_spot_reading_older_than_the_spot_limit() -> None:
    """The spot limit (16 h by default, the watch's) is where "No data" begins."""
    told = now_state(replace(now_status("normal"), latest=_spot(timedelta(hours=17), 37.0)))
    assert (told.colour, told.headline, told.stale) == ("nodata", "No data for 17 h 0 min", True)
    assert told.todo == "Please take a temperature now."  # not "check it is on, charged"
    settings = DisplaySettings(placement=PLACEMENT, spot_stale_after=timedelta(hours=2))
    shorter = replace(
        now_status("normal"), settings=settings, latest=_spot(timedelta(hours=3), 37.0)
    )
    assert now_state(shorter).stale
