"""The virtual radio playing a course: what ``bluetooth.backend = "virtual"`` puts on the air.

``portwatch run`` with the virtual radio, and the test entry point :mod:`portwatch.sim.run`,
get the embedded default thermometer of the course (:data:`portwatch.sim.scenario.COURSES`)
playing from the clock's time on.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from portwatch.ble.pin import Pin, save_pin
from portwatch.clock import Clock
from portwatch.config import Settings
from portwatch.log.store import DB_FILE_NAME, Store, StoreError
from portwatch.sim.radio import VirtualCoreWearable, VirtualRadio, VirtualSpotThermometer
from portwatch.sim.scenario import (
    COURSES,
    DEFAULT_COURSE,
    MEASUREMENT_INTERVAL_S,
    Course,
    Thermometer,
    core_celsius,
    spot_times,
    wearable_absences,
)

__all__ = ["course_radio", "play_spot_readings"]


async def course_radio(
    clock: Clock, settings: Settings, scenario: str | None = None
) -> tuple[VirtualRadio, asyncio.Task[None]]:
    """The embedded default thermometer on a started virtual radio, the one the course names.

    It plays the course named ``scenario`` (default: the demo's) from the clock's time on:
    the CORE wearable plays the temperatures and the shower and link drop as absences; the
    spot thermometer takes a reading at each of the course's spot times (see
    :func:`play_spot_readings`).
    The task returned plays them (the caller's to cancel); the radio is the caller's to
    leave (``__aexit__``).
    """
    from portwatch.sim.sandbox import play_absences

    course = COURSES[scenario or DEFAULT_COURSE]
    fevers = course.fevers
    placement = settings.patient.placement
    radio = VirtualRadio(clock)
    await radio.__aenter__()
    if course.thermometer is Thermometer.SPOT:
        spot = await radio.add(
            VirtualSpotThermometer(
                clock,
                store_measurements=True,
                temperature_at=lambda when: core_celsius(placement, when, fevers),
            )
        )
        save_pin(settings.store.state_directory, Pin(spot.address, spot.name, "hts"))
        since = await asyncio.to_thread(_latest_logged_time, settings)
        play = play_spot_readings(clock, spot, course, placement, since)
        return radio, asyncio.create_task(play, name="virtual-course")
    wearable = await radio.add(
        VirtualCoreWearable(
            clock,
            interval_s=MEASUREMENT_INTERVAL_S,
            temperature_at=lambda when: core_celsius(placement, when, fevers),
        )
    )
    save_pin(
        settings.store.state_directory,
        Pin(address=wearable.address, name=wearable.name, driver="core"),
    )
    absences = wearable_absences(course, placement, clock.now())
    away = asyncio.create_task(play_absences(clock, wearable, absences), name="virtual-course")
    return radio, away


def _latest_logged_time(settings: Settings) -> datetime | None:
    """The time of the log's latest reading (None: no log yet, or one the daemon refuses)."""
    try:
        with Store.open_reader(settings.store.state_directory / DB_FILE_NAME) as log:
            latest = log.latest_reading()
    except StoreError:
        return None
    return None if latest is None else latest.reading.time


async def play_spot_readings(
    clock: Clock,
    thermometer: VirtualSpotThermometer,
    course: Course,
    placement: datetime,
    since: datetime | None,
) -> None:
    """The patient takes the course's spot readings on ``clock``, from its time on.

    A restarted ``python -m portwatch.sim.run`` starts a new virtual thermometer; the
    real one would still hold the measurements taken while the gateway was down (spot
    thermometers store what nobody received and send it at the next connection). So
    the course's readings after the log's latest (``since``) and up to now are put in the
    new thermometer's memory first, and sent once the daemon subscribes.
    """
    now = clock.now()
    if since is not None:
        for taken in spot_times(course, placement, since, now):
            thermometer.stored.append(thermometer.measurement_bytes(taken))
    for taken in spot_times(course, placement, now, placement + course.length):
        await clock.sleep((taken - clock.now()).total_seconds())
        await thermometer.take_measurement()
