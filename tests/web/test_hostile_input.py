"""Hostile input to the caregiver page is a clear 4xx, never a 500 (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from portwatch.log.store import Store

Client = TestClient[object, object]


@pytest.mark.parametrize(
    "path",
    [
        "/chart?day=%C2%B2",  # "²": str.isdigit() says yes, int() says no
        "/log?day=%E2%91%A0",  # "①"
        "/chart?day=%D9%A3",  # "٣" (Arabic-Indic three): int() reads it, it is not a day
        "/log?day=1" + "0" * 5000,
    ],
)
async def test_day_refused_with_400_when_not_ascii_digits(authed: Client, path: str) -> None:
    """Unicode digits in ``day`` are refused as any other non-number is."""
    response = await authed.get(URL(path, encoded=True))
    assert response.status == 400
    assert "day must be a number" in await response.text()


async def test_report_refused_with_400_when_multipart_body_is_not_multipart(
    authed: Client, db_path: Path
) -> None:
    """A POST that says multipart but is not: 400, nothing queued."""
    response = await authed.post(
        "/report",
        data=b"symptom=pain",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        allow_redirects=False,
    )
    assert response.status == 400
    with Store.open_reader(db_path) as store:
        assert all(r.kind != "symptoms.reported" for r in store.outbox_all())


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",  # no boundary at all
        "multipart/form-data; boundary=",
        "multipart/mixed; boundary=xyz",
    ],
)
async def test_report_refused_with_4xx_when_multipart_header_is_broken(
    authed: Client, content_type: str
) -> None:
    response = await authed.post(
        "/report",
        data=b"--xyz\r\nnot a part\r\n",
        headers={"Content-Type": content_type},
        allow_redirects=False,
    )
    assert 400 <= response.status < 500
