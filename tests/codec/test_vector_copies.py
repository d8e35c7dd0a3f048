"""The repository's copies of the shared vectors must equal shared/ wherever shared/ exists."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
VECTOR_COPIES = Path(__file__).resolve().parents[1] / "vectors"


@pytest.mark.parametrize("name", ["hts.json", "core.json"])
def test_vector_copy_equals_shared_when_shared_is_present(name: str) -> None:
    """A fresh clone tests against the copies; CI (which has shared/) proves they are current."""
    copy = (VECTOR_COPIES / name).read_bytes()
    if not SHARED_VECTORS.is_dir():
        assert copy, "the copy is empty"
        return
    assert copy == (SHARED_VECTORS / name).read_bytes()
