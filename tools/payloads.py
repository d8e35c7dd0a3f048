"""Every JSON payload portwatch produces or accepts, its JSON Schema in docs/, and its example.

The catalogue (:data:`PAYLOADS`) is what docs/developers/payloads.md lists and what
tests/docs/ checks: each schema file exists and is listed here, each example validates
against its schema, the real payloads (made by running the commands, the service and the
inbox as processes) validate too, and a ``--json`` command or control route with no entry
here fails a test. The examples are written by the code that makes the real payloads where
that code can run here without a service (:func:`payload_examples`), so they cannot go stale:
``python tools/doc_examples.py`` writes them with the clinic examples.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Final, cast

from portwatch.model import MANUAL_DEVICE, Reading, ReadingKind, Unit

DOCS: Final = Path(__file__).resolve().parents[1] / "docs"


@dataclass(frozen=True, slots=True)
class Payload:
    """One payload kind: who reads it, where it is made, its schema and example (paths
    relative to docs/), and how a person meets it."""

    name: str
    reader: str  # "clinics" | "operators" | "developers": the docs section it belongs to
    schema: str
    example: str
    made_by: str
    entrance: str


def _p(
    name: str, reader: str, stem: str, made_by: str, entrance: str, example: str = ""
) -> Payload:
    return Payload(
        name,
        reader,
        f"{reader}/schemas/{stem}.schema.json",
        f"{reader}/examples/{example or stem}.json",
        made_by,
        entrance,
    )


_CONTROL = "service/control.py"
PAYLOADS: Final = (
    _p("clinic alert (signed JSON)", "clinics", "alert", "alerts/payloads.py json_body",
       "POST to [clinic] url, format json", "fever-confirmed"),
    _p("clinic alert (FHIR transaction Bundle)", "clinics", "fhir-alert-bundle",
       "alerts/fhir.py fhir_body", "POST to [clinic] url, format fhir", "fever-confirmed.fhir"),
    _p("readings export (FHIR collection Bundle)", "clinics", "fhir-export-bundle",
       "web/export.py write_fhir", "portwatch export --format fhir", "export.fhir"),
    _p("inbox: receipt of an alert", "clinics", "inbox-receipt", "sim/inbox.py _receiver",
       "portwatch inbox: POST /webhook, 200"),
    _p("inbox: the alerts", "clinics", "inbox-alerts", "sim/inbox.py InboxStore.alerts",
       "portwatch inbox: GET /api/alerts"),
    _p("inbox: the patients", "clinics", "inbox-patients", "sim/inbox.py InboxStore.patients",
       "portwatch inbox: GET /api/patients"),
    _p("inbox: a refusal", "clinics", "inbox-error", "sim/inbox.py make_app",
       "portwatch inbox: any 4xx"),
    _p("status", "operators", "status", "web/text.py status_json", "portwatch status --json"),
    _p("control: status", "operators", "control-status-response", f"{_CONTROL} status",
       "GET /v1/status"),
    _p("control: readings in", "operators", "control-readings-request",
       "cli/commands/_through.py reading_json", "POST /v1/readings (portwatch add, import)"),
    _p("control: readings taken", "operators", "control-readings-response",
       f"{_CONTROL} readings", "POST /v1/readings, 200"),
    _p("control: a symptom report", "operators", "control-reports-request",
       "cli/commands/report.py", "POST /v1/reports (portwatch report)"),
    _p("control: report queued", "operators", "control-reports-response", f"{_CONTROL} reports",
       "POST /v1/reports, 200"),
    _p("control: a pause", "operators", "control-pauses-request", "cli/commands/pause.py",
       "POST /v1/pauses (portwatch pause)"),
    _p("control: pause logged", "operators", "control-pauses-response", f"{_CONTROL} pauses",
       "POST /v1/pauses, 200"),
    _p("control: resend queued", "operators", "control-resend-response", f"{_CONTROL} resend",
       "POST /v1/alerts/{id}/resend, 200 (portwatch alerts resend)"),
    _p("control: a purge", "operators", "control-purge-request", "cli/commands/purge.py",
       "POST /v1/purge (portwatch purge)"),
    _p("control: purge counts", "operators", "control-purge-response", f"{_CONTROL} purge",
       "POST /v1/purge, 200"),
    _p("control: a refusal", "operators", "control-error",
       "service/control.py ControlApi.answer, service/control_server.py", "any 4xx or 5xx"),
    _p("the pinned thermometer", "operators", "pinned", "ble/pin.py save_pin",
       "<state directory>/pinned.json (portwatch pair, setup)"),
    _p("notice to a json:// URL", "operators", "notice", "alerts/apprise_sender.py (Apprise)",
       "[notify] caregiver_url or patient_url = json://..."),
    _p("notice to an ntfy:// URL", "operators", "notice-ntfy", "alerts/apprise_sender.py (Apprise)",
       "[notify] caregiver_url or patient_url = ntfys://..."),
    _p("decode", "developers", "decode", "cli/commands/decode.py decode", "portwatch decode"),
    _p("replay decision", "developers", "replay-decision",
       "cli/commands/replay.py decision_to_json", "portwatch replay (one per line)"),
    _p("demo summary", "developers", "demo-summary", "sim/sandbox.py Summary.as_json",
       "portwatch demo --json"),
    _p("notice in the outbox", "developers", "notice-body",
       "alerts/endpoints.py notification_body", "the log's outbox, notify rows"),
    _p("benchmark results", "developers", "bench-results", "benchmarks/run.py main (not src/)",
       "python benchmarks/run.py: benchmarks/results/latest.json"),
)  # fmt: skip

# The commands whose standard output is JSON, and the payload that says its shape; the
# tests fail when a command gains --json (or a JSON output) without an entry here.
JSON_COMMANDS: Final[Mapping[str, str]] = {
    "status --json": "status",
    "demo --json": "demo summary",
    "decode": "decode",
    "replay": "replay decision",
    "export --format fhir": "readings export (FHIR collection Bundle)",
}

AT: Final = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _text(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def hand_reading(value: str, at: datetime) -> Reading:
    """A reading typed by hand, as `portwatch add 101.8F` makes it."""
    number = Decimal(value)
    return Reading(
        device=MANUAL_DEVICE,
        kind=ReadingKind.SPOT,
        value=number,
        unit=Unit.FAHRENHEIT,
        celsius=float((number - 32) * 5 / 9),
        time=at,
        received_at=at,
        raw=f"{value}F".encode(),
    )


def _control_examples() -> dict[str, object]:
    """Requests as the commands build them; answers as the service's code words them."""
    from doc_examples import CONTEXT

    from portwatch.alerts.payloads import symptom_alert
    from portwatch.cli.commands._through import reading_json
    from portwatch.model import Symptom
    from portwatch.service.watch import make_pause

    report = symptom_alert(CONTEXT, [Symptom.REDNESS, Symptom.WARMTH], "since 7 am", AT)
    pause = make_pause(AT, timedelta(minutes=30), "shower")
    purged = ("readings", "link_events", "outbox", "decisions", "symptom_reports")
    return {
        "control-readings-request": {
            "readings": [reading_json(hand_reading("101.8", AT))],
            "once": False,
        },
        "control-readings-response": {
            "ids": [4812],
            "already_present": 0,
            "now": AT.isoformat(),
        },
        "control-reports-request": {"symptoms": ["redness", "warmth"], "note": "since 7 am"},
        "control-reports-response": {"id": str(report.id)},
        "control-pauses-request": {"duration_s": 1800.0, "reason": "shower"},
        "control-pauses-response": {
            "start": pause.start.isoformat(),
            "end": pause.end.isoformat(),
            "reason": pause.reason,
        },
        "control-resend-response": {"id": str(report.id)},
        "control-purge-request": {"before": (AT - timedelta(days=30)).isoformat(), "dry_run": True},
        "control-purge-response": {
            "counts": dict.fromkeys((*purged, "reminders_sent", "notes"), 0),
            "dry_run": True,
        },
        "control-error": _refusal(),
        "control-status-response": {
            "now": AT.isoformat(),
            "status": _status_line(),
            "paused_until": pause.effective_end().isoformat(),
            "pause_reason": pause.reason,
        },
    }


