"""The temperature chart, drawn on the server as one self-contained SVG string.

Pure: :class:`~portwatch.web.view.ChartData` in, SVG text out. The log has already
downsampled the readings (a band of min..max per bucket with its median), so the cost
is proportional to the number of buckets, not readings: ten days at one reading per
second come here as a few thousand bands (issue 8: render in under 200 ms).

Colours are presentation attributes, not CSS, so the same SVG works inside the caregiver
page under a strict Content-Security-Policy and inside a saved visit summary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from portwatch.alerts.sentences import clock_time, temperature
from portwatch.model import DecisionType, Unit
from portwatch.period import day_number
from portwatch.web.text import decision_line
from portwatch.web.view import ChartData, Pause, esc, in_unit, is_elevated

__all__ = ["ChartError", "render_svg", "span_c"]

# Drawing area in SVG user units; the SVG scales to its container (viewBox), so these
# only set the aspect ratio and the size of text relative to the plot.
WIDTH: Final = 960
HEIGHT: Final = 360
# The phone layout (issue 8: readable at 360 px): fewer units across, so text stays legible
# when the SVG is scaled down to a narrow screen.
NARROW_WIDTH: Final = 420
NARROW_HEIGHT: Final = 320
# Below this width, day ticks are labelled "d3" instead of "day 3 · 20 Nov".
SHORT_LABELS_BELOW: Final = 700
# A decision label is about this wide; closer ones are staggered onto another row.
LABEL_SPACING: Final = 56
# A label's characters at font-size 12 are at most this wide on average (sans-serif), and a
# pause's reason cut shorter than MIN_LABEL_CHARS says nothing: it is left to the tooltip.
LABEL_CHAR_PX: Final = 7.0
MIN_LABEL_CHARS: Final = 4
MARGIN_LEFT: Final = 52
MARGIN_RIGHT: Final = 12
MARGIN_TOP: Final = 22
MARGIN_BOTTOM: Final = 34

# The vertical range always shows normal body temperature up to a clear fever, so a flat
# normal curve is not stretched into alarming waves (°C; widened when readings go beyond).
MIN_SPAN_LOW_C: Final = 35.5
MIN_SPAN_HIGH_C: Final = 39.5
# fever-rule.md §1: readings outside 30.0-45.0 °C are invalid, so never drawn beyond that.
CLAMP_LOW_C: Final = 30.0
CLAMP_HIGH_C: Final = 45.0

# Two bands further apart than this many bucket widths are not joined by a line: the
# store left them apart because there was nothing between them.
JOIN_SLACK_BUCKETS: Final = 1.5

# Short labels for the decision markers; the full sentence is in each marker's <title>.
DECISION_LABEL: Final[dict[DecisionType, str]] = {
    DecisionType.READING_INVALID: "",
    DecisionType.ELEVATED_FIRST: "elevated",
    DecisionType.RECHECK_DUE: "recheck",
    DecisionType.FEVER_CONFIRMED: "FEVER",
    DecisionType.FEVER_ONGOING: "ongoing",
    DecisionType.FEVER_RESOLVED: "resolved",
}
DECISION_COLOUR: Final[dict[DecisionType, str]] = {
    DecisionType.READING_INVALID: "#888888",
    DecisionType.ELEVATED_FIRST: "#c26a00",
    DecisionType.RECHECK_DUE: "#c26a00",
    DecisionType.FEVER_CONFIRMED: "#b00020",
    DecisionType.FEVER_ONGOING: "#b00020",
    DecisionType.FEVER_RESOLVED: "#2e7d32",
}

COLOUR_BAND: Final = "#9ec5e8"
COLOUR_LINE: Final = "#1f5f99"
COLOUR_THRESHOLD: Final = "#b00020"
COLOUR_GAP: Final = "#e4e4e4"
COLOUR_PAUSE: Final = "#d9ecd9"
COLOUR_GRID: Final = "#d0d0d0"
COLOUR_TEXT: Final = "#333333"
COLOUR_UNUSED: Final = "#8a8a8a"


# Time → x and °C → y mappings of one chart.
_XOf = Callable[[datetime], float]
_YOf = Callable[[float], float]


class ChartError(ValueError):
    """The chart cannot be drawn from this data (an empty or reversed period)."""


@dataclass(frozen=True, slots=True)
class _Frame:
    """One chart's geometry: where the plot is, and time → x and °C → y."""

    data: ChartData
    width: int
    height: int
    low_c: float
    high_c: float

    @property
    def plot_w(self) -> int:
        return self.width - MARGIN_LEFT - MARGIN_RIGHT

    @property
    def plot_h(self) -> int:
        return self.height - MARGIN_TOP - MARGIN_BOTTOM

    @property
    def bottom(self) -> int:
        return MARGIN_TOP + self.plot_h

    def x_of(self, when: datetime) -> float:
        since_s = self.data.since.timestamp()
        scale = self.plot_w / (self.data.until.timestamp() - since_s)
        return MARGIN_LEFT + min(max((when.timestamp() - since_s) * scale, 0.0), self.plot_w)

    def y_of(self, celsius: float) -> float:
        scale = self.plot_h / (self.high_c - self.low_c)
        return self.bottom - (min(max(celsius, self.low_c), self.high_c) - self.low_c) * scale


