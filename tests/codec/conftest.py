"""The shared byte vectors, read where CI keeps them, one test case per vector.

A test that takes ``hts_vector`` or ``core_vector`` runs once for each entry of
shared/vectors/hts.json or core.json, named by its characteristic and hex (or id).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

# CI checks the repository out next to shared/ (<repo>/../shared); PORTWATCH_SHARED overrides.
_DEFAULT_SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def load_vectors(name: str) -> dict[str, Any]:
    path = Path(os.environ.get("PORTWATCH_SHARED", _DEFAULT_SHARED)) / "vectors" / name
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hts_vector" in metafunc.fixturenames:
        vectors = load_vectors("hts.json")["vectors"]
        ids = [f"{v['characteristic']}-{v['hex']}" for v in vectors]
        metafunc.parametrize("hts_vector", vectors, ids=ids)
    if "core_vector" in metafunc.fixturenames:
        vectors = load_vectors("core.json")["vectors"]
        metafunc.parametrize("core_vector", vectors, ids=[v["id"] for v in vectors])


@pytest.fixture(scope="session")
def hts_sites() -> dict[str, str]:
    """The Temperature Type code -> site table the vectors file states (GSS §3.217)."""
    sites: dict[str, str] = load_vectors("hts.json")["sites"]
    return sites
