"""The temperature chart drawn with characters, for `portwatch log --chart`.

Pure: the same :class:`~portwatch.web.view.ChartData` as the SVG chart, text out. Each
column covers an equal slice of the period; it shows the spread of readings (``│``), their
median (``●``, or ``▲`` when elevated), and the threshold as a dashed row (``╌``). A row
above the plot marks the rule's decisions; a blank column is a slice with no readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Final

from portwatch.model import DecisionType
from portwatch.web.chart import span_c
from portwatch.web.view import ChartData, in_unit, is_elevated

__all__ = ["DECISION_MARK", "render_text"]

# One letter per decision type on the marker row; the legend under the chart spells them out.
DECISION_MARK: Final[dict[DecisionType, str]] = {
    DecisionType.READING_INVALID: "",
    DecisionType.ELEVATED_FIRST: "e",
    DecisionType.RECHECK_DUE: "r",
    DecisionType.FEVER_CONFIRMED: "F",
    DecisionType.FEVER_ONGOING: "o",
    DecisionType.FEVER_RESOLVED: "R",
}
LABEL_WIDTH: Final = 8  # "101.0°F " on the left of each row
MIN_COLUMNS: Final = 10
MIN_ROWS: Final = 4


@dataclass(frozen=True, slots=True)
class _Cells:
    """One terminal chart's geometry: time → column and °C → row."""

    data: ChartData
    columns: int
    height: int
    low_c: float
    high_c: float

    @property
    def col_s(self) -> float:
        return (self.data.until - self.data.since).total_seconds() / self.columns

    def col_of(self, when: datetime) -> int:
        seconds = (when - self.data.since).total_seconds()
        return min(max(int(seconds / self.col_s), 0), self.columns - 1)

    def row_of(self, celsius: float) -> int:
        fraction = (min(max(celsius, self.low_c), self.high_c) - self.low_c) / (
            self.high_c - self.low_c
        )
        return self.height - 1 - round(fraction * (self.height - 1))


def render_text(data: ChartData, *, width: int = 80, height: int = 14) -> str:
    """The chart in `width` x about `height` + 4 character cells.

    Bands (the spread of every reading) are drawn as "│" with their median "●"; only the
    rule's elevated observations are "▲", as on the page (issue 18).

    Raises:
        ValueError: when the terminal is too small to draw anything useful.
    """
    columns = width - LABEL_WIDTH
    if columns < MIN_COLUMNS or height < MIN_ROWS:
        raise ValueError(f"terminal chart needs at least {MIN_COLUMNS + LABEL_WIDTH}x{MIN_ROWS}")
    if data.until <= data.since:
        raise ValueError(f"chart period is empty: {data.since} to {data.until}")
    cells = _Cells(data, columns, height, *span_c(data))
    grid = _grid(cells)
    marks = [" "] * columns
    for decision in data.decisions:
        mark = DECISION_MARK[decision.type]
        if mark and data.since <= decision.time < data.until:
            marks[cells.col_of(decision.time)] = mark
    unit = data.unit
    threshold_row = cells.row_of(data.threshold_c)
    lines = [" " * LABEL_WIDTH + "".join(marks).rstrip()]
    for row in range(height):
        celsius = cells.high_c - (cells.high_c - cells.low_c) * row / (height - 1)
        label = f"{in_unit(celsius, unit):5.1f}°{unit.value} " if row % 2 == 0 else ""
        if row == threshold_row:
            label = f"{in_unit(data.threshold_c, unit):5.1f}°{unit.value} "
        lines.append(f"{label:>{LABEL_WIDTH}}" + "".join(grid[row]).rstrip())
    lines.append(" " * (LABEL_WIDTH - 1) + "└" + "─" * columns)
    lines.append(" " * LABEL_WIDTH + _axis_labels(data, columns, cells.col_s))
    lines.append(
        f"{'':{LABEL_WIDTH}}● median  │ range  ▲ elevated observation  ╌ threshold "
        f"{in_unit(data.threshold_c, unit):.1f} °{unit.value}  "
        "e first elevated  F fever  o ongoing  R resolved"
    )
    return "\n".join(lines) + "\n"


def _grid(cells: _Cells) -> list[list[str]]:
    """The plot: the threshold row, each column's range and median, the observations."""
    data = cells.data
    per_col: list[list[tuple[float, float, float]]] = [[] for _ in range(cells.columns)]
    for band in data.bands:
        mid = band.start + (band.end - band.start) / 2
        if data.since <= mid < data.until:
            per_col[cells.col_of(mid)].append((band.min_c, band.median_c, band.max_c))
    grid = [[" "] * cells.columns for _ in range(cells.height)]
    threshold_row = cells.row_of(data.threshold_c)
    for col in range(cells.columns):
        grid[threshold_row][col] = "╌"
    for col, cell in enumerate(per_col):
        if not cell:
            continue
        for row in range(
            cells.row_of(max(c[2] for c in cell)), cells.row_of(min(c[0] for c in cell)) + 1
        ):
            grid[row][col] = "│"
        grid[cells.row_of(median(c[1] for c in cell))][col] = "●"
    for obs in data.observations:
        if is_elevated(obs.celsius, data.threshold_c) and data.since <= obs.time < data.until:
            grid[cells.row_of(obs.celsius)][cells.col_of(obs.time)] = "▲"
    return grid


def _axis_labels(data: ChartData, columns: int, col_s: float) -> str:
    """Dates (or hours for a short period) placed under their columns without overlapping."""
    span = data.until - data.since
    step = timedelta(days=1) if span > timedelta(days=2) else timedelta(hours=6)
    local = data.since.astimezone(data.zone)
    if step == timedelta(days=1):
        tick = local.replace(hour=0, minute=0, second=0, microsecond=0) + step
    else:
        tick = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        while tick.hour % 6:
            tick += timedelta(hours=1)
    axis = [" "] * columns
    free_from = 0
    while tick < data.until:
        col = int((tick - data.since).total_seconds() / col_s)
        label = f"{tick:%d %b}" if step == timedelta(days=1) else f"{tick:%H:%M}"
        if col >= free_from and col + len(label) <= columns:
            axis[col : col + len(label)] = label
            free_from = col + len(label) + 1
        tick = (tick.astimezone(data.since.tzinfo) + step).astimezone(data.zone)
    return "".join(axis).rstrip()
