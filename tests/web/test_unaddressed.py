"""Notices with no notification address set up are said plainly, never shown as failing.

The daemon queues the caregiver's notices whether or not a notification address is set
up (alerts.md, "Who is told what"); without one they are never tried. Shown red as
"pending, not tried yet" they told a caregiver something was failing when nothing was
meant to be sent. Every view now says "not sent: no notification address is set up",
neutrally, and counts them apart from the notices that wait to be sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from portwatch.alerts.outbox import notify_entry
from portwatch.config import Settings
from portwatch.log.store import Store
from portwatch.model import derived_id
from portwatch.web.pages import alerts_page, now_page
from portwatch.web.settings import display_settings
from portwatch.web.source import alert_rows, delivery, status_data
from portwatch.web.text import status_json, status_text
from portwatch.web.view import AlertRow, DisplaySettings

from .conftest import NOW
from .test_settings import settings  # noqa: F401 - the settings file's fixture

NOT_SENT = "not sent: no notification address is set up"
NOT_SENT_ROW = "not sent: no address set up"  # in a table, under the line that says it all


def _queue_notices(db_path: Path, count: int = 3) -> None:
    """`count` caregiver notices, queued as the daemon queues them, never tried."""
    with Store.open(db_path) as store:
        store.enqueue(
            [
                notify_entry(
                    str(derived_id("notice", str(i))),
                    "fever.confirmed.caregiver",
                    "urgent",
                    "Fever confirmed: clinic told",
                    "The clinic has been told.",
                    NOW - timedelta(hours=i + 1),
                )
                for i in range(count)
            ]
        )


def _cells(page: str) -> list[str]:
    """The delivery cells of the page's tables, with their class."""
    return re.findall(r'<td class="(d[^"]*)">([^<]*)</td>', page)


def test_alerts_page_says_not_sent_neutrally_and_counts_apart_when_no_address(
    db_path: Path, display: DisplaySettings
) -> None:
    _queue_notices(db_path)
    shown = replace(display, notice_addresses=frozenset())
    with Store.open_reader(db_path) as store:
        rows = store.outbox_all()
        page = alerts_page(alert_rows(store), shown, delivery(rows, NOW, shown))
    notices = page.split("To the caregiver and patient")[1]
    assert _cells(notices) == [("d muted", NOT_SENT_ROW)] * 3
    assert "alarm" not in notices
    assert "not tried yet" not in notices
    assert "wait to be sent" not in page
    assert f"3 notices to the caregiver or patient {NOT_SENT}." in page
    # The clinic's one alert that did not arrive is still red, and still counted alone.
    assert '<p class="alarm">1 alert not yet received by the clinic.</p>' in page
    clinic = page.split("To the caregiver and patient")[0]
    assert [c for c, _ in _cells(clinic)] == ["d alarm"]


def test_alerts_page_shows_notices_pending_in_red_when_an_address_is_set_up(
    db_path: Path, display: DisplaySettings
) -> None:
    """With an address the same notices are waiting for something: that is worth red."""
    _queue_notices(db_path)
    shown = replace(display, notice_addresses=frozenset({"notify"}))
    with Store.open_reader(db_path) as store:
        page = alerts_page(alert_rows(store), shown, delivery(store.outbox_all(), NOW, shown))
    notices = page.split("To the caregiver and patient")[1]
    assert _cells(notices) == [("d alarm", "pending, not tried yet")] * 3
    assert "3 notices to the caregiver or patient wait to be sent." in page
    assert NOT_SENT not in page


def test_alerts_page_without_delivery_facts_counts_the_same(display: DisplaySettings) -> None:
    """The page built from its rows alone (no outbox reading) agrees with itself."""
    row = AlertRow(
        "n", "notify", "fever.confirmed.caregiver", "urgent", NOW, "pending", 0, None, None, None
    )
    rows = [row]
    page = alerts_page(rows, replace(display, notice_addresses=frozenset()))
    assert f"1 notice to the caregiver or patient {NOT_SENT}." in page
    assert "wait to be sent" not in page


def test_status_screen_and_json_count_unaddressed_notices_apart(
    db_path: Path, display: DisplaySettings
) -> None:
    _queue_notices(db_path)
    shown = replace(display, notice_addresses=frozenset())
    with Store.open_reader(db_path) as store:
        status = status_data(store, shown, NOW)
    assert (status.notices_waiting, status.notices_unaddressed) == (0, 3)
    text = status_text(status)
    assert f"3 notices not sent: {NOT_SENT.removeprefix('not sent: ')}" in text
    assert "wait to be sent" not in text
    assert "1 alert not yet received by the clinic" in text
    facts = json.loads(json.dumps(status_json(status)))
    assert (facts["notices_waiting"], facts["notices_unaddressed"]) == (0, 3)
    page = now_page(status)
    assert NOT_SENT.removeprefix("not sent: ") in page


def test_display_settings_know_which_notice_channels_have_an_address(
    settings: Settings,  # noqa: F811 - the fixture imported above
) -> None:
    assert display_settings(settings).notice_addresses == frozenset()
    notify = settings.notify.model_copy(update={"caregiver_url": "https://ntfy.sh/x-7Hq2"})
    with_url = settings.model_copy(update={"notify": notify})
    shown = display_settings(with_url)
    assert shown.notice_addresses == frozenset({"notify"})
    assert shown.addressed("notify")
    assert not shown.addressed("patient")
    assert shown.addressed("clinic")


@pytest.mark.parametrize("addresses", [None, frozenset({"notify"})])
def test_notices_count_as_waiting_when_addresses_not_known_or_set_up(
    db_path: Path, display: DisplaySettings, addresses: frozenset[str] | None
) -> None:
    _queue_notices(db_path, 2)
    shown = replace(display, notice_addresses=addresses)
    with Store.open_reader(db_path) as store:
        told = delivery(store.outbox_all(), NOW, shown)
    assert (told.notices_waiting, told.notices_unaddressed) == (2, 0)
