"""The caregiver pages and the visit summary as HTML strings.

Pure: view data in, a complete HTML document out. Every value from the log goes through
:func:`html.escape`. There is no JavaScript: the "now" page refreshes itself with a meta
refresh, and the one stylesheet is inline so that a saved visit summary is a single file.
The server's Content-Security-Policy allows exactly that stylesheet by its hash
(:data:`STYLE_CSP_SOURCE`) and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Final

from portwatch import __version__
from portwatch.alerts.sentences import duration_text
from portwatch.model import Symptom
from portwatch.web.chart import NARROW_HEIGHT, NARROW_WIDTH, render_svg
from portwatch.web.text import (
    HEARTBEAT_KIND,
    NO_ADDRESS,
    SYMPTOM_LABEL,
    decision_line,
    delivery_state,
    kind_words,
    local_summary,
    now_state,
    period_text,
    plural,
    status_lines,
)
from portwatch.web.view import (
    AlertRow,
    ChartData,
    Delivery,
    DisplaySettings,
    LogLine,
    StatusData,
    SummaryData,
    esc,
    fmt_ago,
    fmt_short,
    fmt_temp,
    fmt_time,
    is_elevated,
)

__all__ = [
    "NAV",
    "PAGE_CSS",
    "STYLE_CSP_SOURCE",
    "alerts_page",
    "chart_page",
    "log_page",
    "now_page",
    "report_page",
    "summary_page",
]

# Issue 8: the "now" page refreshes on its own; once a minute matches the stale-data
# watch's granularity without hammering a Pi.
REFRESH_S: Final = 60

# Mobile first (issue 8: readable at 360 px), then print rules for the visit summary
# (one or two A4/Letter pages: small type, no navigation, the chart kept whole).
PAGE_CSS: Final = """
*{box-sizing:border-box}
body{font:16px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f5f99;color:#fff;padding:.5rem .75rem}
header h1{font-size:1.1rem;margin:0}
nav{display:flex;flex-wrap:wrap;gap:.25rem .9rem;padding:.4rem .75rem;background:#e8eef5}
nav a{color:#1f5f99;text-decoration:none;font-weight:600}
nav a[aria-current]{text-decoration:underline}
main{padding:.75rem;max-width:60rem;margin:0 auto}
h2{font-size:1.05rem;margin:1.2rem 0 .4rem}
dl.status{display:grid;grid-template-columns:fit-content(40%) minmax(0,1fr);gap:.3rem .8rem;
margin:0}
dl.status dt{font-weight:600}
dl.status dd{margin:0;overflow-wrap:anywhere}
.alarm{color:#b00020;font-weight:700}
.chart{width:100%;height:auto;display:block;background:#fff}
.narrow{display:none}
table{border-collapse:collapse;width:100%;font-size:.92rem;table-layout:fixed}
th:first-child{width:7em}
th.d{width:32%}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #ddd;vertical-align:top}
td.t{white-space:nowrap}
td{overflow-wrap:anywhere}
@media (max-width:600px){.wide{display:none}.narrow{display:block}td.t{white-space:normal}
th:first-child{width:5.4em}}
.what{color:#666;font-size:.85em}
tr.elevated td{color:#b00020;font-weight:600}
.scroll{overflow-x:auto}
.zoom{display:flex;flex-wrap:wrap;gap:.3rem;margin:.4rem 0}
.zoom a{padding:.15rem .5rem;border:1px solid #1f5f99;border-radius:.3rem;color:#1f5f99;
text-decoration:none}
form label{display:block;padding:.35rem 0;font-size:1.05rem}
form input[type=checkbox]{width:1.3rem;height:1.3rem;vertical-align:middle;margin-right:.4rem}
textarea{width:100%;min-height:5rem;font:inherit}
form.entry input[type=text],form.entry select{display:block;width:100%;font:inherit;
font-size:1.1rem;padding:.45rem;border:1px solid #888;border-radius:.3rem;background:#fff}
pre{background:#eee;padding:.5rem;overflow-x:auto}
button{font:inherit;font-size:1.1rem;padding:.6rem 1.2rem;margin-top:.6rem;background:#b00020;
color:#fff;border:0;border-radius:.3rem}
.ok{background:#e3f1e3;padding:.5rem;border-radius:.3rem}
.err{background:#fbe3e6;padding:.5rem;border-radius:.3rem}
.muted{color:#666;font-size:.9rem}
.now{border-radius:.5rem;padding:.7rem 1rem;margin:0 0 1rem;color:#fff}
.now p{margin:0}
.now .state{font-size:1.3rem;font-weight:700}
.now .big{font-size:3.6rem;font-weight:700;line-height:1.1;letter-spacing:-.02em}
.now .age{font-size:1rem;margin-bottom:.5rem}
.now .todo{font-size:1.15rem;font-weight:600;border-top:1px solid rgba(255,255,255,.5);
padding-top:.45rem}
.now .tag{background:#fff;color:#444;border-radius:.25rem;padding:0 .35rem;font-size:.85rem}
.s-normal{background:#2e7d32}.s-elevated{background:#a85200}.s-fever{background:#b00020}
.s-nodata{background:#616161}
.stale .big,.stale .age{color:#d6d6d6}
@media print{
@page{size:auto;margin:12mm}
body{font-size:9.5pt;background:#fff}
header{background:none;color:#000;padding:0}
nav,.noprint{display:none}
main{padding:0;max-width:none}
h2{font-size:10.5pt;margin:.6rem 0 .2rem;break-after:avoid}
.chart{max-height:70mm}
.wide{display:block}.narrow{display:none}
table{font-size:8.5pt}
tr{break-inside:avoid}
}
"""

# The Content-Security-Policy source that allows exactly PAGE_CSS, and nothing else inline.
STYLE_CSP_SOURCE: Final = (
    "'sha256-" + base64.b64encode(hashlib.sha256(PAGE_CSS.encode()).digest()).decode() + "'"
)

# (path, label) of the pages, in the order of the navigation bar.
NAV: Final[tuple[tuple[str, str], ...]] = (
    ("/", "Now"),
    ("/chart", "Chart"),
    ("/log", "Log"),
    ("/alerts", "Alerts"),
    ("/record", "Add reading"),
    ("/report", "Report a symptom"),
    ("/summary", "Visit summary"),
)


def chart_figure(chart: ChartData, title: str) -> str:
    """The chart twice: wide for screens and paper, narrow for phones (CSS picks one)."""
    narrow = render_svg(chart, title=title, width=NARROW_WIDTH, height=NARROW_HEIGHT)
    return (
        f'<div class="wide">{render_svg(chart, title=title)}</div>'
        f'<div class="narrow">{narrow}</div>'
    )


def _document(
    title: str,
    body: str,
    *,
    current: str | None,
    patient: str = "",
    refresh_s: int | None = None,
) -> str:
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    nav = ""
    if current is not None:
        links = "".join(
            f'<a href="{path}"{" aria-current=page" if path == current else ""}>{label}</a>'
            for path, label in NAV
        )
        nav = f"<nav>{links}</nav>"
    who = f" · {esc(patient)}" if patient else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="same-origin">{refresh}'
        f"<title>{esc(title)} · portwatch</title><style>{PAGE_CSS}</style></head>"
        f"<body><header><h1>portwatch{who}: {esc(title)}</h1></header>{nav}"
        f"<main>{body}</main></body></html>\n"
    )


def now_panel(status: StatusData) -> str:
    """The current value large with its age, in the state's colour, and what to do."""
    settings, latest = status.settings, status.latest
    state = now_state(status)
    if latest is not None and latest.celsius is not None:
        value = fmt_temp(latest.celsius, settings.unit)
        age = f"{fmt_ago(status.now - latest.time)} ({fmt_time(latest.time, settings.zone)})"
    else:
        value, age = "--", "no reading yet"
    stale = " stale" if state.stale else ""
    label = ' <span class="tag">old reading</span>' if state.stale and latest else ""
    return (
        f'<section class="now s-{state.colour}{stale}" role="status">'
        f'<p class="state">{esc(state.headline)}</p>'
        f'<p class="big">{esc(value)}</p><p class="age">{esc(age)}{label}</p>'
        f'<p class="todo">{esc(state.todo)}</p></section>'
    )


def now_page(status: StatusData) -> str:
    """The status screen, refreshing itself: the panel, then every line of the status."""
    rows = []
    for label, value in status_lines(status):
        alarm = label == "Fever" and value.startswith("CONFIRMED")
        cls = ' class="alarm"' if alarm else ""
        rows.append(f"<dt>{esc(label)}</dt><dd{cls}>{esc(value)}</dd>")
    body = (
        now_panel(status) + f'<dl class="status">{"".join(rows)}</dl>'
        f'<p class="muted">As of {esc(fmt_time(status.now, status.settings.zone))}; '
        f"this page refreshes every minute.</p>"
    )
    return _document("now", body, current="/", patient=status.settings.patient, refresh_s=REFRESH_S)


def chart_page(
    chart: ChartData, zoom: Sequence[tuple[str, str]], settings: DisplaySettings, heading: str
) -> str:
    """The chart of one period, with links to zoom to each day or back to the whole period."""
    links = "".join(f'<a href="{esc(href)}">{esc(label)}</a>' for label, href in zoom)
    body = (
        f"<h2>{esc(heading)}</h2>{chart_figure(chart, heading)}"
        '<p class="muted">Shaded grey: no readings. Green: paused on purpose. Dashed red line: '
        f"the threshold ({esc(fmt_temp(chart.threshold_c, chart.unit))}). Red dots: elevated "
        "observations the fever rule used; grey rings: readings it did not use (each point "
        "names its value, time and why). Triangles: what the fever rule decided.</p>"
        f'<div class="zoom">{links}</div>{_zone_note(settings.zone, chart.since)}'
    )
    return _document("chart", body, current="/chart", patient=settings.patient)


def log_page(
    lines: Sequence[LogLine],
    settings: DisplaySettings,
    heading: str,
    days: Sequence[tuple[str, str]] = (),
) -> str:
    """Readings (observations for streams), link events and decisions, newest first.

    Elevated lines are red; a temperature also says "elevated" in words (a decision says
    what it is itself: "elevated Fever confirmed" read as nonsense). `days` are (label,
    href) links to the other days' logs: a phone has no address bar to type ``?day=4``."""
    rows = "".join(
        f"<tr{' class=elevated' if line.elevated else ''}>"
        f'<td class="t">{esc(fmt_short(line.time, settings.zone))}</td>'
        f'<td><span class="what">{esc(line.what)}</span> '
        f"{'elevated ' if line.elevated and line.what != 'decision' else ''}"
        f"{esc(line.text)}</td></tr>"
        for line in reversed(lines)
    )
    links = "".join(f'<a href="{esc(href)}">{esc(label)}</a>' for label, href in days)
    # The other days first: a day of a wearable's log is a long page to scroll past.
    zoom = f'<div class="zoom">{links}</div>' if links else ""
    body = f"<h2>{esc(heading)}</h2>{zoom}" + (
        f'<div class="scroll"><table><tr><th>time</th><th>entry</th></tr>{rows}</table></div>'
        f"{_zone_note(settings.zone, lines[-1].time if lines else None)}"
        if lines
        else "<p>Nothing logged in this period.</p>"
    )
    return _document("log", body, current="/log", patient=settings.patient)


def _delivery_cell(row: AlertRow, settings: DisplaySettings) -> str:
    """Whether it arrived, red when something failed or waits; a notice with no address to
    go to is said plainly and not in red: nothing failed, nothing was meant to be sent."""
    addressed = settings.addressed(row.channel)
    state = esc(delivery_state(row, settings.zone, addressed=addressed))
    if row.status == "delivered":
        return f'<td class="d">{state}</td>'
    if row.status == "pending" and not addressed:
        return f'<td class="d muted">{state}</td>'
    return f'<td class="d alarm">{state}</td>'


def _row_summary(row: AlertRow, zone: tzinfo) -> str:
    """What the row says, on the patient's clock (an alert may carry the rule's UTC words)."""
    if not row.summary:
        return kind_words(row.kind, row.channel)
    return local_summary(row.summary, row.created_at, zone)


def _alerts_table(
    rows: Sequence[AlertRow], settings: DisplaySettings, *, empty: str = "No alerts."
) -> str:
    if not rows:
        return f"<p>{esc(empty)}</p>"
    zone = settings.zone
    body = "".join(
        f'<tr><td class="t">{esc(fmt_short(row.created_at, zone))}</td>'
        f"<td>{esc(_row_summary(row, zone))}</td>"
        f"{_delivery_cell(row, settings)}</tr>"
        for row in rows
    )
    return (
        '<div class="scroll"><table><tr><th>sent</th><th>what</th><th class="d">delivery</th></tr>'
        f"{body}</table></div>{_zone_note(zone, rows[0].created_at)}"
    )


def delivery_notes(told: Delivery, zone: tzinfo) -> str:
    """The truth about delivery in plain lines: clinic alerts, the link to the clinic, notices."""
    notes = []
    if told.clinic_undelivered:
        count = plural(len(told.clinic_undelivered), "alert")
        refused = sum(1 for a in told.clinic_undelivered if a.status == "failed")
        why = f" ({refused} refused: a person must fix the setting and resend)" if refused else ""
        notes.append(f'<p class="alarm">{count} not yet received by the clinic{why}.</p>')
    else:
        notes.append("<p>The clinic has received every alert.</p>")
    if told.clinic_silent_since is not None:
        since = esc(fmt_time(told.clinic_silent_since, zone))
        notes.append(
            f'<p class="alarm">Gateway silent since {since}: the clinic has accepted nothing '
            "since; portwatch keeps trying.</p>"
        )
    elif told.clinic_last_reached is not None:
        reached = esc(fmt_time(told.clinic_last_reached, zone))
        notes.append(f"<p>Clinic last reached at {reached}.</p>")
    if told.notices_waiting:
        held = told.notices_held_until
        why = f" (quiet hours, until {esc(fmt_time(held, zone))})" if held is not None else ""
        waiting = plural(told.notices_waiting, "notice")
        notes.append(f"<p>{waiting} to the caregiver or patient wait to be sent{why}.</p>")
    if told.notices_unaddressed:
        unsent = plural(told.notices_unaddressed, "notice")
        notes.append(f"<p>{unsent} to the caregiver or patient not sent: {NO_ADDRESS}.</p>")
    return "".join(notes)


def alerts_page(
    rows: Sequence[AlertRow], settings: DisplaySettings, told: Delivery | None = None
) -> str:
    """Clinic alerts, then notices to people, each with whether it arrived (no heartbeats:
    they only show as "clinic last reached")."""
    zone = settings.zone
    rows = [r for r in rows if r.kind != HEARTBEAT_KIND]
    clinic = [r for r in rows if r.channel == "clinic"]
    notices = [r for r in rows if r.channel != "clinic"]
    if told is None:
        pending = [r for r in clinic if r.status != "delivered"]
        unsent = [r for r in notices if r.status != "delivered"]
        unaddressed = sum(1 for r in unsent if not settings.addressed(r.channel))
        told = Delivery(pending, len(unsent) - unaddressed, None, None, None, unaddressed)
    body = (
        delivery_notes(told, zone)
        + f"<h2>To the clinic</h2>{_alerts_table(clinic, settings)}"
        + "<h2>To the caregiver and patient</h2>"
        + _alerts_table(notices, settings, empty="No notices.")
    )
    return _document("alerts", body, current="/alerts", patient=settings.patient)


def report_page(
    settings: DisplaySettings,
    *,
    done: str | None = None,
    error: str | None = None,
    ticked: Sequence[str] = (),
    note: str = "",
) -> str:
    """The symptom form; `done` or `error` is the outcome of the last submission. A refused
    form comes back as it was filled in (`ticked`, `note`): nobody types a note twice."""
    boxes = "".join(
        f'<label><input type="checkbox" name="symptom" value="{symptom.value}"'
        f"{' checked' if symptom.value in ticked else ''}>"
        f"{esc(SYMPTOM_LABEL[symptom])}</label>"
        for symptom in Symptom
    )
    outcome = ""
    if done:
        outcome = f'<p class="ok" role="status">{esc(done)}</p>'
    if error:
        outcome = f'<p class="err" role="alert">{esc(error)}</p>'
    body = (
        f"{outcome}<p>Tick what you see at the port site. The clinic is alerted at once, "
        "as urgent. If it is an emergency, call the clinic or emergency services.</p>"
        '<form method="post" action="/report">'
        f"<fieldset><legend>Symptoms</legend>{boxes}</fieldset>"
        '<label for="note">Note (optional)</label>'
        f'<textarea id="note" name="note" maxlength="500">{esc(note)}</textarea>'
        '<button type="submit">Send to the clinic</button></form>'
    )
    return _document("report a symptom", body, current="/report", patient=settings.patient)


# The visit summary prints on at most two A4/Letter pages (issue 18): long lists show
# their first rows and say how many more the log holds.
SUMMARY_MAX_ROWS: Final = 10


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], more: str = "") -> str:
    """A table of already-escaped cells; at most SUMMARY_MAX_ROWS rows, then `more`."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    shown = rows[:SUMMARY_MAX_ROWS]
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="t">{c}</td>' if i == 0 else f"<td>{c}</td>" for i, c in enumerate(row)
        )
        + "</tr>"
        for row in shown
    )
    rest = len(rows) - len(shown)
    note = f'<p class="muted">… and {rest} more{esc(more)}.</p>' if rest > 0 else ""
    return f"<table><tr>{head}</tr>{body}</table>{note}"


def _summary_facts(data: SummaryData) -> str:
    settings = data.settings
    zone = settings.zone
    since, until = data.chart.since, data.chart.until
    period = f"{fmt_time(since, zone)} to {fmt_time(until, zone)}"
    if settings.placement is not None and since <= data.now <= until:
        period += f" ({period_text(settings, data.now)})"
    devices = ", ".join(f"{dev} ({site})" for dev, site in data.devices) or "none seen"
    facts = [
        ("Monitored period", period),
        ("Readings logged", f"{data.reading_count:,}"),
        ("Thermometer", devices),
        ("Threshold", fmt_temp(settings.threshold_c, settings.unit)),
        ("Fever episodes", str(len(data.episodes))),
        ("Symptom reports", str(len(data.symptoms))),
        ("Gaps in monitoring", str(len(data.gaps))),
        ("Times", _zone_name(zone, data.now)),
    ]
    return "".join(f"<dt>{esc(label)}</dt><dd>{esc(value)}</dd>" for label, value in facts)


def _episodes_html(data: SummaryData) -> str:
    """The episodes, or why there is none although the chart may show elevated readings."""
    settings = data.settings
    zone, unit = settings.zone, settings.unit
    if data.episodes:
        rows = [
            (
                esc(fmt_short(ep.opened, zone)),
                esc(fmt_short(ep.closed, zone)) if ep.closed else "<b>still open</b>",
                "<br>".join(esc(decision_line(d, zone, unit)) for d in ep.decisions),
            )
            for ep in data.episodes
        ]
        return _table(("opened", "resolved", "decisions"), rows)
    elevated = [
        o for o in data.chart.observations if is_elevated(o.celsius, data.chart.threshold_c)
    ]
    if not elevated:
        return "<p>No fever was confirmed: no reading the rule used was elevated.</p>"
    return (
        f"<p>No fever was confirmed: {plural(len(elevated), 'elevated reading')} (red dots), "
        "none followed by a second one 4 to 24 hours later, as the rule requires.</p>"
    )


def _decisions_html(data: SummaryData) -> str:
    settings = data.settings
    zone = settings.zone
    decisions = [d for d in data.decisions if d.type.value != "reading.invalid"]
    if not decisions:
        return "<p>No elevated observations.</p>"
    rows = [
        (esc(fmt_short(d.time, zone)), esc(decision_line(d, zone, settings.unit)))
        for d in decisions
    ]
    return _table(("time", "decision"), rows, " in the log (portwatch log --events)")


def _symptoms_html(data: SummaryData) -> str:
    if not data.symptoms:
        return "<p>None reported.</p>"
    zone = data.settings.zone
    rows = [
        (esc(fmt_short(s.time, zone)), esc(", ".join(s.symptoms)), esc(s.note))
        for s in data.symptoms
    ]
    return _table(("time", "symptoms", "note"), rows, " in the log")


def _gaps_html(data: SummaryData) -> str:
    """The longest gaps in time order; the limit is the thermometer's own cadence."""
    zone = data.settings.zone
    limit = esc(duration_text(data.chart.min_gap))
    if not data.gaps:
        return f"<p>No gap longer than {limit}.</p>"
    longest = sorted(data.gaps, key=lambda g: g[1] - g[0], reverse=True)[:SUMMARY_MAX_ROWS]
    rows = [
        (esc(fmt_short(a, zone)), esc(fmt_short(b, zone)), esc(_gap_length(a, b, data)))
        for a, b in sorted(longest)
    ]
    total = sum((b - a for a, b in data.gaps), timedelta(0))
    rest = len(data.gaps) - len(longest)
    more = f", {rest} shorter ones not listed" if rest > 0 else ""
    return (
        f'<p class="muted">Silences longer than {limit}: {len(data.gaps)}, '
        f"{esc(duration_text(total))} in all{more}.</p>" + _table(("from", "to", "length"), rows)
    )


def _gap_length(start: datetime, end: datetime, data: SummaryData) -> str:
    """A gap's length, and the pause a person noted in it: a shower is no lost thermometer."""
    reasons = [p.reason for p in data.chart.pauses if p.start < end and start < p.end]
    length = duration_text(end - start)
    return f"{length} (paused: {', '.join(reasons)})" if reasons else length


def _settings_html(data: SummaryData) -> str:
    pairs = list(data.settings.rule_settings) + list(data.extra)
    if not pairs:
        return "<p>Defaults of fever-rule.md.</p>"
    return '<p class="muted">' + "; ".join(f"{esc(k)} = {esc(v)}" for k, v in pairs) + "</p>"


def summary_page(data: SummaryData, *, standalone: bool = False) -> str:
    """The visit summary for the day 7-10 check: at most two printed A4/Letter pages.

    `standalone` leaves out the navigation, for `portwatch summary --out FILE.html`.
    """
    zone = data.settings.zone
    clinic_alerts = [a for a in data.alerts if a.channel == "clinic" and a.kind != HEARTBEAT_KIND]
    body = (
        f'<dl class="status">{_summary_facts(data)}</dl>'
        f"<h2>Temperature</h2>{chart_figure(data.chart, 'Temperature, whole period')}"
        f"<h2>Fever episodes</h2>{_episodes_html(data)}"
        f"<h2>Decisions of the fever rule</h2>{_decisions_html(data)}"
        f"<h2>Symptom reports</h2>{_symptoms_html(data)}"
        f"<h2>Alerts to the clinic</h2>"
        f"{_alerts_table(clinic_alerts[:SUMMARY_MAX_ROWS], data.settings)}"
        f"<h2>Gaps in monitoring</h2>{_gaps_html(data)}"
        f"<h2>Settings in force</h2>{_settings_html(data)}"
        f'<p class="muted">Prepared {esc(fmt_time(data.now, zone))} by portwatch '
        f"{esc(__version__)}.</p>"
    )
    return _document(
        "visit summary",
        body,
        current=None if standalone else "/summary",
        patient=data.settings.patient,
    )


def _zone_name(zone: tzinfo, when: datetime | None = None) -> str:
    """'Europe/Berlin (CET)': the zone, with its abbreviation at `when` ('UTC' once)."""
    abbreviation = when.astimezone(zone).tzname() if when is not None else None
    named = str(zone)
    if abbreviation and abbreviation != named:
        named += f" ({abbreviation})"
    return named


def _zone_note(zone: tzinfo, when: datetime | None = None) -> str:
    """'Times in Europe/Berlin (CET).'"""
    return f'<p class="muted">Times in {esc(_zone_name(zone, when))}.</p>'