def _refusal() -> dict[str, object]:
    """The control API's own answer to a reading in kelvin (refused before the service)."""
    import asyncio

    from portwatch.service.control import ControlApi, ControlService

    class Unasked:
        """The request is refused before the service would be asked anything."""

    body = {"readings": [{"device": "manual", "kind": "spot", "value": "310.1", "unit": "K",
                          "celsius": 36.95, "time": AT.isoformat()}]}  # fmt: skip
    api = ControlApi(cast(ControlService, Unasked()))
    status, answer = asyncio.run(api.answer("POST", "/v1/readings", json.dumps(body).encode()))
    assert status == 400, answer
    return answer


def _status_line() -> str:
    from doc_examples import PLACEMENT

    from portwatch.service.status import StatusFacts, status_line

    facts = StatusFacts(
        placement=PLACEMENT,
        healing_days=10,
        link_up=True,
        last_reading_time=AT - timedelta(minutes=2),
        last_reading_celsius=36.9,
        unit=Unit.FAHRENHEIT,
    )
    return status_line(facts, AT)


def _status_example() -> dict[str, object]:
    from doc_examples import ADDRESS, PLACEMENT, confirmed_fever

    from portwatch.web.text import status_json
    from portwatch.web.view import DisplaySettings, EpisodeState, StatusData

    fever = confirmed_fever()
    latest = hand_reading("101.8", fever.time)
    settings = DisplaySettings(placement=PLACEMENT, thermometer=ADDRESS)
    status = StatusData(
        now=fever.time + timedelta(minutes=5),
        settings=settings,
        latest=latest,
        link=None,
        battery=None,
        episode_state=EpisodeState.OPEN,
        episode_since=fever.time,
        recheck_due=None,
        clinic_undelivered=(),
        clinic_last_reached=fever.time + timedelta(seconds=3),
    )
    return status_json(status)


