"""The docs' JSON Schemas, loaded once, with validators that check formats too.

Every schema under docs/*/schemas/ is registered by its ``$id`` so that one schema may
refer to another (the FHIR export Bundle reuses the alert Bundle's resources). jsonschema
checks ``date-time`` only with an optional package installed; the checker here does it
with the standard library, as RFC 3339 wants it: a date, a time and an offset.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

ROOT: Final = Path(__file__).resolve().parents[2]
DOCS: Final = ROOT / "docs"
TOOLS: Final = ROOT / "tools"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))  # tools/payloads.py (the catalogue) and doc_examples.py

FORMATS: Final = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value.upper():
        return False
    return datetime.fromisoformat(value).tzinfo is not None


def schema_files() -> list[Path]:
    return sorted(DOCS.glob("*/schemas/*.schema.json"))


@cache
def _registry() -> Registry[Any]:
    resources = []
    for path in schema_files():
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


@cache
def schema(relative: str) -> dict[str, Any]:
    """A schema by its path under docs/."""
    loaded: dict[str, Any] = json.loads((DOCS / relative).read_text(encoding="utf-8"))
    return loaded


def errors(relative: str, document: object) -> list[str]:
    """What the schema at ``relative`` (under docs/) finds wrong with ``document``."""
    validator = Draft202012Validator(schema(relative), registry=_registry(), format_checker=FORMATS)
    return [f"{e.json_path}: {e.message}"[:300] for e in validator.iter_errors(document)]


def assert_valid(relative: str, document: object) -> None:
    found = errors(relative, document)
    assert found == [], f"{relative}: {found[:5]}\n{json.dumps(document)[:1500]}"


# The catalogue, importable once tools/ is on the path (above).
from payloads import (  # noqa: E402
    JSON_COMMANDS,
    PAYLOADS,
    Payload,
    hand_reading,
    payload_examples,
    with_table,
)

__all__ = [
    "DOCS",
    "JSON_COMMANDS",
    "PAYLOADS",
    "ROOT",
    "Payload",
    "assert_valid",
    "errors",
    "hand_reading",
    "payload_examples",
    "schema",
    "schema_files",
    "with_table",
]
