"""The phone link (issue 19): a one-time code exchanged for the cookie; the token itself never
in a URL. Real app on loopback, real code files in the log's state directory."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from portwatch.clock import VirtualClock
from portwatch.web.app import COOKIE_NAME
from portwatch.web.login import CODES_DIR_NAME, KEEP_AFTER, CodeStore, Redeemed

from .conftest import TOKEN

Client = TestClient[object, object]


async def test_token_in_url_is_refused_without_cookie_when_right(client: Client) -> None:
    """The old ``?token=`` link no longer opens anything: a token in a URL lands in history."""
    response = await client.get(f"/?token={TOKEN}", allow_redirects=False)
    assert response.status == 401
    assert COOKIE_NAME not in response.cookies


async def test_login_sets_strict_httponly_cookie_and_redirects_home_when_code_fresh(
    client: Client, db_path: Path, clock: VirtualClock
) -> None:
    code = CodeStore(db_path.parent).issue(clock.now())
    response = await client.get(f"/login?code={code}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/"
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie.value == TOKEN
    assert (await client.get("/chart", allow_redirects=False)).status == 200


async def test_login_refuses_code_second_time_with_page_naming_new_link_command(
    client: Client, db_path: Path, clock: VirtualClock
) -> None:
    """Single use: a second phone (no cookie) opening the same link gets a page saying how."""
    code = CodeStore(db_path.parent).issue(clock.now())
    first = await client.get(f"/login?code={code}", allow_redirects=False)
    assert first.status == 303
    client.session.cookie_jar.clear()
    again = await client.get(f"/login?code={code}", allow_redirects=False)
    assert again.status == 410
    text = await again.text()
    assert "used already" in text
    assert "portwatch web link" in text
    assert COOKIE_NAME not in again.cookies


async def test_login_refuses_code_after_its_validity_when_expired(
    client: Client, db_path: Path, clock: VirtualClock
) -> None:
    code = CodeStore(db_path.parent).issue(clock.now(), timedelta(minutes=30))
    await clock.advance(31 * 60)
    response = await client.get(f"/login?code={code}", allow_redirects=False)
    assert response.status == 410
    assert "expired" in await response.text()
    assert COOKIE_NAME not in response.cookies


@pytest.mark.parametrize(
    "query", ["", "?code=", "?code=not-a-code-0123456789", "?code=" + "x" * 500]
)
async def test_login_answers_404_without_cookie_when_code_unknown(
    client: Client, db_path: Path, clock: VirtualClock, query: str
) -> None:
    CodeStore(db_path.parent).issue(clock.now())  # another, valid code exists
    response = await client.get(f"/login{query}", allow_redirects=False)
    assert response.status == 404
    assert "not one this portwatch gave out" in await response.text()
    assert COOKIE_NAME not in response.cookies


async def test_login_moves_on_from_own_page_when_opened_cross_site(
    client: Client, db_path: Path, clock: VirtualClock
) -> None:
    """Browsers withhold SameSite=Strict cookies on a cross-site redirect chain."""
    code = CodeStore(db_path.parent).issue(clock.now())
    response = await client.get(
        f"/login?code={code}", headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False
    )
    assert response.status == 200
    assert '<meta http-equiv="refresh" content="0;url=/">' in await response.text()
    assert COOKIE_NAME in response.cookies


async def test_login_with_cookie_goes_home_without_using_a_code(
    authed: Client, db_path: Path, clock: VirtualClock
) -> None:
    """A phone that already has the cookie reopening an old link is simply let in."""
    response = await authed.get("/login?code=whatever", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/"


def test_code_store_holds_no_code_in_its_names_and_sweeps_old_entries(
    tmp_path: Path, clock: VirtualClock
) -> None:
    codes = CodeStore(tmp_path)
    directory = tmp_path / CODES_DIR_NAME
    used = codes.issue(clock.now(), timedelta(hours=1))
    unused = codes.issue(clock.now(), timedelta(hours=1))
    names = [p.name for p in directory.iterdir()]
    assert len(names) == 2
    assert not any(used in name or unused in name for name in names)
    assert os.stat(directory).st_mode & 0o077 == 0
    assert codes.redeem(used, clock.now()) is Redeemed.OK
    assert codes.redeem(used, clock.now()) is Redeemed.USED
    (entry,) = directory.glob("*.used")
    stamp = clock.now().timestamp()  # a used entry ages from its file's time
    os.utime(entry, (stamp, stamp))
    assert codes.sweep(clock.now() + KEEP_AFTER) == 0
    later = clock.now() + timedelta(hours=1) + KEEP_AFTER + timedelta(minutes=1)
    assert codes.sweep(later) == 2
    assert list(directory.iterdir()) == []


def test_code_store_refuses_validity_beyond_a_week(tmp_path: Path, clock: VirtualClock) -> None:
    with pytest.raises(ValueError, match="up to 7 days"):
        CodeStore(tmp_path).issue(clock.now(), timedelta(days=8))
