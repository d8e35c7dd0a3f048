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
# A clone on its own uses the copies in tests/vectors (kept equal by test_vector_copies.py).
SHARED_VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
VECTOR_COPIES = Path(__file__).resolve().parents[1] / "vectors"


def vectors_dir() -> Path:
    if "PORTWATCH_SHARED" in os.environ:
        return Path(os.environ["PORTWATCH_SHARED"]) / "vectors"
    return SHARED_VECTORS if SHARED_VECTORS.is_dir() else VECTOR_COPIES


def load_vectors(name: str) -> dict[str, Any]:
    path = vectors_dir() / name
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
