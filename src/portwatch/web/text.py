"""Words shared by the terminal and the pages: the status lines, the log lines, symptom names.

Pure: view data in, strings out. The terminal prints these; :mod:`.pages` escapes and
places them in HTML, so both say the same thing in the same words.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Final

from portwatch.model import Decision, LinkEvent, LinkEventKind, Reading, Symptom, Unit
from portwatch.web.view import (
    AlertRow,
    EpisodeState,
    LogLine,
    StatusData,
    fmt_ago,
    fmt_temp,
    fmt_time,
    is_elevated,
)

# alerts.md "Who is told what": the words a patient and a nurse use for each symptom.
SYMPTOM_LABEL: Final[dict[Symptom, str]] = {
    Symptom.REDNESS: "redness at the site",
    Symptom.PAIN: "extreme pain or tenderness",
    Symptom.PUS: "pus drainage",
    Symptom.WARMTH: "extreme warmth at the site",
    Symptom.BLEEDING: "excessive bleeding",
    Symptom.SWELLING: "excessive swelling",
    Symptom.FEVER: "feels feverish",
    Symptom.CHILLS: "chills",
    Symptom.OTHER: "something else (say what in the note)",
}


def status_lines(status: StatusData) -> list[tuple[str, str]]:
    """The status screen as (label, value) pairs, most important first."""
    settings = status.settings
    now = status.now
    lines: list[tuple[str, str]] = []
    day = settings.day_of_period(now)
    if day is None:
        lines.append(("Period", "placement time not set"))
    elif day < 1:
        lines.append(("Period", f"starts {fmt_time(settings.period(now)[0], settings.zone)}"))
    elif day > settings.healing_days:
        lines.append(("Period", f"ended (day {day}; monitored {settings.healing_days} days)"))
    else:
        lines.append(("Period", f"day {day} of {settings.healing_days}"))

    if status.episode_state is EpisodeState.OPEN and status.episode_since is not None:
        lines.append(
            (
                "Fever",
                f"CONFIRMED since {fmt_time(status.episode_since, settings.zone)}; clinic alerted",
            )
        )
    elif status.episode_state is EpisodeState.PENDING:
        due = (
            f"; recheck due {fmt_time(status.recheck_due, settings.zone)}"
            if status.recheck_due is not None
            else ""
        )
        lines.append(("Fever", f"elevated reading, waiting for a second one{due}"))
    else:
        lines.append(("Fever", "none"))

    latest = status.latest
    if latest is None or latest.celsius is None:
        lines.append(("Last reading", "none yet"))
    else:
        mark = " (elevated)" if is_elevated(latest.celsius, settings.threshold_c) else ""
        lines.append(
            (
                "Last reading",
                f"{fmt_temp(latest.celsius, settings.unit)}{mark}, "
                f"{fmt_ago(now - latest.time)} ({fmt_time(latest.time, settings.zone)})",
            )
        )
    lines.append(("Thermometer", _link_text(status.link, status.battery, now)))
    if status.undelivered:
        failed = sum(1 for a in status.undelivered if a.status == "failed")
        text = f"{len(status.undelivered)} not yet received by the clinic"
        if failed:
            text += f" ({failed} refused: a person must fix the setting and resend)"
        lines.append(("Alerts", text))
    else:
        lines.append(("Alerts", "all delivered"))
    if status.next_reminder is not None:
        when, what = status.next_reminder
        lines.append(("Next reminder", f"{fmt_time(when, settings.zone)}: {what}"))
    elif status.recheck_due is not None and status.recheck_due > now:
        lines.append(("Next reminder", f"{fmt_time(status.recheck_due, settings.zone)}: recheck"))
    return lines


def _link_text(link: LinkEvent | None, battery: LinkEvent | None, now: datetime) -> str:
    if link is None:
        text = "never connected"
    elif link.kind is LinkEventKind.CONNECTED:
        text = f"connected ({fmt_ago(now - link.time)})"
    else:
        text = f"not connected since {fmt_ago(now - link.time).removesuffix(' ago')}"
    if battery is not None and battery.battery_percent is not None:
        text += f", battery {battery.battery_percent} %"
    return text


def status_text(status: StatusData) -> str:
    """`portwatch status`: one screen of aligned lines."""
    pairs = status_lines(status)
    width = max(len(label) for label, _ in pairs)
    return "".join(f"{label:<{width}}  {value}\n" for label, value in pairs)


def reading_line(reading: Reading, threshold_c: float, unit: Unit) -> tuple[str, bool]:
    """A reading as the log shows it, and whether it is elevated (display only)."""
    if reading.invalid_reason is not None or reading.celsius is None:
        what = reading.special.value if reading.special is not None else "no value"
        value = f"{reading.value} °{reading.unit.value}" if reading.value is not None else what
        return f"{value} {reading.kind.value}, invalid: {reading.invalid_reason or what}", False
    elevated = is_elevated(reading.celsius, threshold_c)
    shown = fmt_temp(reading.celsius, unit)
    if reading.unit is not unit and reading.value is not None:
        shown += f" (as sent: {reading.value} °{reading.unit.value})"
    site = f" {reading.site.value}" if reading.site is not None else ""
    return f"{shown} {reading.kind.value}{site} from {reading.device}", elevated


def event_line(event: LinkEvent) -> str:
    text = f"{event.kind.value} {event.device}"
    if event.battery_percent is not None:
        text += f" battery {event.battery_percent} %"
    if event.detail:
        text += f": {event.detail}"
    return text


def decision_line(decision: Decision) -> str:
    late = " (late readings)" if decision.late else ""
    return f"{decision.type.value}: {decision.summary}{late}"


def log_text(lines: Sequence[LogLine], zone: tzinfo = UTC) -> str:
    """`portwatch log`: one line per entry, elevated ones marked with '!'."""
    out = []
    for line in lines:
        mark = "!" if line.elevated else " "
        out.append(f"{fmt_time(line.time, zone):<24} {mark} {line.what:<11} {line.text}\n")
    return "".join(out)


def alert_text(row: AlertRow, zone: tzinfo = UTC) -> str:
    """One outbox entry: what, to whom, and whether the clinic has it."""
    tz = zone
    if row.status == "delivered" and row.delivered_at is not None:
        state = f"received {fmt_time(row.delivered_at, tz)}"
    elif row.status == "failed":
        state = f"REFUSED ({row.last_status or row.last_error or 'no answer'})"
    else:
        tries = {0: "not tried yet", 1: "1 attempt"}.get(row.attempts, f"{row.attempts} attempts")
        state = f"pending, {tries}"
        if row.last_status is not None or row.last_error:
            state += f", last answer {row.last_status or row.last_error}"
    return f"{row.kind} ({row.priority}) to {row.channel}: {state}"
