"""The schemas cannot drift from the code: their enums are the code's enums, the control
API's request schemas are its pydantic models, and every JSON output of the command line,
every control route and every JSON route of the inbox has a catalogued schema (issue 19)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum
from typing import Any

import pytest
from pydantic import BaseModel

from portwatch.alerts.apprise_sender import APPRISE_TYPE
from portwatch.alerts.fhir import UCUM_CODES
from portwatch.alerts.notices import NoticeKind
from portwatch.alerts.payloads import AlertKind
from portwatch.ble.core import HeartRateState, Quality
from portwatch.ble.drivers import DRIVERS
from portwatch.log.vocabulary import Priority
from portwatch.model import DecisionType, ReadingKind, Site, Special, Symptom, Unit
from portwatch.service.control import (
    ControlApi,
    PauseIn,
    PurgeIn,
    ReadingIn,
    ReadingsIn,
    ReportIn,
)
from portwatch.service.watch import MAX_PAUSE
from portwatch.web.view import EpisodeState

from .payload_schemas import JSON_COMMANDS, PAYLOADS, schema


def _at(relative: str, pointer: str) -> Any:
    """The value at a JSON Pointer (``/properties/type/enum``) of a schema under docs/."""
    node: Any = schema(relative)
    for part in pointer.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _values(kinds: Iterable[Enum]) -> set[object]:
    return {kind.value for kind in kinds}


_ALERT = "clinics/schemas/alert.schema.json"
_READINGS = "operators/schemas/control-readings-request.schema.json"
_DECODE = "developers/schemas/decode.schema.json"
_DEMO = "developers/schemas/demo-summary.schema.json"
_NO_HEARTBEAT = _values(AlertKind) - {AlertKind.HEARTBEAT.value}

ENUMS = [
    (_ALERT, "/properties/type/enum", _values(AlertKind)),
    (_ALERT, "/$defs/data/properties/priority/enum", _values(Priority)),
    (_ALERT, "/$defs/data/properties/symptoms/items/enum", _values(Symptom)),
    (_ALERT, "/$defs/reading/properties/unit/enum", _values(Unit)),
    ("clinics/schemas/inbox-alerts.schema.json", "/items/properties/type/enum",
     _NO_HEARTBEAT | {"fhir.fever", "fhir.communication"}),
    ("clinics/schemas/inbox-alerts.schema.json", "/items/properties/priority/enum",
     _values(Priority)),
    ("clinics/schemas/fhir-alert-bundle.schema.json",
     "/$defs/bodyTemperature/properties/valueQuantity/properties/code/enum",
     set(UCUM_CODES.values())),
    ("clinics/schemas/fhir-alert-bundle.schema.json",
     "/$defs/communication/properties/priority/enum", _values(Priority)),
    ("operators/schemas/status.schema.json", "/properties/fever/enum",
     {state.word for state in EpisodeState}),
    ("operators/schemas/status.schema.json", "/properties/last_reading/properties/unit/enum",
     _values(Unit)),
    (_READINGS, "/$defs/reading/properties/kind/enum", _values(ReadingKind)),
    (_READINGS, "/$defs/reading/properties/unit/enum", _values(Unit)),
    (_READINGS, "/$defs/reading/properties/site/enum", _values(Site) | {None}),
    (_READINGS, "/$defs/reading/properties/special/enum", _values(Special) | {None}),
    ("operators/schemas/control-reports-request.schema.json",
     "/properties/symptoms/items/enum", _values(Symptom)),
    ("operators/schemas/notice.schema.json", "/properties/type/enum",
     set(APPRISE_TYPE.values())),
    ("operators/schemas/pinned.schema.json", "/properties/driver/enum",
     {driver.name for driver in DRIVERS}),
    (_DECODE, "/$defs/unit/enum", _values(Unit)),
    (_DECODE, "/$defs/measurement/properties/site/enum", _values(Site) | {None}),
    (_DECODE, "/$defs/measurement/properties/special/enum", _values(Special) | {None}),
    (_DECODE, "/$defs/site/properties/site/enum", _values(Site)),
    (_DECODE, "/$defs/core/properties/quality/enum", _values(Quality) | {None}),
    (_DECODE, "/$defs/core/properties/hr_state/enum", _values(HeartRateState) | {None}),
    ("developers/schemas/replay-decision.schema.json", "/properties/type/enum",
     _values(DecisionType)),
    (_DEMO, "/properties/decisions/items/enum", _values(DecisionType)),
    (_DEMO, "/properties/notification_kinds/items/enum", _values(NoticeKind)),
    (_DEMO, "/properties/alerts_received_kinds/items/enum", _NO_HEARTBEAT),
]  # fmt: skip


@pytest.mark.parametrize(("relative", "pointer", "expected"), ENUMS)
def test_schema_enum_is_the_codes_enum(relative: str, pointer: str, expected: set[object]) -> None:
    """A value added to (or renamed in) the code must be added to the schema, and back."""
    found = _at(relative, pointer)
    assert len(found) == len(set(found)), "duplicates"
    assert set(found) == expected


def test_report_and_pause_bounds_are_the_codes() -> None:
    reports = "operators/schemas/control-reports-request.schema.json"
    assert _at(reports, "/properties/symptoms/maxItems") == len(Symptom)
    pauses = "operators/schemas/control-pauses-request.schema.json"
    assert _at(pauses, "/properties/duration_s/maximum") == MAX_PAUSE.total_seconds()


_CONSTRAINTS = ("minLength", "maxLength", "minItems", "maxItems", "exclusiveMinimum", "minimum")
REQUESTS: list[tuple[str, type[BaseModel], str]] = [
    (_READINGS, ReadingsIn, ""),
    (_READINGS, ReadingIn, "/$defs/reading"),
    ("operators/schemas/control-reports-request.schema.json", ReportIn, ""),
    ("operators/schemas/control-pauses-request.schema.json", PauseIn, ""),
    ("operators/schemas/control-purge-request.schema.json", PurgeIn, ""),
]


@pytest.mark.parametrize(("relative", "model", "pointer"), REQUESTS)
def test_request_schema_is_the_services_model(
    relative: str, model: type[BaseModel], pointer: str
) -> None:
    """The service validates bodies with these pydantic models: the published schema takes
    the same fields, needs the same ones and bounds them at least as tightly."""
    ours = _at(relative, pointer) if pointer else schema(relative)
    theirs = model.model_json_schema()
    assert ours["additionalProperties"] is False
    assert theirs["additionalProperties"] is False
    assert set(ours["properties"]) == set(theirs["properties"])
    assert set(ours["required"]) == set(theirs.get("required", []))
    for name, field in theirs["properties"].items():
        for key in _CONSTRAINTS:
            if key in field:
                assert ours["properties"][name].get(key) == field[key], (name, key)


def test_readings_request_bounds_are_the_services() -> None:
    from portwatch.service.control import MAX_READINGS

    assert _at(_READINGS, "/properties/readings/maxItems") == MAX_READINGS


# Each control route (verb, path pattern) and the schemas of its request and its answer.
CONTROL_ROUTES = {
    ("GET", "^/v1/status$"): (None, "control-status-response"),
    ("POST", "^/v1/readings$"): ("control-readings-request", "control-readings-response"),
    ("POST", "^/v1/reports$"): ("control-reports-request", "control-reports-response"),
    ("POST", "^/v1/pauses$"): ("control-pauses-request", "control-pauses-response"),
    ("POST", "^/v1/alerts/(?P<alert_id>[^/]+)/resend$"): (None, "control-resend-response"),
    ("POST", "^/v1/purge$"): ("control-purge-request", "control-purge-response"),
}


def _catalogued(stem: str) -> bool:
    return any(p.schema.endswith(f"/{stem}.schema.json") for p in PAYLOADS)


def test_every_control_route_has_a_schema_for_its_request_and_its_answer() -> None:
    """A new route (or a renamed one) with no schema fails here."""
    routes = {(verb, pattern.pattern) for verb, pattern, _ in ControlApi(_NoService())._routes}
    assert routes == set(CONTROL_ROUTES)
    for request, answer in CONTROL_ROUTES.values():
        assert request is None or _catalogued(request)
        assert _catalogued(answer)
    assert _catalogued("control-error")


class _NoService:
    """Only to list the routes: no request is answered."""


# The inbox's routes: the JSON ones with their schema, the page and the form's redirect not.
INBOX_ROUTES = {
    ("POST", "/"): "inbox-receipt",
    ("POST", "/webhook"): "inbox-receipt",
    ("GET", "/"): None,  # the HTML page
    ("GET", "/api/alerts"): "inbox-alerts",
    ("GET", "/api/patients"): "inbox-patients",
    ("POST", "/alerts/{id}/close"): None,  # 303 to the page; refusals are inbox-error
}


def test_every_inbox_route_that_answers_json_has_a_schema(tmp_path: Any) -> None:
    from portwatch.clock import SystemClock
    from portwatch.sim.inbox import InboxStore, make_app

    store = InboxStore(tmp_path / "inbox.db")
    try:
        app = make_app(b"k" * 32, store, SystemClock())
        routes = {
            (r.method, r.resource.canonical)
            for r in app.router.routes()
            if r.method != "HEAD" and r.resource is not None
        }
    finally:
        store.close()
    assert routes == set(INBOX_ROUTES)
    assert all(stem is None or _catalogued(stem) for stem in INBOX_ROUTES.values())
    assert _catalogued("inbox-error")


def _json_options(parser: Any, prefix: str = "") -> dict[str, set[str]]:
    """Each (sub)command's options that ask for JSON: --json, and a --format offering it;
    nested subcommands (``alerts test``) included."""
    import argparse

    found: dict[str, set[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                found.update(_json_options(command, f"{prefix} {name}".strip()))
        if "--json" in action.option_strings:
            found.setdefault(prefix, set()).add("--json")
        if "--format" in action.option_strings:
            for choice in action.choices or ():
                if choice in ("json", "fhir"):
                    found.setdefault(prefix, set()).add(f"--format {choice}")
    return found


# `alerts test --format json|fhir` sends a test alert to the clinic: the clinic's schemas.
TO_THE_CLINIC = {"alerts test": {"--format json", "--format fhir"}}


def test_every_command_that_prints_json_has_a_catalogued_schema() -> None:
    """A new --json (or a --format with JSON) fails here until its payload is catalogued."""
    from portwatch.cli.main import build_parser

    names = {p.name for p in PAYLOADS}
    assert set(JSON_COMMANDS.values()) <= names
    found = _json_options(build_parser())
    assert found["alerts test"] == TO_THE_CLINIC["alerts test"]  # the walk reaches nested ones
    for command, options in found.items():
        for option in options - TO_THE_CLINIC.get(command, set()):
            assert f"{command} {option}" in JSON_COMMANDS, f"portwatch {command} {option}"


def test_every_command_module_that_prints_json_is_catalogued() -> None:
    """decode and replay print JSON without a flag: found by what their module prints."""
    from pathlib import Path

    import portwatch.cli.commands as commands

    printing = set()
    for module in Path(commands.__file__).parent.glob("*.py"):
        if re.search(r"print\(json\.dumps\(", module.read_text(encoding="utf-8")):
            printing.add(module.stem)
    listed = {command.split()[0] for command in JSON_COMMANDS}
    assert printing, "no command prints JSON any more? then this test must change"
    assert printing <= listed


def test_bench_results_schema_requires_what_the_runner_requires() -> None:
    """benchmarks/run.py refuses a figure without its REQUIRED_KEYS and adds bench, ratio."""
    import importlib.util

    from .payload_schemas import ROOT

    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    assert spec is not None
    assert spec.loader is not None
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    required = _at("developers/schemas/bench-results.schema.json", "/properties/figures/items")
    assert set(required["required"]) == {*runner.REQUIRED_KEYS, "bench", "ratio"}
