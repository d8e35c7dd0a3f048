"""Fixtures for the end-to-end tests of the wired daemon."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module", autouse=True)
def _quiet_radio() -> Iterator[None]:
    """Bumble and bleak log every packet at DEBUG; days of them would cost minutes in caplog.

    portwatch's own loggers stay at DEBUG, so every format string of ours still runs.
    """
    loggers = [logging.getLogger(name) for name in ("bumble", "bleak", "bleak_retry_connector")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
