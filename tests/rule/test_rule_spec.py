"""One test per sentence of shared/spec/fever-rule.md, named after it, boundaries included."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from portwatch.fever.rule import FeverRule, RuleSettings, RuleSettingsError
from portwatch.model import DecisionType, ReadingKind, Special, Unit

from .support import DEVICE, PATIENT, PLACEMENT, at, new_rule, of_type, run, spot, stream

CONFIRMED = DecisionType.FEVER_CONFIRMED
FIRST = DecisionType.ELEVATED_FIRST
INVALID = DecisionType.READING_INVALID


def pair(first: str, second: str, unit: Unit = Unit.CELSIUS, gap_h: float = 4.0) -> list:
    return [spot(at(1), first, unit), spot(at(1 + gap_h), second, unit)]


# §1 Readings ------------------------------------------------------------------------------


def test_provisional_reading_is_never_used_when_elevated() -> None:
    """§1: intermediate values shown while a measurement settles must not confirm a fever."""
    readings = [
        spot(at(1), "39.0", kind=ReadingKind.PROVISIONAL),
        spot(at(6), "39.0", kind=ReadingKind.PROVISIONAL),
    ]
    assert run(readings, until=at(12)) == []


def test_reading_is_invalid_when_it_carries_a_special_value() -> None:
    """§1: an IEEE 11073 NaN has no temperature; it is logged with its reason."""
    reading = replace(spot(at(1), "37.0"), value=None, celsius=None, special=Special.NAN)
    (decision,) = run([reading])
    assert decision.type is INVALID
    assert decision.reason is not None
    assert "nan" in decision.reason


@pytest.mark.parametrize(
    ("value", "valid"), [("29.9", False), ("30.0", True), ("45.0", True), ("45.1", False)]
)
def test_reading_is_invalid_when_outside_30_to_45_celsius(value: str, valid: bool) -> None:
    """§1: 30.0-45.0 °C inclusive; a sensor off the skin reads 25 °C and must not count."""
    decisions = run([spot(at(1), value)])
    assert bool(of_type(decisions, INVALID)) is not valid


def test_reading_is_invalid_when_more_than_5_minutes_ahead_of_the_receiving_clock() -> None:
    """§1: a clock set in the future must not place readings where they pair wrongly."""
    rule = new_rule()
    ahead = rule.feed(spot(at(1, minutes=5, seconds=1), "37.0"), now=at(1))
    on_edge = rule.feed(spot(at(1, minutes=5), "37.1"), now=at(1))
    assert [d.type for d in ahead] == [INVALID]
    assert on_edge == []


def test_reading_is_invalid_when_before_the_placement_less_one_day() -> None:
    """§1: a device clock left at its factory date lands years back; refused, not used."""
    early = spot(PLACEMENT - timedelta(days=1, seconds=1), "37.0")
    edge = spot(PLACEMENT - timedelta(days=1), "37.0")
    assert [d.type for d in run([early])] == [INVALID]
    assert run([edge]) == []


def test_reading_is_invalid_when_from_a_device_other_than_the_pinned_one() -> None:
    """§1: a neighbour's thermometer must never confirm this patient's fever."""
    readings = [
        spot(at(1), "39.0", device="11:22:33:44:55:66"),
        spot(at(6), "39.0", device="11:22:33:44:55:66"),
    ]
    decisions = run(readings, pinned=DEVICE)
    assert [d.type for d in decisions] == [INVALID, INVALID]


# §2 Observations ---------------------------------------------------------------------------


def test_spot_reading_is_an_observation_when_valid() -> None:
    """§2: one spot reading, one observation at its own time."""
    rule = new_rule()
    rule.feed(spot(at(1), "37.2"), now=at(1))
    (obs,) = rule.observations()
    assert obs.time == at(1)
    assert obs.celsius == pytest.approx(37.2)


def _window_samples(start_h: float, values: list[str], interval_s: float = 10.0) -> list:
    return [
        stream(at(start_h, seconds=i * interval_s), v, interval_s=interval_s)
        for i, v in enumerate(values)
    ]


def test_dense_stream_yields_the_median_at_the_window_end_when_a_window_closes() -> None:
    """§2: samples every 10 s are summarised per 5-minute window, epoch-aligned."""
    rule = new_rule()
    for reading in _window_samples(1, ["37.0", "37.4", "37.2"]):
        rule.feed(reading, now=reading.time)
    rule.advance(at(2))
    (obs,) = rule.observations()
    assert obs.time == at(1, minutes=5)
    assert obs.celsius == pytest.approx(37.2)
    assert obs.samples == 3


def test_window_yields_no_observation_when_it_holds_2_samples() -> None:
    """§2: a window cut short by a gap yields none (min_samples = 3)."""
    rule = new_rule()
    for reading in _window_samples(1, ["38.5", "38.5"]):
        rule.feed(reading, now=reading.time)
    rule.advance(at(2))
    assert rule.observations() == []


def test_window_is_not_elevated_when_one_spike_lies_inside_a_normal_window() -> None:
    """§2: "One spike cannot make an elevated observation" - the median ignores it."""
    rule = new_rule()
    for reading in _window_samples(1, ["37.0", "41.0", "37.1", "37.0"]):
        rule.feed(reading, now=reading.time)
    decisions = rule.advance(at(2))
    (obs,) = rule.observations()
    assert obs.celsius < 38.0
    assert of_type(decisions, FIRST) == []


@pytest.mark.parametrize(("interval_s", "observations"), [(100.0, 1), (101.0, 3)])
def test_stream_is_summarised_only_when_3_samples_fit_in_a_window(
    interval_s: float, observations: int
) -> None:
    """§2: an interval of 100 s or less is summarised; a slower stream counts sample by sample."""
    rule = new_rule()
    for reading in _window_samples(1, ["37.0", "37.1", "37.2"], interval_s=interval_s):
        rule.feed(reading, now=reading.time)
    rule.advance(at(2))
    assert len(rule.observations()) == observations


def test_observation_includes_the_site_offset_when_one_is_set() -> None:
    """§2: an armpit sensor reading 37.9 °C with +0.5 °C offset counts as 38.4 °C (elevated)."""
    decisions = run([spot(at(1), "37.9")], settings=RuleSettings(site_offset_c=0.5))
    (first,) = of_type(decisions, FIRST)
    assert first.observations[0].celsius == pytest.approx(38.4)


# §3 Elevated -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "elevated"),
    [
        ("38.3", Unit.CELSIUS, True),
        ("38.2", Unit.CELSIUS, False),
        ("101.0", Unit.FAHRENHEIT, True),
        ("100.9", Unit.FAHRENHEIT, False),
    ],
)
def test_observation_is_elevated_when_at_least_threshold_less_005_celsius(
    value: str, unit: Unit, elevated: bool
) -> None:
    """§3: 38.3 °C and 101.0 °F are elevated; 38.2 °C and 100.9 °F are not."""
    decisions = run([spot(at(1), value, unit)])
    assert bool(of_type(decisions, FIRST)) is elevated


# §4 Fever confirmed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gap", "confirmed"),
    [
        (timedelta(hours=4), True),
        (timedelta(hours=4) - timedelta(seconds=1), False),
        (timedelta(hours=24), True),
        (timedelta(hours=24, seconds=1), False),
    ],
)
def test_fever_is_confirmed_when_4_to_24_hours_apart_bounds_inclusive(
    gap: timedelta, confirmed: bool
) -> None:
    """§4: exactly 4 h and exactly 24 h confirm; a second inside or outside does not."""
    decisions = run([spot(at(1), "38.5"), spot(at(1) + gap, "38.6")])
    assert bool(of_type(decisions, CONFIRMED)) is confirmed


def test_confirmation_cites_the_earliest_partner_when_several_qualify() -> None:
    """§4: the alert cites A (the earliest such) and B, in a sentence a nurse can read."""
    readings = [
        spot(at(0, minutes=15), "101.3", Unit.FAHRENHEIT),
        spot(at(2), "101.5", Unit.FAHRENHEIT),
        spot(at(4, minutes=40), "101.8", Unit.FAHRENHEIT),
    ]
    (alert,) = of_type(run(readings), CONFIRMED)
    assert [o.time for o in alert.observations] == [at(0, minutes=15), at(4, minutes=40)]
    assert alert.summary == "101.3 °F at 08:15 and 101.8 °F at 12:40 UTC, 4 h 25 min apart"
    assert ("threshold_f", "101.0") in alert.settings


def test_late_observation_confirms_and_says_so_when_it_arrives_after_a_reconnection() -> None:
    """§4/§6: stored measurements sent after a reconnection count as if on time; marked late."""
    rule = new_rule()
    rule.feed(spot(at(1), "38.6"), now=at(1))
    rule.feed(spot(at(9), "37.0"), now=at(9))
    decisions = rule.feed(spot(at(6), "38.7"), now=at(10))
    (alert,) = of_type(decisions, CONFIRMED)
    assert alert.late is True
    assert alert.time == at(10)


def test_confirmation_is_not_late_when_its_readings_came_on_time() -> None:
    """§4: "late" must mean something: an alert on time does not carry it."""
    (alert,) = of_type(run([spot(at(1), "38.6"), spot(at(5), "38.7")]), CONFIRMED)
    assert alert.late is False


# §5 Episodes -------------------------------------------------------------------------------


def test_episode_sends_one_confirmed_alert_when_fever_persists() -> None:
    """§5: while an episode is open, no second "confirmed" alert is sent."""
    readings = [spot(at(h), "38.8") for h in range(1, 22, 4)]
    assert len(of_type(run(readings), CONFIRMED)) == 1


def test_episode_sends_ongoing_when_confirmed_again_24_hours_after_the_last_alert() -> None:
    """§5: one "fever ongoing" per realert_after (24 h), counted from the last alert."""
    readings = [spot(at(h), "38.8") for h in range(1, 54, 4)]
    decisions = run(readings)
    (confirmed,) = of_type(decisions, CONFIRMED)
    ongoing = of_type(decisions, DecisionType.FEVER_ONGOING)
    assert [d.observations[1].time for d in ongoing] == [at(29), at(53)]
    assert confirmed.observations[1].time == at(5)


def test_episode_resolves_at_the_later_of_24_hours_and_the_normal_when_a_normal_follows() -> None:
    """§5: resolved at max(last elevated + 24 h, first normal after it)."""
    readings = [spot(at(1), "38.8"), spot(at(5), "38.8"), spot(at(6), "37.0")]
    early_normal = of_type(run(readings, until=at(40)), DecisionType.FEVER_RESOLVED)
    assert [d.time for d in early_normal] == [at(29)]
    readings = [spot(at(1), "38.8"), spot(at(5), "38.8"), spot(at(35), "37.0")]
    late_normal = of_type(run(readings, until=at(40)), DecisionType.FEVER_RESOLVED)
    assert [d.time for d in late_normal] == [at(35)]


def test_episode_stays_open_when_there_are_no_observations_at_all() -> None:
    """§5: silence is not recovery; without a normal observation nothing resolves."""
    decisions = run([spot(at(1), "38.8"), spot(at(5), "38.8")], until=at(200))
    assert of_type(decisions, DecisionType.FEVER_RESOLVED) == []


def test_episode_does_not_resolve_when_elevated_again_exactly_24_hours_later() -> None:
    """§5: an elevated observation at last + 24 h means one was seen within 24 h."""
    readings = [spot(at(1), "38.8"), spot(at(5), "38.8"), spot(at(6), "37.0"), spot(at(29), "38.9")]
    decisions = run(readings, until=at(40))
    assert of_type(decisions, DecisionType.FEVER_RESOLVED) == []


def test_fever_is_confirmed_again_when_it_returns_after_a_resolution() -> None:
    """§5: a fever that comes back after it resolved is a new episode, alerted again."""
    readings = [spot(at(1), "38.8"), spot(at(5), "38.8"), spot(at(6), "37.0")]
    readings += [spot(at(60), "38.8"), spot(at(64), "38.8")]
    decisions = run(readings, until=at(70))
    assert len(of_type(decisions, CONFIRMED)) == 2
    assert len(of_type(decisions, DecisionType.FEVER_RESOLVED)) == 1


def test_first_elevated_tells_the_recheck_time_when_no_episode_is_open() -> None:
    """§5: "elevated at T; recheck due at T + 4 h", to the caregiver, not the clinic."""
    (first,) = run([spot(at(1), "38.5")])
    assert first.type is FIRST
    assert first.due == at(5)
    assert "recheck due at 13:00" in first.summary


def test_elevated_is_not_first_when_another_lies_in_the_pair_window_before_it() -> None:
    """§5: a second elevated reading 2 h later is not a new "first"."""
    decisions = run([spot(at(1), "38.5"), spot(at(3), "38.5")])
    assert [d.observations[0].time for d in of_type(decisions, FIRST)] == [at(1)]


def test_patient_is_reminded_to_recheck_when_the_first_came_from_a_spot_reading() -> None:
    """§5: the patient is reminded at T + 4 h to take a reading."""
    decisions = run([spot(at(1), "38.5")], until=at(6))
    (reminder,) = of_type(decisions, DecisionType.RECHECK_DUE)
    assert reminder.time == at(5)


def test_recheck_reminder_is_not_sent_when_the_fever_was_confirmed_by_then() -> None:
    """§5: "unless the fever has been confirmed by then"."""
    decisions = run([spot(at(1), "38.5"), spot(at(5), "38.5")], until=at(6))
    assert of_type(decisions, DecisionType.RECHECK_DUE) == []


def test_recheck_reminder_is_not_sent_when_the_first_came_from_a_stream() -> None:
    """§5: a wearable measures on its own; nobody needs reminding to take a reading."""
    readings = [stream(at(1, seconds=s), "38.6") for s in range(0, 300, 10)]
    decisions = run(readings, until=at(6))
    assert len(of_type(decisions, FIRST)) == 1
    assert of_type(decisions, DecisionType.RECHECK_DUE) == []


# §6 Order, restarts and identity -----------------------------------------------------------


def test_alert_identifier_is_the_same_when_the_readings_are_fed_again() -> None:
    """§6: derived from patient and observations, so a replay gives the same identifier."""
    readings = [spot(at(1), "38.5"), spot(at(5), "38.5")]
    assert [d.id for d in run(readings)] == [d.id for d in run(readings)]


def test_episode_is_alerted_once_when_its_readings_arrive_in_reverse() -> None:
    """§6: whatever order its readings arrive in, each episode gives one "confirmed"."""
    rule = new_rule()
    readings = [spot(at(h), "38.8") for h in range(1, 30, 3)]
    decisions = []
    for reading in reversed(readings):
        decisions += rule.feed(reading, now=at(31))
    decisions += rule.advance(at(31))
    assert len(of_type(decisions, CONFIRMED)) == 1


def test_rule_decides_nothing_new_when_the_same_reading_is_sent_again() -> None:
    """§6: a thermometer that sends a stored measurement twice must not alert twice."""
    rule = new_rule()
    rule.feed(spot(at(1), "38.5"), now=at(1))
    first = rule.feed(spot(at(5), "38.5"), now=at(5))
    again = rule.feed(spot(at(5), "38.5"), now=at(5, minutes=1))
    assert len(of_type(first, CONFIRMED)) == 1
    assert again == []


# §7 The monitored period -------------------------------------------------------------------


def test_reading_alerts_nobody_when_one_second_outside_the_monitored_period() -> None:
    """§7: readings after placement + 10 days are logged but alert nobody."""
    end = PLACEMENT + timedelta(days=10)
    outside = [
        spot(end - timedelta(hours=4, seconds=-1), "38.8"),
        spot(end + timedelta(seconds=1), "38.8"),
    ]
    inside = [spot(end - timedelta(hours=4), "38.8"), spot(end, "38.8")]
    assert of_type(run(outside), CONFIRMED) == []
    assert len(of_type(run(inside), CONFIRMED)) == 1


def test_reading_alerts_nobody_when_before_the_placement() -> None:
    """§7: monitoring runs from the placement time; the day before is logged only."""
    readings = [
        spot(PLACEMENT - timedelta(hours=5), "38.8"),
        spot(PLACEMENT - timedelta(seconds=1), "38.8"),
    ]
    assert run(readings) == []


# Settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"threshold_f": 99.4}, "threshold_f"),
        ({"threshold_f": 104.1}, "threshold_f"),
        ({"min_separation": timedelta(hours=25)}, "min_separation"),
        ({"window": timedelta(seconds=59)}, "window"),
        ({"healing_days": 0}, "healing_days"),
        ({"min_samples": 0}, "min_samples"),
    ],
)
def test_settings_are_refused_naming_the_setting_when_out_of_range(
    changes: dict, setting: str
) -> None:
    """Issue 5: a setting that makes no sense is refused with a message naming it."""
    with pytest.raises(RuleSettingsError) as caught:
        RuleSettings(**changes)
    assert caught.value.setting == setting
    assert setting in str(caught.value)


def test_settings_are_accepted_when_the_threshold_is_at_its_bounds() -> None:
    """Issue 5: 99.5 and 104 °F are inside the allowed range."""
    assert RuleSettings(threshold_f=99.5).threshold_f == 99.5
    assert RuleSettings(threshold_f=104.0).threshold_f == 104.0


@pytest.mark.parametrize(("spacing_s", "observations"), [(10, 1), (600, 3)])
def test_stream_interval_is_the_median_spacing_when_nothing_declares_it(
    spacing_s: int, observations: int
) -> None:
    """§2: where nothing declares the interval (an imported file), the spacing decides."""
    rule = new_rule()
    for i in range(3):
        reading = replace(stream(at(1, seconds=i * spacing_s), "37.0"), interval_s=None)
        rule.feed(reading, now=reading.time)
    rule.advance(at(3))
    assert len(rule.observations()) == observations


def test_rebuild_returns_the_decisions_already_made_when_restarted_from_the_log() -> None:
    """§6: after a restart the daemon skips what the rebuilt rule says it already decided."""
    history = [(spot(at(1), "38.5"), at(1)), (spot(at(5), "38.6"), at(5))]
    live = new_rule()
    made_live = [d for reading, now in history for d in live.feed(reading, now=now)]
    _, made = FeverRule.rebuild(
        RuleSettings(), patient=PATIENT, placement=PLACEMENT, pinned_device=None, history=history
    )
    assert [d.id for d in made] == [d.id for d in made_live]
    assert [d.type for d in made] == [FIRST, CONFIRMED]


def test_advance_decides_nothing_when_time_has_not_moved() -> None:
    """What is due at T is decided once T has passed, so a tick at T cannot race a reading at T."""
    rule = new_rule()
    rule.feed(spot(at(1), "38.5"), now=at(1))
    assert rule.advance(at(5)) == []
    confirming = rule.feed(spot(at(5), "38.6"), now=at(5))
    assert [d.type for d in confirming] == [CONFIRMED]
    assert rule.advance(at(5, seconds=1)) == []  # no recheck: confirmed by then


def test_summary_keeps_the_devices_digits_when_a_wearable_reports_hundredths() -> None:
    """A sentence rounded to tenths would call 38.27 °C "38.3 °C", the elevated value itself."""
    readings = [spot(at(1), "38.29"), spot(at(5), "38.31"), spot(at(30), "38.27")]
    decisions = run(readings, until=at(60))
    (alert,) = of_type(decisions, CONFIRMED)
    assert alert.summary.startswith("38.29 °C at 09:00 and 38.31 °C at 13:00 UTC")
    (resolved,) = of_type(decisions, DecisionType.FEVER_RESOLVED)
    assert "38.27 °C" in resolved.summary
