"""The campaigns live in benchmarks/ (one command runs them all); the tests load the same files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="session")
def campaigns() -> ModuleType:
    """benchmarks/campaigns.py, the runner whose functions CI calls with quick=True."""
    path = BENCHMARKS / "campaigns.py"
    spec = importlib.util.spec_from_file_location("portwatch_campaigns", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
