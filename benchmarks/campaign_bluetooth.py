"""Campaign: the Bluetooth link through drops, absences, a backlog, a dying battery, a stranger.

Real bleak and bleak-retry-connector on the Bumble virtual radio, on a ``VirtualClock``
(``portwatch.ble.link.Link``, ``portwatch.sim.radio``). The patient's spot thermometer keeps the
measurements it cannot send and sends them after the next connection, as real ones do;
the patient takes a reading every 30 min of simulated time. Meanwhile: the link is
dropped at random moments (1,000 times over ten days in the full run, 50 over two days in
the quick one), the thermometer wanders out of range for 1-20 min now and then, stays away
6 h once (its backlog must come back, each reading once), its battery drains away at the
end, and a neighbour's thermometer with a fever (39.5 °C) measures every 10 min all along.

Counts: ``lost`` = measurements the patient took that the link never emitted; ``duplicated``
= measurements emitted more than once; ``crashed`` = the link's task ended. The notes add
readings of the stranger emitted as the patient's (must be 0), the stranger reports, the
battery reports and the link's reconnection count. The sink here is the link's (what the
daemon hands to the log): the log itself is the power-loss campaign's concern.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NAME = "Bluetooth (drops, out of range, 6 h backlog, dead battery, stranger)"
START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
READING_EVERY_S = 1800.0  # the patient takes a spot reading every 30 min
SETTLE_ROUNDS = 64  # loop turns per wake-up for a GATT exchange over LocalLink
MATCH_S = 1.0  # an emitted reading matches a measurement timed within this


async def _campaign(quick: bool, seed: int, state_dir: Path) -> dict[str, Any]:
    from portwatch.ble.link import Link
    from portwatch.ble.pin import Pin, save_pin
    from portwatch.clock import VirtualClock
    from portwatch.model import LinkEventKind
    from portwatch.sim.radio import VirtualRadio, VirtualSpotThermometer
    from portwatch.sim.radio.testing import Recorder, TimedOut, run_until

    rng = random.Random(seed)
    days = 2 if quick else 10
    drops = 50 if quick else 1_000
    clock = VirtualClock(START, settle_rounds=SETTLE_ROUNDS)
    end = START + timedelta(days=days)
    backlog_at = START + timedelta(days=1, hours=2)
    battery_at = end - timedelta(hours=12)
    faults: list[tuple[datetime, str]] = [
        (START + timedelta(seconds=rng.uniform(600, days * 86400 - 7200)), "drop")
        for _ in range(drops)
    ]
    faults += [
        (START + timedelta(seconds=rng.uniform(600, days * 86400 - 7200)), "away")
        for _ in range(days * 3)
    ]
    faults += [(backlog_at, "backlog"), (battery_at, "battery")]
    faults += [
        (START + timedelta(seconds=READING_EVERY_S * (k + 1)), "measure")
        for k in range(int(days * 86400 // READING_EVERY_S) - 1)
    ]
    faults.sort(key=lambda item: item[0])
    recorder = Recorder()
    taken: list[datetime] = []
    crashed = 0
    async with VirtualRadio(clock) as radio:
        stranger = await radio.add(
            VirtualSpotThermometer(
                clock, temperature_at=lambda _now: 39.5, name="Neighbour", measure_every_s=600
            )
        )
        patient = await radio.add(
            VirtualSpotThermometer(
                clock,
                temperature_at=lambda now: 38.6 if now.hour in (9, 10, 11) else 36.9,
                name="Patient",
                store_measurements=True,
            )
        )
        save_pin(state_dir, Pin(patient.address, patient.name, "hts"))
        link = Link(
            clock=clock,
            radio=radio,
            state_dir=state_dir,
            sink=recorder,
            rng=random.Random(seed),
        )
        task = asyncio.get_running_loop().create_task(link.run())
        try:
            await run_until(clock, link.connected.is_set, within_s=60)
            for when, what in faults:
                await clock.advance_to(when)
                if what == "measure":
                    taken.append(clock.now())
                    if clock.now() >= battery_at:
                        # The virtual thermometer drains its battery in its own measuring
                        # loop; this one is measured by hand, so drain it here.
                        await patient._update_battery(READING_EVERY_S)
                    await patient.take_measurement()
                elif what == "drop":
                    await patient.drop_link()
                elif what == "away":
                    await patient.out_of_range(rng.uniform(60, 1200))
                elif what == "backlog":
                    await patient.out_of_range(6 * 3600)
                elif what == "battery":
                    patient.battery_falling(10.0)
                # Let bleak-retry-connector's loop-timed backoff run, as the link tests do.
                with contextlib.suppress(TimedOut):
                    await run_until(
                        clock, link.connected.is_set, within_s=5, step_s=0.5, loop_time_s=0.01
                    )
                if task.done():
                    crashed += 1
                    break
            # The end: the battery is flat; the thermometer leaves for good. Before that, make
            # sure what it still holds has had its chance to come in.
            with contextlib.suppress(TimedOut):
                await run_until(
                    clock,
                    lambda: (
                        len([r for r in recorder.readings if r.device == patient.address])
                        >= len(taken)
                    ),
                    within_s=7 * 3600,
                    step_s=60.0,
                    loop_time_s=0.005,
                )
            await patient.out_of_range(10 * 86400)
            await clock.advance(60)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    mine = [r for r in recorder.readings if r.device == patient.address]
    others = [r for r in recorder.readings if r.device != patient.address]
    matches = dict.fromkeys(taken, 0)
    unmatched = 0
    for reading in mine:
        hits = [t for t in taken if abs((reading.time - t).total_seconds()) <= MATCH_S]
        if not hits:
            unmatched += 1
        for t in hits:
            matches[t] += 1
    lost = sum(1 for n in matches.values() if n == 0)
    missing = [t for t, n in matches.items() if n == 0]

    def context_of(t: datetime) -> str:
        before = [(w, what) for w, what in faults if w <= t and what != "measure"]
        if not before:
            return f"{t:%d %H:%M}"
        w, what = before[-1]
        return f"{t:%d %H:%M} ({what} {(t - w).total_seconds():.0f} s before)"

    duplicated = sum(n - 1 for n in matches.values() if n > 1) + unmatched
    strangers = recorder.events(LinkEventKind.STRANGER_IGNORED)
    battery = recorder.events(LinkEventKind.BATTERY)
    return {
        "tried": drops,
        "lost": lost,
        "duplicated": duplicated,
        "crashed": crashed,
        "stranger_readings": len(others),
        "stranger_reports": len([e for e in strangers if e.device == stranger.address]),
        "battery_reports": len(battery),
        "lowest_battery": min((e.battery_percent or 100 for e in battery), default=None),
        "measurements": len(taken),
        "connections": link.connections,
        "days": days,
        "missing": [context_of(t) for t in missing[:10]],
    }


def run(quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Fault the link; count measurements lost or doubled and stranger readings let in."""
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    logging.getLogger("bumble").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="portwatch-bluetooth-") as tmp:
        result = asyncio.run(_campaign(quick, seed, Path(tmp)))
    passed = (result["lost"], result["duplicated"], result["crashed"]) == (0, 0, 0)
    passed = passed and result["stranger_readings"] == 0 and result["stranger_reports"] >= 1
    notes = (
        f"seed={seed}; {result['days']} days, {result['measurements']} measurements, "
        f"{result['connections']} connections; stranger readings let in: "
        f"{result['stranger_readings']} (reported {result['stranger_reports']}x); battery "
        f"reports {result['battery_reports']}, lowest {result['lowest_battery']}%"
    )
    if result["missing"]:
        notes += f"; missing: {', '.join(result['missing'])}"
    return {"campaign": NAME, **result, "passed": passed, "seed": seed, "notes": notes}
