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
from datetime import datetime, timedelta
from typing import Final

from portwatch.model import DecisionType, Unit
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


# Time → x and °C → y mappings of one chart.
_XOf = Callable[[datetime], float]
_YOf = Callable[[float], float]


class ChartError(ValueError):
    """The chart cannot be drawn from this data (an empty or reversed period)."""


def render_svg(
    data: ChartData, *, title: str = "Temperature", width: int = WIDTH, height: int = HEIGHT
) -> str:
    """The chart as an SVG element: bands, median line, threshold, marks, gaps and pauses.

    Raises:
        ChartError: when `until` is not after `since`.
    """
    if data.until <= data.since:
        raise ChartError(f"chart period is empty: since {data.since} is not before {data.until}")
    since_s = data.since.timestamp()
    plot_w = width - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = height - MARGIN_TOP - MARGIN_BOTTOM
    x_scale = plot_w / (data.until.timestamp() - since_s)

    low_c, high_c = span_c(data)
    y_scale = plot_h / (high_c - low_c)
    bottom = MARGIN_TOP + plot_h

    def x_of(when: datetime) -> float:
        return MARGIN_LEFT + min(max((when.timestamp() - since_s) * x_scale, 0.0), plot_w)

    def y_of(celsius: float) -> float:
        return bottom - (min(max(celsius, low_c), high_c) - low_c) * y_scale

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="chart" role="img" aria-label="{esc(title)}" '
        f'font-family="sans-serif" font-size="12">',
        f"<title>{esc(title)}</title>",
        f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}" '
        f'fill="#ffffff" stroke="{COLOUR_GRID}"/>',
    ]
    for start, end in data.gaps:
        x0, x1 = x_of(start), x_of(end)
        out.append(
            f'<rect class="gap" x="{x0:.1f}" y="{MARGIN_TOP}" width="{max(x1 - x0, 1.0):.1f}" '
            f'height="{plot_h}" fill="{COLOUR_GAP}"><title>no readings '
            f"{esc(_hm(start, data))} to {esc(_hm(end, data))}</title></rect>"
        )
    out.extend(_pauses(data.pauses, x_of, data, plot_h))
    out.extend(_time_grid(data, x_of, bottom, short=width < SHORT_LABELS_BELOW))
    out.extend(_temp_grid(data.unit, low_c, high_c, y_of, MARGIN_LEFT + plot_w))
    out.extend(_bands(data, x_of, y_of))

    threshold_y = y_of(data.threshold_c)
    out.append(
        f'<line class="threshold" x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + plot_w}" '
        f'y1="{threshold_y:.1f}" y2="{threshold_y:.1f}" stroke="{COLOUR_THRESHOLD}" '
        f'stroke-width="1.5" stroke-dasharray="6 4"/>'
        f'<text x="{MARGIN_LEFT + plot_w - 4}" y="{threshold_y - 4:.1f}" text-anchor="end" '
        f'fill="{COLOUR_THRESHOLD}">threshold {in_unit(data.threshold_c, data.unit):.1f} '
        f"°{data.unit.value}</text>"
    )
    for obs in data.observations:
        if is_elevated(obs.celsius, data.threshold_c) and data.since <= obs.time <= data.until:
            out.append(
                f'<circle class="elevated" cx="{x_of(obs.time):.1f}" cy="{y_of(obs.celsius):.1f}"'
                f' r="4" fill="{COLOUR_THRESHOLD}" stroke="#ffffff"><title>elevated '
                f"{in_unit(obs.celsius, data.unit):.1f} °{data.unit.value} at "
                f"{esc(_hm(obs.time, data))}</title></circle>"
            )
    label_rows: list[float] = []  # x where each label row is free again
    for decision in sorted(data.decisions, key=lambda d: d.time):
        if decision.type is DecisionType.READING_INVALID:
            continue  # one per bad packet: shown in the log, too many to mark
        if not data.since <= decision.time <= data.until:
            continue
        x = x_of(decision.time)
        colour = DECISION_COLOUR[decision.type]
        row = next((i for i, free in enumerate(label_rows) if x >= free), len(label_rows))
        if row == len(label_rows):
            label_rows.append(0.0)
        label_rows[row] = x + LABEL_SPACING
        label_y = MARGIN_TOP - 2 + 13 * row
        out.append(
            f'<g class="decision" data-type="{decision.type.value}"><title>'
            f"{esc(_hm(decision.time, data))}: {esc(decision.summary)}</title>"
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{bottom}" '
            f'stroke="{colour}" stroke-width="1"/>'
            f'<path d="M{x - 5:.1f},{MARGIN_TOP - 8} h10 l-5,8 z" fill="{colour}"/>'
            f'<text x="{x + 6:.1f}" y="{label_y}" fill="{colour}">'
            f"{DECISION_LABEL[decision.type]}</text></g>"
        )
    if not data.bands:
        out.append(
            f'<text x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{MARGIN_TOP + plot_h / 2:.1f}" '
            f'text-anchor="middle" fill="{COLOUR_TEXT}">no readings in this period</text>'
        )
    out.append("</svg>")
    return "".join(out)


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


def _pauses(pauses: Sequence[Pause], x_of: _XOf, data: ChartData, plot_h: int) -> list[str]:
    out = []
    for pause in pauses:
        x0, x1 = x_of(pause.start), x_of(pause.end)
        out.append(
            f'<g class="pause"><rect x="{x0:.1f}" y="{MARGIN_TOP}" width="{max(x1 - x0, 1.0):.1f}"'
            f' height="{plot_h}" fill="{COLOUR_PAUSE}"/>'
            f'<text x="{x0 + 2:.1f}" y="{MARGIN_TOP + 12}" fill="#2e5e2e">{esc(pause.reason)}'
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
                day = (tick - data.placement) // timedelta(days=1) + 1
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
