"""The clinic docs tell the truth: schemas, examples and signature snippets (issue 19).

A clinic's developer builds a receiver from docs/clinics/: its JSON Schema, its example
payloads and its signature-checking snippets. Each is checked here against what the gateway
really sends, so the docs cannot drift from the code.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from portwatch.alerts.payloads import (
    AlertKind,
    GatewayState,
    connectivity_test_alert,
    fever_alert,
    heartbeat_alert,
    json_body,
    symptom_alert,
)
from portwatch.alerts.signing import parse_secret, sign_headers
from portwatch.model import Decision, DecisionType, Symptom

ROOT = Path(__file__).resolve().parents[2]
CLINIC_DOCS = ROOT / "docs" / "clinics"
SCHEMA = json.loads((CLINIC_DOCS / "schemas" / "alert.schema.json").read_text())
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # a throwaway test secret
CSHARP_CALLER = Path(__file__).with_name("SignatureCheck.cs")


def _doc_examples() -> ModuleType:
    script = ROOT / "tools" / "doc_examples.py"
    spec = importlib.util.spec_from_file_location("doc_examples", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLES = _doc_examples()


def _errors(document: object) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(document)]


def test_schema_is_valid_draft_2020_12() -> None:
    """A schema that is itself malformed would accept anything."""
    Draft202012Validator.check_schema(SCHEMA)


def test_committed_examples_equal_what_the_code_sends_now() -> None:
    """An example that no longer matches the payload code misleads every clinic that reads it."""
    for name, text in EXAMPLES.examples().items():
        committed = (CLINIC_DOCS / "examples" / name).read_text(encoding="utf-8")
        assert committed == text, f"examples/{name} is stale: run tools/doc_examples.py"


def _every_kind() -> Iterator[tuple[AlertKind, str]]:
    context = EXAMPLES.CONTEXT
    confirmed: Decision = EXAMPLES.confirmed_fever()
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    for decision_type in (
        DecisionType.FEVER_CONFIRMED,
        DecisionType.FEVER_ONGOING,
        DecisionType.FEVER_RESOLVED,
    ):
        decision = Decision(
            id=confirmed.id,
            type=decision_type,
            time=confirmed.time,
            summary=confirmed.summary,
            observations=confirmed.observations,
            settings=confirmed.settings,
        )
        yield AlertKind(decision_type.value), json_body(fever_alert(decision, context), context)
    symptoms = symptom_alert(context, [Symptom.PUS, Symptom.OTHER], "a smell", now)
    yield AlertKind.SYMPTOMS_REPORTED, json_body(symptoms, context)
    state = GatewayState(started_at=now - timedelta(days=2), thermometer_connected=False)
    yield AlertKind.HEARTBEAT, json_body(heartbeat_alert(context, state, now), context)
    yield AlertKind.TEST, json_body(connectivity_test_alert(context, now), context)


def test_every_alert_kind_the_code_builds_validates_against_the_schema() -> None:
    """The schema must describe every body a clinic can receive, not only the examples."""
    seen = set()
    for kind, body in _every_kind():
        document = json.loads(body)
        assert document["type"] == kind.value
        assert _errors(document) == [], kind
        seen.add(kind)
    assert seen == set(AlertKind)


@pytest.mark.parametrize("name", ["fever-confirmed", "symptoms-reported", "gateway-heartbeat"])
def test_json_examples_validate_against_the_schema(name: str) -> None:
    document = json.loads((CLINIC_DOCS / "examples" / f"{name}.json").read_text())
    assert _errors(document) == []


def _mutated(path: list[str], value: Any) -> dict[str, Any]:
    example = CLINIC_DOCS / "examples" / "fever-confirmed.json"
    document: dict[str, Any] = json.loads(example.read_text())
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copy.deepcopy(document)


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["data", "id"], _DELETE),
        (["data", "id"], "not-a-uuid"),
        (["data", "patient"], "0001234"),
        (["data", "readings"], []),
        (["data", "priority"], "routine"),
        (["data", "surprise"], 1),
        (["type"], "fever.maybe"),
        (["schema"], 2),
    ],
)
def test_schema_refuses_a_body_portwatch_would_never_send(path: list[str], value: Any) -> None:
    """A schema that accepts these would let a receiver trust a broken or forged body."""
    assert _errors(_mutated(path, value)) != []


def _snippet(language: str) -> str:
    text = (CLINIC_DOCS / "signatures.md").read_text()
    found = re.search(rf"```{language}\n(.*?)```", text, re.S)
    assert found is not None, language
    return found.group(1)


def _signed_request() -> tuple[dict[str, str], bytes, int]:
    body = (CLINIC_DOCS / "examples" / "fever-confirmed.json").read_text(encoding="utf-8")
    at = datetime(2026, 11, 19, 12, 40, 3, tzinfo=UTC)
    msg_id = json.loads(body)["data"]["id"]
    headers = sign_headers(parse_secret(SECRET), msg_id, body, at)
    return headers, body.encode(), int(at.timestamp())


def test_python_snippet_accepts_the_gateways_signature_and_refuses_a_tampered_body() -> None:
    namespace: dict[str, Any] = {}
    exec(_snippet("python"), namespace)
    verify = namespace["verify"]
    headers, body, now = _signed_request()
    assert verify(SECRET, headers, body, now=now) is True
    assert verify(SECRET, headers, body.replace(b"101.8", b"100.8"), now=now) is False
    assert verify(SECRET, headers, body, now=now + 301) is False


def test_javascript_snippet_accepts_the_gateways_signature_and_refuses_a_tampered_body(
    tmp_path: Path,
) -> None:
    """Node.js ships with the build machines' image; without it this test fails, never skips."""
    assert shutil.which("node"), "Node.js is needed to run the documented JavaScript snippet"
    headers, body, now = _signed_request()
    (tmp_path / "verify.js").write_text(_snippet("javascript"))
    (tmp_path / "body.json").write_bytes(body)
    script = f"""
const {{ verify }} = require("./verify.js");
const fs = require("node:fs");
const headers = {json.dumps(headers)};
const body = fs.readFileSync("body.json");
const tampered = Buffer.from(body.toString().replace("101.8", "100.8"));
console.log(JSON.stringify([verify({json.dumps(SECRET)}, headers, body, {now}),
  verify({json.dumps(SECRET)}, headers, tampered, {now}),
  verify({json.dumps(SECRET)}, headers, body, {now + 301})]));
"""
    (tmp_path / "check.js").write_text(script)
    result = subprocess.run(
        ["node", "check.js"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == [True, False, False]


_OTHER_SECRET = "whsec_" + base64.b64encode(b"not the clinic's own key").decode()


def _forged(headers: dict[str, str]) -> str:
    """A well-formed ``v1,`` signature that is not the gateway's (one bit flipped)."""
    raw = bytearray(base64.b64decode(headers["webhook-signature"].removeprefix("v1,")))
    raw[0] ^= 1
    return "v1," + base64.b64encode(bytes(raw)).decode()


# Each case: how to change the gateway's real (secret, headers, body, now), and the verdict.
_Request = tuple[str, dict[str, str], bytes, int]
_CSHARP_CASES: dict[str, tuple[Callable[[_Request], _Request], str]] = {
    "valid": (lambda r: r, "accepted"),
    "tampered-body": (lambda r: (r[0], r[1], r[2].replace(b"101.8", b"100.8"), r[3]), "refused"),
    "wrong-secret": (lambda r: (_OTHER_SECRET, r[1], r[2], r[3]), "refused"),
    "timestamp-301s-old": (lambda r: (r[0], r[1], r[2], r[3] + 301), "refused"),
    "timestamp-301s-ahead": (lambda r: (r[0], r[1], r[2], r[3] - 301), "refused"),
    "timestamp-300s-old": (lambda r: (r[0], r[1], r[2], r[3] + 300), "accepted"),
    "valid-among-several": (
        lambda r: (
            r[0],
            {**r[1], "webhook-signature": f"{_forged(r[1])} v1,%%% {r[1]['webhook-signature']}"},
            r[2],
            r[3],
        ),
        "accepted",
    ),
    "only-forged-ones": (
        lambda r: (r[0], {**r[1], "webhook-signature": f"{_forged(r[1])} v1,"}, r[2], r[3]),
        "refused",
    ),
    "right-signature-wrong-version": (
        lambda r: (
            r[0],
            {**r[1], "webhook-signature": r[1]["webhook-signature"].replace("v1,", "v2,")},
            r[2],
            r[3],
        ),
        "refused",
    ),
}


@pytest.fixture(scope="module")
def csharp_check(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documented C# snippet, verbatim, compiled by Mono with tests/docs/SignatureCheck.cs.

    tests/system-deps installs Mono (run by ./dev test); without it this fails, never skips.
    """
    missing = [tool for tool in ("mcs", "mono") if shutil.which(tool) is None]
    assert not missing, (
        f"{' and '.join(missing)} missing: the documented C# snippet is compiled with Mono's mcs "
        "and run with mono; tests/system-deps installs them "
        "(apt-get install --no-install-recommends mono-mcs)"
    )
    folder = tmp_path_factory.mktemp("csharp")
    snippet = folder / "WebhookSignature.cs"
    snippet.write_text(_snippet("csharp"))
    program = folder / "check.exe"
    compiled = subprocess.run(
        ["mcs", "-warnaserror", f"-out:{program}", str(snippet), str(CSHARP_CALLER)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert compiled.returncode == 0, f"the C# snippet does not compile:\n{compiled.stdout}"
    return program


@pytest.mark.parametrize("case", list(_CSHARP_CASES))
def test_csharp_snippet_checks_the_gateways_signature(
    case: str, csharp_check: Path, tmp_path: Path
) -> None:
    change, verdict = _CSHARP_CASES[case]
    headers, body, now = _signed_request()
    secret, headers, body, now = change((SECRET, headers, body, now))
    (tmp_path / "body.json").write_bytes(body)
    arguments = [headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")]
    result = subprocess.run(
        ["mono", str(csharp_check), secret, *arguments, str(tmp_path / "body.json"), str(now)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == verdict