def _decode_example() -> dict[str, object]:
    from portwatch.cli.commands.decode import decode

    # 37.6 °C (flags: °C, time stamp, site), 2026-11-20 09:58:00, mouth
    return decode("measurement", bytes.fromhex("06 78 01 00 FF EA 07 0B 14 09 3A 00 06"))


def _replay_example() -> dict[str, object]:
    from doc_examples import confirmed_fever

    from portwatch.cli.commands.replay import decision_to_json

    result: dict[str, object] = decision_to_json(confirmed_fever())
    return result


def _demo_example() -> dict[str, object]:
    from portwatch.sim.sandbox import Summary

    summary = Summary(
        readings=4798,
        decisions=("elevated.first", "fever.confirmed"),
        alerts_sent=1,
        alerts_received=1,
        alerts_received_kinds=("fever.confirmed",),
        duplicates_received=0,
        heartbeats_received=326,
        notifications=3,
        notification_kinds=("fever.elevated_first", "fever.confirmed.caregiver", "summary.daily"),
        alert_latency_ms=4.8,
        measurement_interval_s=60.0,
        simulated_days=3.4,
        real_seconds=19.5,
        caregiver_url="http://127.0.0.1:8080/login?code=7-e9w_7DlnWu5RYwGBKYIQ",
        inbox_url="http://127.0.0.1:8765/",
    )
    return summary.as_json()


def _notices() -> dict[str, object]:
    from portwatch.alerts.endpoints import notification_body

    title = "Fever confirmed: call the clinic"
    message = "101.8 °F at 06:40 and 101.3 °F at 02:15. The clinic has been told."
    return {
        "notice-body": json.loads(notification_body(title, message)),
        "notice-ntfy": {"topic": "portwatch-q8Jd7Kfa0", "title": title, "message": message},
        "notice": {
            "version": "1.0",
            "title": title,
            "message": message,
            "attachments": [],
            "type": "warning",
        },
    }


def _pinned_example() -> dict[str, object]:
    """pinned.json as save_pin writes it."""
    from portwatch.ble.pin import Pin, save_pin

    with tempfile.TemporaryDirectory() as directory:
        identity = {"manufacturer": "Example", "model": "Thermometer"}
        path = save_pin(Path(directory), Pin("C0:FF:EE:00:00:01", "Thermo 01", "hts", identity))
        document: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
        return document


