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
from portwatch.model import Symptom
from portwatch.web.chart import NARROW_HEIGHT, NARROW_WIDTH, render_svg
from portwatch.web.text import (
    SYMPTOM_LABEL,
    alert_text,
    decision_line,
    status_lines,
)
from portwatch.web.view import (
    AlertRow,
    ChartData,
    DisplaySettings,
    LogLine,
    StatusData,
    SummaryData,
    esc,
    fmt_short,
    fmt_temp,
    fmt_time,
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
dl.status{display:grid;grid-template-columns:max-content 1fr;gap:.3rem .8rem;margin:0}
dl.status dt{font-weight:600}
dl.status dd{margin:0}
.alarm{color:#b00020;font-weight:700}
.chart{width:100%;height:auto;display:block;background:#fff}
.narrow{display:none}
@media (max-width:600px){.wide{display:none}.narrow{display:block}td.t{white-space:normal}}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #ddd;vertical-align:top}
td.t{white-space:nowrap}
td{overflow-wrap:break-word}
.what{color:#666;font-size:.85em}
tr.elevated td{color:#b00020;font-weight:600}
.scroll{overflow-x:auto}
.zoom{display:flex;flex-wrap:wrap;gap:.3rem}
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


def now_page(status: StatusData) -> str:
    """The status screen, refreshing itself."""
    rows = []
    for label, value in status_lines(status):
        alarm = label == "Fever" and value != "none"
        cls = ' class="alarm"' if alarm else ""
        rows.append(f"<dt>{esc(label)}</dt><dd{cls}>{esc(value)}</dd>")
    body = (
        f'<dl class="status">{"".join(rows)}</dl>'
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
        "observations. Triangles: what the fever rule decided.</p>"
        f'<div class="zoom">{links}</div>'
    )
    return _document("chart", body, current="/chart", patient=settings.patient)


def log_page(lines: Sequence[LogLine], settings: DisplaySettings, heading: str) -> str:
    """Readings (observations for streams), link events and decisions, newest first."""
    rows = "".join(
        f"<tr{' class=elevated' if line.elevated else ''}>"
        f'<td class="t">{esc(fmt_short(line.time, settings.zone))}</td>'
        f'<td><span class="what">{esc(line.what)}</span> {"elevated " if line.elevated else ""}'
        f"{esc(line.text)}</td></tr>"
        for line in reversed(lines)
    )
    body = f"<h2>{esc(heading)}</h2>" + (
        f'<div class="scroll"><table><tr><th>time</th><th>entry</th></tr>{rows}</table></div>'
        f"{_zone_note(settings.zone)}"
        if lines
        else "<p>Nothing logged in this period.</p>"
    )
    return _document("log", body, current="/log", patient=settings.patient)


def _alerts_table(rows: Sequence[AlertRow], zone: tzinfo) -> str:
    if not rows:
        return "<p>No alerts.</p>"
    body = "".join(
        f'<tr><td class="t">{esc(fmt_short(row.created_at, zone))}</td>'
        f"<td>{esc(row.summary or row.kind)}</td>"
        f"<td{' class=alarm' if row.status != 'delivered' else ''}>"
        f"{esc(alert_text(row, zone).split(': ', 1)[1])}</td></tr>"
        for row in rows
    )
    return (
        '<div class="scroll"><table><tr><th>sent</th><th>alert</th><th>delivery</th></tr>'
        f"{body}</table></div>{_zone_note(zone)}"
    )


def alerts_page(rows: Sequence[AlertRow], settings: DisplaySettings) -> str:
    """Every alert and notification, with whether the clinic has received it."""
    pending = [r for r in rows if r.status != "delivered"]
    note = (
        f'<p class="alarm">{len(pending)} not yet received by the clinic.</p>'
        if pending
        else "<p>Every alert has been received.</p>"
    )
    body = note + _alerts_table(rows, settings.zone)
    return _document("alerts", body, current="/alerts", patient=settings.patient)


def report_page(
    settings: DisplaySettings, *, done: str | None = None, error: str | None = None
) -> str:
    """The symptom form; `done` or `error` is the outcome of the last submission."""
    boxes = "".join(
        f'<label><input type="checkbox" name="symptom" value="{symptom.value}">'
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
        '<textarea id="note" name="note" maxlength="500"></textarea>'
        '<button type="submit">Send to the clinic</button></form>'
    )
    return _document("report a symptom", body, current="/report", patient=settings.patient)


def summary_page(data: SummaryData, *, standalone: bool = False) -> str:
    """The visit summary for the day 7-10 check: printable on one or two A4/Letter pages.

    `standalone` leaves out the navigation, for `portwatch summary --out FILE.html`.
    """
    settings = data.settings
    zone = settings.zone
    since, until = data.chart.since, data.chart.until

    def t(when: datetime | None) -> str:
        return esc(fmt_time(when, zone)) if when is not None else "-"

    def ts(when: datetime | None) -> str:  # in table rows: short, the zone said once
        return esc(fmt_short(when, zone)) if when is not None else "-"

    day = settings.day_of_period(data.now)
    period = f"{t(since)} to {t(until)}" + (
        f" (day {day} of {settings.healing_days})" if day is not None else ""
    )
    facts = [
        ("Monitored period", period),
        ("Readings logged", f"{data.reading_count:,}"),
        (
            "Thermometer",
            esc(", ".join(f"{dev} ({site})" for dev, site in data.devices) or "none seen"),
        ),
        ("Threshold", esc(fmt_temp(settings.threshold_c, settings.unit))),
        ("Fever episodes", str(len(data.episodes))),
        ("Symptom reports", str(len(data.symptoms))),
        ("Gaps in monitoring", str(len(data.gaps))),
    ]
    facts_html = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in facts)

    if data.episodes:
        episodes = "".join(
            f'<tr><td class="t">{ts(ep.opened)}</td><td class="t">'
            f"{ts(ep.closed) if ep.closed else '<b>still open</b>'}</td>"
            f"<td>{'<br>'.join(esc(decision_line(d)) for d in ep.decisions)}</td></tr>"
            for ep in data.episodes
        )
        episodes_html = (
            f"<table><tr><th>opened</th><th>resolved</th><th>decisions</th></tr>{episodes}</table>"
        )
    else:
        episodes_html = "<p>No fever was confirmed.</p>"

    decisions = [d for d in data.decisions if d.type.value != "reading.invalid"]
    decisions_html = (
        "<table><tr><th>time</th><th>decision</th></tr>"
        + "".join(
            f'<tr><td class="t">{ts(d.time)}</td><td>{esc(decision_line(d))}</td></tr>'
            for d in decisions
        )
        + "</table>"
        if decisions
        else "<p>No elevated observations.</p>"
    )
    symptoms_html = (
        "<table><tr><th>time</th><th>symptoms</th><th>note</th></tr>"
        + "".join(
            f'<tr><td class="t">{ts(s.time)}</td><td>{esc(", ".join(s.symptoms))}</td>'
            f"<td>{esc(s.note)}</td></tr>"
            for s in data.symptoms
        )
        + "</table>"
        if data.symptoms
        else "<p>None reported.</p>"
    )
    gaps_html = (
        "<table><tr><th>from</th><th>to</th><th>length</th></tr>"
        + "".join(
            f'<tr><td class="t">{ts(a)}</td><td class="t">{ts(b)}</td>'
            f"<td>{esc(_duration(b - a))}</td></tr>"
            for a, b in data.gaps
        )
        + "</table>"
        if data.gaps
        else f"<p>No gap longer than {esc(_duration(settings.min_gap))}.</p>"
    )
    clinic_alerts = [a for a in data.alerts if a.channel == "clinic"]
    settings_rows = list(settings.rule_settings) + list(data.extra)
    settings_html = (
        "<table>"
        + "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in settings_rows)
        + "</table>"
        if settings_rows
        else "<p>Defaults of fever-rule.md.</p>"
    )
    body = (
        f'<dl class="status">{facts_html}</dl>'
        f"<h2>Temperature</h2>{chart_figure(data.chart, 'Temperature, whole period')}"
        f"<h2>Fever episodes</h2>{episodes_html}"
        f"<h2>Decisions of the fever rule</h2>{decisions_html}"
        f"<h2>Symptom reports</h2>{symptoms_html}"
        f"<h2>Alerts to the clinic</h2>{_alerts_table(clinic_alerts, zone)}"
        f"<h2>Gaps in monitoring</h2>{gaps_html}"
        f"<h2>Settings in force</h2>{settings_html}"
        f'<p class="muted">Prepared {t(data.now)} by portwatch {esc(__version__)}.</p>'
    )
    return _document(
        "visit summary",
        body,
        current=None if standalone else "/summary",
        patient=settings.patient,
    )


def _zone_note(zone: tzinfo) -> str:
    return f'<p class="muted">Times in {esc(str(zone))}.</p>'


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
