"""Fixtures for the log's tests: a real SQLite file in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from portwatch.log.store import Store
from portwatch.model import Reading, ReadingKind, Unit

T0 = datetime(2026, 11, 4, 8, 0, tzinfo=UTC)


def make_reading(
    seconds: float = 0.0,
    celsius: float = 37.0,
    *,
    device: str = "AA:BB:CC:DD:EE:FF",
    kind: ReadingKind = ReadingKind.STREAM,
    invalid_reason: str | None = None,
) -> Reading:
    """A reading `seconds` after T0, reported in °C."""
    time = T0 + timedelta(seconds=seconds)
    value = Decimal(f"{celsius:.2f}")
    return Reading(
        device=device,
        kind=kind,
        value=value,
        unit=Unit.CELSIUS,
        celsius=float(value),
        time=time,
        received_at=time,
        interval_s=1.0 if kind is ReadingKind.STREAM else None,
        raw=b"\x00" + int(seconds).to_bytes(8, "little", signed=True),
        invalid_reason=invalid_reason,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "portwatch.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store.open(db_path) as opened:
        yield opened