def render_svg(
    data: ChartData, *, title: str = "Temperature", width: int = WIDTH, height: int = HEIGHT
) -> str:
    """The chart as an SVG element: bands, median line, threshold, marks, gaps and pauses.

    Every point carries its exact value and time in an SVG ``<title>`` (a tooltip without
    JavaScript). Red dots are elevated observations the fever rule used; readings it did
    not use are hollow grey rings whose title says why.

    Raises:
        ChartError: when `until` is not after `since`.
    """
    if data.until <= data.since:
        raise ChartError(f"chart period is empty: since {data.since} is not before {data.until}")
    frame = _Frame(data, width, height, *span_c(data))
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="chart" role="img" aria-label="{esc(title)}" '
        f'font-family="sans-serif" font-size="12">',
        f"<title>{esc(title)}</title>",
        f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{frame.plot_w}" '
        f'height="{frame.plot_h}" fill="#ffffff" stroke="{COLOUR_GRID}"/>',
    ]
    out.extend(_gaps(frame))
    out.extend(_pauses(data.pauses, frame, data))
    out.extend(_time_grid(data, frame.x_of, frame.bottom, short=width < SHORT_LABELS_BELOW))
    out.extend(
        _temp_grid(data.unit, frame.low_c, frame.high_c, frame.y_of, MARGIN_LEFT + frame.plot_w)
    )
    out.extend(_bands(data, frame.x_of, frame.y_of))
    out.append(_threshold(frame))
    out.extend(_points(frame))
    out.extend(_decisions(frame))
    if not data.bands:
        out.append(
            f'<text x="{MARGIN_LEFT + frame.plot_w / 2:.1f}" '
            f'y="{MARGIN_TOP + frame.plot_h / 2:.1f}" '
            f'text-anchor="middle" fill="{COLOUR_TEXT}">no readings in this period</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _gaps(frame: _Frame) -> list[str]:
    data = frame.data
    out = []
    for start, end in data.gaps:
        x0, x1 = frame.x_of(start), frame.x_of(end)
        out.append(
            f'<rect class="gap" x="{x0:.1f}" y="{MARGIN_TOP}" width="{max(x1 - x0, 1.0):.1f}" '
            f'height="{frame.plot_h}" fill="{COLOUR_GAP}"><title>no readings '
            f"{esc(_hm(start, data))} to {esc(_hm(end, data))}</title></rect>"
        )
    return out


def _threshold(frame: _Frame) -> str:
    data = frame.data
    y = frame.y_of(data.threshold_c)
    right = MARGIN_LEFT + frame.plot_w
    return (
        f'<line class="threshold" x1="{MARGIN_LEFT}" x2="{right}" '
        f'y1="{y:.1f}" y2="{y:.1f}" stroke="{COLOUR_THRESHOLD}" '
        f'stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{right - 4}" y="{y - 4:.1f}" text-anchor="end" '
        f'fill="{COLOUR_THRESHOLD}">threshold {in_unit(data.threshold_c, data.unit):.1f} '
        f"°{data.unit.value}</text>"
    )


def _points(frame: _Frame) -> list[str]:
    """Elevated observations the rule used (red dots), and the readings it did not use
    (hollow grey rings), each with its exact value, time and, for the latter, the reason."""
    data = frame.data
    out = []
    for obs in data.observations:
        if is_elevated(obs.celsius, data.threshold_c) and data.since <= obs.time <= data.until:
            shown = temperature(obs, data.unit, both=True)
            out.append(
                f'<circle class="elevated" cx="{frame.x_of(obs.time):.1f}" '
                f'cy="{frame.y_of(obs.celsius):.1f}" r="4" fill="{COLOUR_THRESHOLD}" '
                f'stroke="#ffffff"><title>elevated observation {esc(shown)} at '
                f"{esc(clock_time(obs.time, data.zone, with_day=True))}</title></circle>"
            )
    for point in data.unused:
        if data.since <= point.time <= data.until:
            out.append(
                f'<circle class="unused" cx="{frame.x_of(point.time):.1f}" '
                f'cy="{frame.y_of(point.celsius):.1f}" r="4" fill="none" '
                f'stroke="{COLOUR_UNUSED}" stroke-width="1.5"><title>not used by the fever '
                f"rule: {esc(point.value)} at "
                f"{esc(clock_time(point.time, data.zone, with_day=True))} "
                f"({esc(point.reason)})</title></circle>"
            )
    return out


def _decisions(frame: _Frame) -> list[str]:
    """A marker per decision, labels staggered onto rows so that none overlap."""
    data = frame.data
    out = []
    label_rows: list[float] = []  # x where each label row is free again
    for decision in sorted(data.decisions, key=lambda d: d.time):
        if decision.type is DecisionType.READING_INVALID:
            continue  # one per bad packet: shown in the log, too many to mark
        if not data.since <= decision.time <= data.until:
            continue
        x = frame.x_of(decision.time)
        colour = DECISION_COLOUR[decision.type]
        row = next((i for i, free in enumerate(label_rows) if x >= free), len(label_rows))
        if row == len(label_rows):
            label_rows.append(0.0)
        label_rows[row] = x + LABEL_SPACING
        out.append(
            f'<g class="decision" data-type="{decision.type.value}"><title>'
            f"{esc(decision_line(decision, data.zone, data.unit))}</title>"
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{frame.bottom}" '
            f'stroke="{colour}" stroke-width="1"/>'
            f'<path d="M{x - 5:.1f},{MARGIN_TOP - 8} h10 l-5,8 z" fill="{colour}"/>'
            f'<text x="{x + 6:.1f}" y="{MARGIN_TOP - 2 + 13 * row}" fill="{colour}">'
            f"{DECISION_LABEL[decision.type]}</text></g>"
        )
    return out


def span_c(data: ChartData) -> tuple[float, float]:
    """The vertical range (°C) that shows the data, normal body temperature and the threshold."""
    low, high = MIN_SPAN_LOW_C, MIN_SPAN_HIGH_C
    if data.bands:
        low = min(low, min(b.min_c for b in data.bands) - 0.2)
        high = max(high, max(b.max_c for b in data.bands) + 0.2)
    high = max(high, data.threshold_c + 0.5)
    return max(low, CLAMP_LOW_C), min(high, CLAMP_HIGH_C)


def _hm(when: datetime, data: ChartData) -> str:
    return f"{when.astimezone(data.zone):%d %b %H:%M}"


def _bands(data: ChartData, x_of: _XOf, y_of: _YOf) -> list[str]:
    """The min..max area and the median line, broken wherever the log has a hole."""
    bands = sorted(data.bands, key=lambda b: b.start)
    if not bands:
        return []
    width_s = min(((b.end - b.start).total_seconds() for b in bands), default=0.0)
    slack = timedelta(seconds=max(width_s, 1.0) * JOIN_SLACK_BUCKETS)
    runs: list[list[int]] = [[0]]
    for i in range(1, len(bands)):
        if bands[i].start - bands[i - 1].end > slack:
            runs.append([i])
        else:
            runs[-1].append(i)
    out: list[str] = []
    for run in runs:
        xs = [x_of(bands[i].start + (bands[i].end - bands[i].start) / 2) for i in run]
        if len(run) == 1:
            band = bands[run[0]]
            out.append(
                f'<line x1="{xs[0]:.1f}" x2="{xs[0]:.1f}" y1="{y_of(band.max_c):.1f}" '
                f'y2="{y_of(band.min_c):.1f}" stroke="{COLOUR_BAND}" stroke-width="3"/>'
                f'<circle cx="{xs[0]:.1f}" cy="{y_of(band.median_c):.1f}" r="2" '
                f'fill="{COLOUR_LINE}"/>'
            )
            continue
        top = " ".join(f"{x:.1f},{y_of(bands[i].max_c):.1f}" for x, i in zip(xs, run, strict=True))
        under = " ".join(
            f"{x:.1f},{y_of(bands[i].min_c):.1f}"
            for x, i in zip(reversed(xs), reversed(run), strict=True)
        )
        line = " ".join(
            f"{x:.1f},{y_of(bands[i].median_c):.1f}" for x, i in zip(xs, run, strict=True)
        )
        out.append(
            f'<polygon class="band" points="{top} {under}" fill="{COLOUR_BAND}" '
            f'stroke="none" opacity="0.7"/>'
            f'<polyline class="median" points="{line}" fill="none" stroke="{COLOUR_LINE}" '
            f'stroke-width="1.5" stroke-linejoin="round"/>'
        )
    return out


def pause_label(reason: str, room_px: float) -> str:
    """The pause's reason as it fits `room_px` (up to the plot's right edge): cut with "…"
    when longer, nothing when not even a word fits; the whole reason is in the tooltip."""
    fits = int(room_px / LABEL_CHAR_PX)
    if len(reason) <= fits:
        return reason
    return reason[: fits - 1].rstrip() + "…" if fits >= MIN_LABEL_CHARS else ""


def _pauses(pauses: Sequence[Pause], frame: _Frame, data: ChartData) -> list[str]:
    """Green stripes with their reason written at the plot's foot, clear of the decisions'
    labels at its head."""
    out = []
    right = MARGIN_LEFT + frame.plot_w
    for pause in pauses:
        x0, x1 = frame.x_of(pause.start), frame.x_of(pause.end)
        label = pause_label(pause.reason, right - x0 - 4)
        out.append(
            f'<g class="pause"><rect x="{x0:.1f}" y="{MARGIN_TOP}" width="{max(x1 - x0, 1.0):.1f}"'
            f' height="{frame.plot_h}" fill="{COLOUR_PAUSE}"/>'
            f'<text x="{x0 + 2:.1f}" y="{frame.bottom - 4:.1f}" fill="#2e5e2e">{esc(label)}'
            f"</text><title>paused {esc(_hm(pause.start, data))} to "
            f"{esc(_hm(pause.end, data))}: {esc(pause.reason)}</title></g>"
        )
    return out


def _time_grid(data: ChartData, x_of: _XOf, bottom: float, *, short: bool) -> list[str]:
    """Vertical lines at local midnights (labelled with the date or day N), else every few hours."""
    span = data.until - data.since
    out: list[str] = []
    zone = data.zone
    start_local = data.since.astimezone(zone)
    if span > timedelta(days=2):
        step = timedelta(days=1)
        tick = start_local.replace(hour=0, minute=0, second=0, microsecond=0) + step
    else:
        step = timedelta(hours=3 if span > timedelta(hours=12) else 1)
        tick = start_local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        while tick.hour % (step.seconds // 3600):
            tick += timedelta(hours=1)
    count = 0
    while tick < data.until and count < 48:
        x = x_of(tick)
        if step == timedelta(days=1):
            label = f"{tick:%d %b}"
            if data.placement is not None:
                day = day_number(data.placement, tick, zone)
                label = f"d{day}" if short else f"day {day} · {label}"
            elif short:
                label = f"{tick:%d}"
        else:
            label = f"{tick:%H:%M}" if tick.hour else f"{tick:%d %b}"
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{bottom}" '
            f'stroke="{COLOUR_GRID}" stroke-width="0.5"/>'
            f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" '
            f'fill="{COLOUR_TEXT}">{esc(label)}</text>'
        )
        tick = (tick.astimezone(data.since.tzinfo) + step).astimezone(zone)
        count += 1
    return out


def _temp_grid(unit: Unit, low_c: float, high_c: float, y_of: _YOf, right: float) -> list[str]:
    """Horizontal lines every whole degree of the display unit."""
    low, high = in_unit(low_c, unit), in_unit(high_c, unit)
    out: list[str] = []
    degree = int(low) + 1
    while degree <= high:
        celsius = (degree - 32.0) * 5.0 / 9.0 if unit is Unit.FAHRENHEIT else float(degree)
        y = y_of(celsius)
        out.append(
            f'<line x1="{MARGIN_LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{COLOUR_GRID}" stroke-width="0.5"/>'
            f'<text x="{MARGIN_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="{COLOUR_TEXT}">{degree}°</text>'
        )
        degree += 1
    return out