def _bench_example() -> dict[str, object]:
    """benchmarks/run.py's results: figures vary from run to run, so this one is fixed."""
    figure = {
        "figure": "HTS measurements decoded per second (hts.decode_measurement)",
        "value": 100477.6,
        "unit": "1/s",
        "baseline": "bare struct decoder, same bytes",
        "baseline_value": 3460524.9,
        "bench": "bench_decode",
    }
    return {
        "measured_at": AT.isoformat(),
        "quick": False,
        "python": "3.11.7",
        "machine": "aarch64",
        "platform": "Linux-6.6.51+rpt-rpi-v8-aarch64-with-glibc2.36",
        "figures": [figure | {"ratio": 100477.6 / 3460524.9}],
    }


def _inbox_examples() -> dict[str, object]:
    """The reference inbox's answers, from a real InboxStore holding the clinic examples."""
    from portwatch.alerts.signing import SignatureProblem
    from portwatch.sim.inbox import InboxStore, parse_message

    clinic = DOCS / "clinics" / "examples"
    with tempfile.TemporaryDirectory() as directory:
        store = InboxStore(Path(directory) / "inbox.db")
        try:
            for name in ("gateway-heartbeat.json", "fever-confirmed.json"):
                body = (clinic / name).read_text(encoding="utf-8")
                message = parse_message(json.loads(body)["data"]["id"], body)
                store.add(message, AT)
            return {
                "inbox-receipt": {"id": message.webhook_id, "stored": True},
                "inbox-alerts": store.alerts(),
                "inbox-patients": store.patients(AT + timedelta(minutes=10)),
                "inbox-error": {"error": SignatureProblem.FORGED.value},  # as a 401 says
            }
        finally:
            store.close()


def _export_example() -> dict[str, object]:
    from doc_examples import CONTEXT, confirmed_fever

    from portwatch.alerts.payloads import ClinicFormat
    from portwatch.web.export import write_fhir
    from portwatch.web.source import ClinicTarget

    out = StringIO()
    write_fhir(confirmed_fever().observations, ClinicTarget(CONTEXT, ClinicFormat.JSON), out)
    document: dict[str, object] = json.loads(out.getvalue())
    return document


_BUILDERS: Final[tuple[Callable[[], Mapping[str, object]], ...]] = (
    _control_examples,
    lambda: {"status": _status_example()},
    lambda: {"decode": _decode_example()},
    lambda: {"replay-decision": _replay_example()},
    lambda: {"demo-summary": _demo_example()},
    _notices,
    _inbox_examples,
    lambda: {"export.fhir": _export_example()},
    lambda: {"pinned": _pinned_example()},
    lambda: {"bench-results": _bench_example()},
)


def payload_examples() -> dict[str, str]:
    """Each catalogued example not written by doc_examples.examples(): path under docs/ and
    its exact text."""
    by_stem = {Path(p.example).name.removesuffix(".json"): p for p in PAYLOADS}
    written: dict[str, str] = {}
    for build in _BUILDERS:
        for stem, document in build().items():
            written[by_stem[stem].example] = _text(document)
    return written


TABLE_START: Final = "<!-- the catalogue: written by tools/doc_examples.py -->"
TABLE_END: Final = "<!-- end of the catalogue -->"


def catalogue_table() -> str:
    """docs/developers/payloads.md's table of every payload (between its two markers)."""
    rows = [
        TABLE_START,
        "| payload | where a person meets it | made by (`src/portwatch/`) | schema | example |",
        "|---|---|---|---|---|",
    ]
    for p in PAYLOADS:
        schema, example = Path(p.schema).name, Path(p.example).name
        rows.append(
            f"| {p.name} | {p.entrance} | `{p.made_by}` "
            f"| [{schema}](../{p.schema}) | [{example}](../{p.example}) |"
        )
    return "\n".join([*rows, TABLE_END])


def with_table(page: str) -> str:
    """``page`` with its catalogue table replaced by :func:`catalogue_table`'s."""
    start, end = page.index(TABLE_START), page.index(TABLE_END) + len(TABLE_END)
    return page[:start] + catalogue_table() + page[end:]
