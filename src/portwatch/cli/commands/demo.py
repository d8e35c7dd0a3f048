"""`portwatch demo`: the whole product on its embedded default, ten days in about a minute.

No hardware, no settings, no clinic: a virtual CORE wearable on the virtual radio, the
daemon exactly as `portwatch run` wires it, the reference clinic inbox on loopback and the
caregiver page, all on a simulated clock (:mod:`portwatch.sim.sandbox`).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from portwatch.period import day_number

if TYPE_CHECKING:
    from portwatch.config import Settings
    from portwatch.sim.sandbox import Event, Summary

HELP = "watch portwatch do its whole job: ten simulated days in about a minute, no hardware"

# Issue 9: "ten days in about a minute"; issue 20: within 60 s of wall time. Five simulated
# hours a second plays the course's 10 days and 1 hour in 48 s, leaving the rest of the
# minute to start-up, the summary and a busy machine (at 14,400x the pacing alone took 60 s).
DEFAULT_SPEED: Final = 18_000.0
BAR_WIDTH: Final = 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speed",
        type=float,
        default=DEFAULT_SPEED,
        help=f"simulated seconds per real second (default {DEFAULT_SPEED:,.0f}; 0: flat out)",
    )
    parser.add_argument(
        "--days",
        type=float,
        default=None,
        help="play only the first DAYS of the course (default: all of it, 10 days and 1 hour)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep the demo's log in DIR, with DIR/portwatch.toml for `status`, `summary`, "
        "`export` and `alerts` (--config DIR/portwatch.toml); default: a temporary directory",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="keep the caregiver page and the inbox up after the course (Ctrl-C ends)",
    )


class _Progress:
    """A progress bar with the simulated date, and one line per notable event.

    On a terminal the bar redraws in place; elsewhere (CI logs) it prints a plain line
    each simulated day, so the log stays readable.
    """

    def __init__(self, out: TextIO, start: datetime, end: datetime) -> None:
        self._out = out
        self._start = start
        self._end = end
        self._tty = out.isatty()
        self._last_day = -1
        self._bar_shown = False

    def event(self, event: Event) -> None:
        self._clear()
        day = day_number(self._start, event.at, UTC)  # the demo patient's zone is UTC
        self._out.write(f"  day {day:>2} {event.at:%a %H:%M}  {event.text}\n")
        self._out.flush()

    def step(self, now: datetime) -> None:
        share = min(1.0, (now - self._start) / (self._end - self._start))
        day = day_number(self._start, now, UTC)
        if self._tty:
            filled = int(share * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self._out.write(f"\r[{bar}] {share:4.0%}  day {day:>2}  {now:%Y-%m-%d %H:%M} UTC")
            self._out.flush()
            self._bar_shown = True
        elif day != self._last_day:
            self._out.write(f"-- day {day} ({now:%a %Y-%m-%d}), {share:.0%} of the course\n")
            self._out.flush()
        self._last_day = day

    def _clear(self) -> None:
        if self._bar_shown:
            self._out.write("\r" + " " * (BAR_WIDTH + 50) + "\r")
            self._bar_shown = False

    def done(self) -> None:
        self._clear()


def run(args: argparse.Namespace) -> int:
    import asyncio

    if args.state_dir is not None:
        args.state_dir = args.state_dir.resolve()  # the settings file names it absolutely

    try:
        summary = asyncio.run(_play(args))
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(summary.as_json(), indent=2))
    else:
        _print_summary(summary)
    ok = summary.alerts_received >= 1 and summary.duplicates_received == 0
    return 0 if ok or args.days is not None else 1


async def _play(args: argparse.Namespace) -> Summary:
    import asyncio

    from portwatch.sim.sandbox import Sandbox
    from portwatch.sim.scenario import COURSE, DEFAULT_PLACEMENT, MEASUREMENT_INTERVAL_S

    length = COURSE.length if args.days is None else timedelta(days=args.days)
    end = DEFAULT_PLACEMENT + length
    # Progress goes to stderr when stdout is not a terminal (or carries --json).
    out = sys.stderr if args.json or not sys.stdout.isatty() else sys.stdout
    progress = _Progress(out, DEFAULT_PLACEMENT, end)
    out.write(
        f"portwatch demo: {length / timedelta(days=1):.1f} simulated days; a virtual CORE "
        f"wearable measuring every {MEASUREMENT_INTERVAL_S:.0f} s (the virtual radio cannot "
        "carry one a second for ten days in a minute)\n"
    )
    state_dir: Path | None = args.state_dir
    async with Sandbox(on_event=progress.event, state_dir=state_dir) as sandbox:
        await sandbox.play(speed=args.speed or None, until=end, on_step=progress.step)
        progress.done()
        summary = sandbox.summary()
        if state_dir is not None:
            written = write_settings(sandbox.settings(), state_dir / SETTINGS_FILE)
            out.write(f"kept the log in {state_dir}; settings: {written}\n")
        if args.keep_running:
            out.write(
                f"caregiver page: {summary.caregiver_url}\nclinic inbox:   {summary.inbox_url}\n"
                "keeping them up; Ctrl-C to end\n"
            )
            out.flush()
            await asyncio.Event().wait()
    return summary


SETTINGS_FILE: Final = "portwatch.toml"


def _toml(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(str(value))  # a TOML basic string is a JSON string for these values


def write_settings(settings: Settings, path: Path) -> Path:
    """The demo's settings as a portwatch.toml, so that the terminal commands read the
    demo's log as a caregiver's own (`portwatch status --config PATH`). The clinic URL is
    the demo inbox's, closed once the demo ends: nothing is sent from this file."""
    clinic = settings.clinic
    tables: dict[str, dict[str, object]] = {
        "patient": {
            "reference": settings.patient.reference,
            "placement": settings.patient.placement,
            "timezone": settings.patient.timezone,
        },
        "bluetooth": {"backend": "virtual", "address": settings.bluetooth.address or ""},
        "clinic": {
            "url": clinic.url or "",
            "recipient": clinic.recipient or "",
            "format": clinic.format.value,
            "secret_file": clinic.secret_file or "",
        },
        "store": {"state_directory": settings.store.state_directory},
        "display": {"unit": settings.display.unit.value},
    }
    lines = ["# Written by `portwatch demo --state-dir`: the demo's own settings.", ""]
    for table, values in tables.items():
        lines.append(f"[{table}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in values.items() if value != "")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _print_summary(summary: Summary) -> None:
    latency = "n/a" if summary.alert_latency_ms is None else f"{summary.alert_latency_ms:.0f} ms"
    counts: dict[str, int] = {}
    for kind in summary.notification_kinds:
        counts[kind] = counts.get(kind, 0) + 1
    print()
    print("portwatch demo: summary")
    print(f"  simulated:       {summary.simulated_days:g} days in {summary.real_seconds:g} s")
    print(
        f"  readings logged: {summary.readings:,} "
        f"(one every {summary.measurement_interval_s:.0f} s)"
    )
    print(f"  decisions:       {', '.join(summary.decisions) or 'none'}")
    print(
        f"  clinic alerts:   {summary.alerts_sent} sent, {summary.alerts_received} received by "
        f"the inbox, {summary.duplicates_received} duplicates; "
        f"{summary.heartbeats_received} heartbeats"
    )
    print(f"  alert latency:   {latency} (confirming decision logged -> inbox stored it)")
    print(f"  notifications:   {summary.notifications}")
    for kind, count in sorted(counts.items()):
        print(f"    {kind:<28} {count}")
    print(f"  caregiver page:  {summary.caregiver_url or 'not started'}")
    print(f"  clinic inbox:    {summary.inbox_url}")
    print("  (both stopped; --keep-running keeps them up)")
