"""Fixtures for the CI tooling tests: tools/ is not a package, so load its modules by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOLS = Path(__file__).parents[2] / "tools"


@pytest.fixture(scope="session")
def audit_deps() -> ModuleType:
    """tools/audit_deps.py, imported once."""
    spec = importlib.util.spec_from_file_location("audit_deps", TOOLS / "audit_deps.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit_deps"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def copies() -> ModuleType:
    """tools/copies.py, imported once, as structure.py imports it."""
    spec = importlib.util.spec_from_file_location("copies", TOOLS / "copies.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["copies"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def structure(copies: ModuleType) -> ModuleType:
    """tools/structure.py, imported once (its ``import copies`` finds the one above)."""
    spec = importlib.util.spec_from_file_location("structure", TOOLS / "structure.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["structure"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    assert module.copies is copies
    return module
