"""Words shared by the terminal and the pages: the status lines, the log lines, symptom names.

Pure: view data in, strings out. The terminal prints these; :mod:`.pages` escapes and
places them in HTML, so both say the same thing in the same words.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final

from portwatch.alerts.notices import NOTICES, NoticeKind
from portwatch.alerts.payloads import AlertKind, alert_kind_words
from portwatch.alerts.sentences import clock_time, decision_sentence
from portwatch.clock import ClockTrust
from portwatch.model import (
    Decision,
    LinkEvent,
    LinkEventKind,
    Reading,
    ReadingKind,
    Symptom,
    Unit,
)
from portwatch.web.view import (
    AlertRow,
    DisplaySettings,
    EpisodeState,
    LogLine,
    StatusData,
    fmt_ago,
    fmt_temp,
    fmt_time,
    is_elevated,
)

# alerts.md "Who is told what": the words a patient and a nurse use for each symptom.
NOTICE_KINDS: Final = frozenset(k.value for k in NoticeKind)

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


def period_text(settings: DisplaySettings, now: datetime) -> str:
    """The period as every view says it: "day 4 of 10", "ended", "starts ..."."""
    day = settings.day_of_period(now)
    start, end = settings.period(now)
    if day is None:
        return "placement time not set"
    if now < start:
        return f"starts {fmt_time(start, settings.zone)}"
    if now > end:
        return f"ended {fmt_time(end, settings.zone)} (monitored {settings.healing_days} days)"
    if day > settings.healing_days:
        return f"last hours: monitoring ends {fmt_time(end, settings.zone)}"
    return f"day {day} of {settings.healing_days}"


def fever_text(status: StatusData) -> str:
    """The fever state in one phrase, with what the clinic has been told."""
    zone = status.settings.zone
    state = status.episode_state
    if state is EpisodeState.OPEN and status.episode_since is not None:
        stuck = any(a.kind.startswith("fever.") for a in status.clinic_undelivered)
        told = "the clinic has NOT received the alert yet" if stuck else "clinic told"
        return f"CONFIRMED since {fmt_time(status.episode_since, zone)}; {told}"
    if state is EpisodeState.PENDING:
        due = status.recheck_due
        when = f"; recheck due {fmt_time(due, zone)}" if due is not None else ""
        return f"elevated reading, waiting for a second one{when}"
    if state is EpisodeState.RESOLVED and status.episode_since is not None:
        return f"none now (a fever resolved {fmt_time(status.episode_since, zone)})"
    return "none"


def clinic_lines(status: StatusData) -> list[tuple[str, str]]:
    """What the clinic has received, and whether the gateway reaches it (heartbeats are
    not alerts: they show only as "last reached")."""
    zone = status.settings.zone
    pending = status.clinic_undelivered
    if pending:
        refused = sum(1 for a in pending if a.status == "failed")
        text = f"{plural(len(pending), 'alert')} not yet received by the clinic"
        if refused:
            text += f" ({refused} refused: a person must fix the setting and resend)"
    else:
        text = "every alert received by the clinic"
    lines = [("Alerts", text)]
    if status.clinic_silent_since is not None:
        since = fmt_time(status.clinic_silent_since, zone)
        lines.append(("Clinic", f"gateway silent since {since}; portwatch keeps trying"))
    elif status.clinic_last_reached is not None:
        lines.append(("Clinic", f"last reached at {fmt_time(status.clinic_last_reached, zone)}"))
    if status.notices_waiting:
        held = status.notices_held_until
        why = f" (quiet hours, until {fmt_time(held, zone)})" if held is not None else ""
        waiting = plural(status.notices_waiting, "notice")
        lines.append(("Notices", f"{waiting} to the caregiver or patient wait to be sent{why}"))
    if status.notices_unaddressed:
        unsent = plural(status.notices_unaddressed, "notice")
        lines.append(("Notices", f"{unsent} not sent: {NO_ADDRESS}"))
    return lines


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def last_reading_text(status: StatusData) -> str:
    settings, latest = status.settings, status.latest
    if latest is None or latest.celsius is None:
        return "none yet"
    mark = " (elevated)" if is_elevated(latest.celsius, settings.threshold_c) else ""
    return (
        f"{fmt_temp(latest.celsius, settings.unit)}{mark}, "
        f"{fmt_ago(status.now - latest.time)} ({fmt_time(latest.time, settings.zone)})"
    )


def status_lines(status: StatusData) -> list[tuple[str, str]]:
    """The status screen as (label, value) pairs, most important first."""
    settings = status.settings
    now = status.now
    lines: list[tuple[str, str]] = [
        ("Period", period_text(settings, now)),
        *_clock_lines(status.clock),
        ("Fever", fever_text(status)),
        ("Last reading", last_reading_text(status)),
        ("Thermometer", _link_text(status.link, status.battery, now)),
        *clinic_lines(status),
    ]
    if status.next_reminder is not None:
        when, what = status.next_reminder
        lines.append(("Next reminder", f"{fmt_time(when, settings.zone)}: {what}"))
    elif status.recheck_due is not None and status.recheck_due > now:
        lines.append(("Next reminder", f"{fmt_time(status.recheck_due, settings.zone)}: recheck"))
    return lines


# What a person is told when the gateway's times are not the synchronised wall clock's
# (service/timekeeping.py): the day number, "just now" and the reminders all follow them.
_CLOCK_TEXT: Final = {
    ClockTrust.ESTIMATED: "not synchronised: times, the day and reminders are counted from "
    "the gateway's last known time; check its network (`portwatch doctor`)",
    ClockTrust.HELD: "held: the system clock jumped and is not followed; times are counted "
    "from the last trusted time until it agrees again",
}


def _clock_lines(trust: ClockTrust) -> list[tuple[str, str]]:
    text = _CLOCK_TEXT.get(trust)
    return [] if text is None else [("Clock", text)]


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


def decision_line(decision: Decision, zone: tzinfo = UTC, unit: Unit = Unit.FAHRENHEIT) -> str:
    """A decision as a person reads it: in the patient's zone and the display unit.

    A decision without the readings its sentence needs (one logged by an older version,
    an invalid reading without its reason) keeps the rule's own summary, whose times are
    in UTC: those are put on the patient's clock too (:func:`local_summary`).
    """
    sentence = decision_sentence(decision, zone, unit)
    if sentence == decision.summary:
        return local_summary(decision.summary, decision.time, zone)
    return sentence


# The rule's summaries (fever/sentences.py, fever/rule.py) name times as "at 08:15" or
# "at 08:15 on 19 Nov", and say "UTC" once for the whole sentence.
_RULE_TIME: Final = re.compile(r"\bat ([01]\d|2[0-3]):([0-5]\d)(?: on (\d{2} [A-Z][a-z]{2}))?")
_RULE_UTC: Final = re.compile(r" UTC\b")


def local_summary(summary: str, decided: datetime, zone: tzinfo) -> str:
    """The rule's UTC summary with each of its times on the patient's clock, named.

    A time without its date is taken on the day that puts it nearest the decision (the
    rule's times are within a day of it: the reading, its recheck).
    """
    if _RULE_UTC.search(summary) is None or _RULE_TIME.search(summary) is None:
        return summary  # not the rule's UTC wording: already a person's
    decided = decided.astimezone(UTC)

    def local(match: re.Match[str]) -> str:
        hour, minute, day = int(match[1]), int(match[2]), match[3]
        if day:  # "19 Nov": of the year that puts it nearest
            dates = []
            for year in (decided.year - 1, decided.year, decided.year + 1):
                with contextlib.suppress(ValueError):  # 29 Feb of a year without it
                    dates.append(datetime.strptime(f"{day} {year}", "%d %b %Y").replace(tzinfo=UTC))
        else:
            dates = [decided + timedelta(days=offset) for offset in (-1, 0, 1)]
        candidates = [d.replace(hour=hour, minute=minute, second=0, microsecond=0) for d in dates]
        when = min(candidates, key=lambda c: abs(c - decided))
        return "at " + clock_time(when, zone, with_day=True)

    return _RULE_TIME.sub(local, _RULE_UTC.sub("", summary))


def log_text(lines: Sequence[LogLine], zone: tzinfo = UTC) -> str:
    """`portwatch log`: one line per entry, elevated ones marked with '!'."""
    out = []
    for line in lines:
        mark = "!" if line.elevated else " "
        out.append(f"{fmt_time(line.time, zone):<24} {mark} {line.what:<11} {line.text}\n")
    return "".join(out)


# alerts.md: the gateway heartbeat is not an alert; lists leave it out.
HEARTBEAT_KIND: Final = AlertKind.HEARTBEAT.value


def kind_words(kind: str, channel: str = "") -> str:
    """An outbox row's kind as a person says it, never the internal name."""
    # "fever.resolved" names both a clinic alert and a caregiver notice: the channel decides.
    if channel != "clinic" and kind in NOTICE_KINDS:  # its title, facts left out: "Day …: …"
        return re.sub(r"\{[a-z_]+\}", "…", NOTICES[NoticeKind(kind)].title)
    return alert_kind_words(kind)


def row_title(kind: str, body: str, channel: str = "") -> str:
    """An outbox row named for a person: a notice's own title as sent, else its kind in
    words (a clinic alert's summary is a sentence, too long for a list)."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("title"), str):
        return str(document["title"])
    return kind_words(kind, channel)


# A notice whose channel has no address: nothing failed, nothing was meant to be sent.
# The lines that count them say it in full; a table's row, under that line, says it short.
NO_ADDRESS: Final = "no notification address is set up"
NOT_SENT_ROW: Final = "not sent: no address set up"


def delivery_state(row: AlertRow, zone: tzinfo = UTC, *, addressed: bool = True) -> str:
    """Whether it arrived: "received Mon 23 Nov 22:01 UTC", "pending, 4 attempts", ...;
    a pending notice on a channel without an address (`addressed` false) is "not sent"."""
    if row.status == "delivered" and row.delivered_at is not None:
        return f"received {fmt_time(row.delivered_at, zone)}"
    if row.status == "pending" and not addressed:
        return NOT_SENT_ROW
    if row.status == "failed":
        return f"REFUSED ({row.last_status or row.last_error or 'no answer'})"
    tries = {0: "not tried yet", 1: "1 attempt"}.get(row.attempts, f"{row.attempts} attempts")
    state = f"pending, {tries}"
    if row.last_status is not None or row.last_error:
        state += f", last answer {row.last_status or row.last_error}"
    return state


def alert_text(row: AlertRow, zone: tzinfo = UTC) -> str:
    """One outbox entry: what, to whom, and whether it arrived."""
    who = "the clinic" if row.channel == "clinic" else f"the {row.channel} channel"
    what = kind_words(row.kind, row.channel)
    return f"{what} ({row.priority}) to {who}: {delivery_state(row, zone)}"


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def status_json(status: StatusData) -> dict[str, object]:
    """`portwatch status --json`: the same facts as the screen, for scripts and monitors.

    ``fever`` is none|elevated|confirmed|resolved; ``clinic_undelivered`` counts clinic
    alerts only (never heartbeats); ``notices_waiting`` the caregiver's and patient's that
    will be sent; ``notices_unaddressed`` those never sent, for want of an address.
    """
    settings, latest = status.settings, status.latest
    last: dict[str, object] | None = None
    if latest is not None and latest.value is not None:
        last = {
            "time": latest.time.isoformat(),
            "value": format(latest.value, "f"),  # "40", never "4E+1"
            "unit": latest.unit.value,
            "celsius": latest.celsius,
            "age_s": int((status.now - latest.time).total_seconds()),
        }
    link = status.link
    battery = status.battery
    start, end = settings.period(status.now)
    day = settings.day_of_period(status.now)
    phase = "before" if status.now < start else "ended" if status.now > end else "monitoring"
    if day is None:
        phase = "unknown"  # no placement time: no period to be in
    return {
        "now": status.now.isoformat(),
        "day": day if phase == "monitoring" else None,
        "period_state": phase,
        "period_days": settings.healing_days,
        "period": period_text(settings, status.now),
        "fever": status.episode_state.word,
        "fever_since": _iso(status.episode_since),
        "recheck_due": _iso(status.recheck_due),
        "last_reading": last,
        "thermometer": {
            "address": settings.thermometer or (latest.device if latest is not None else None),
            "connected": link is not None and link.kind is LinkEventKind.CONNECTED,
            "battery_percent": battery.battery_percent if battery is not None else None,
        },
        "clinic_undelivered": len(status.clinic_undelivered),
        "notices_waiting": status.notices_waiting,
        "notices_unaddressed": status.notices_unaddressed,
        "clinic_last_reached": _iso(status.clinic_last_reached),
        "gateway_silent_since": _iso(status.clinic_silent_since),
        "next_reminder": _iso(status.next_reminder[0]) if status.next_reminder else None,
    }


@dataclass(frozen=True, slots=True)
class NowState:
    """What the "now" page says at a glance: a colour class, a headline, what to do."""

    colour: str  # "normal" | "elevated" | "fever" | "nodata"
    headline: str
    todo: str
    stale: bool  # the last reading is older than the stale-data limit: shown greyed


# What to do first when the caregiver's own symptom report did not reach the clinic.
REPORT_UNREACHED: Final = "Your symptom report has not reached the clinic: call the clinic. "
REPORT_UNREACHED_FEVER: Final = (
    "Your symptom report has not reached the clinic (the fever alert has): call the clinic now."
)


def now_state(status: StatusData) -> NowState:
    """The state in one colour and one sentence of what to do (issue 18); a symptom report
    the clinic refused, or that failed to reach it, comes first in what to do: the
    caregiver believes the clinic knows ("Nothing to do" would say so too)."""
    state = _now_state(status)
    unreached = any(
        a.kind == AlertKind.SYMPTOMS_REPORTED.value and (a.status == "failed" or a.attempts > 0)
        for a in status.clinic_undelivered
    )
    if not unreached or "call the clinic now" in state.todo:
        return state  # nothing to add, or the fever's own "call the clinic now" says it
    if state.colour == "fever":  # the clinic has the fever alert, not the report
        return replace(state, todo=REPORT_UNREACHED_FEVER)
    return replace(state, todo=REPORT_UNREACHED + state.todo)


def _now_state(status: StatusData) -> NowState:
    settings, latest, now = status.settings, status.latest, status.now
    zone = settings.zone
    age = now - latest.time if latest is not None else None
    stale = age is None or latest is None or age > settings.stale_limit(latest.kind)
    check = "check that the thermometer is on, charged and near the base station."
    start, end = settings.period(now)
    state = status.episode_state
    if state is EpisodeState.OPEN:
        if any(a.kind.startswith("fever.") for a in status.clinic_undelivered):
            todo = "The clinic has not received the alert yet: call the clinic now."
            return NowState("fever", "Fever confirmed: clinic NOT reached", todo, stale)
        todo = "The clinic has been told. If nobody has called within the hour, call them."
        return NowState("fever", "Fever confirmed: clinic told", todo, stale)
    if state is EpisodeState.PENDING:
        due = status.recheck_due
        if due is not None and due > now:
            todo = f"Take another temperature at {fmt_time(due, zone)}; if it is still high, "
            todo += "the clinic is told."
        else:
            todo = "Take a temperature now: the recheck is due."
        return NowState("elevated", "Elevated: recheck due", todo, stale)
    if latest is None or age is None:
        return NowState("nodata", "No data", "No temperature yet: " + check, True)
    if settings.placement is not None and not start <= now <= end:
        return NowState("nodata", "Monitoring has ended", "Nothing to do here.", stale)
    if stale:
        silent = fmt_ago(age).removesuffix(" ago")
        # A spot thermometer is not "on" or "off": a day without a reading wants one taken.
        spot = latest.kind is not ReadingKind.STREAM
        todo = "Please take a temperature now." if spot else "Please " + check
        return NowState("nodata", f"No data for {silent}", todo, True)
    if latest.celsius is not None and is_elevated(latest.celsius, settings.threshold_c):
        return NowState("elevated", "High reading, not counted yet", _UNCOUNTED_TODO, False)
    return NowState("normal", "Normal", "Nothing to do: the temperature is normal.", False)


# The last reading is high, but the fever rule holds no episode: a wearable's single sample
# (the rule counts 5-minute medians), or a reading the rule did not use (the log says why).
# Saying "normal" under a large high number contradicted the number (found by hand).
_UNCOUNTED_TODO: Final = (
    "The fever rule has not counted this reading as elevated (a wearable counts only its "
    "5-minute median; the log says why a reading was not used). If you are unsure, take "
    "a temperature by hand and add it."
)
