"""One test per sentence of fever-rule.md clarified for issue 17 (§2, §3, §5-§8), named
after it, in the style of test_rule_spec.py: late, repeated and imported data."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from portwatch.fever.rule import MANUAL_DEVICE, FeverRule, RuleSettings
from portwatch.fever.windows import summarise
from portwatch.model import Decision, DecisionType, Reading, ReadingKind, Unit

from .support import DEVICE, PATIENT, PLACEMENT, at, new_rule, of_type, run, spot, stream

CONFIRMED = DecisionType.FEVER_CONFIRMED
FIRST = DecisionType.ELEVATED_FIRST
RECHECK = DecisionType.RECHECK_DUE
RESOLVED = DecisionType.FEVER_RESOLVED
INVALID = DecisionType.READING_INVALID
WINDOW = timedelta(minutes=5)


def feed(rule: FeverRule, readings: list[Reading], now: datetime | None = None) -> list[Decision]:
    """Each reading arrives at ``now``, or at its own time when ``now`` is None."""
    out: list[Decision] = []
    for reading in readings:
        out += rule.feed(reading, now=now or reading.time)
    return out


def samples(start: datetime, values: list[str], *, every_s: float = 20.0) -> list[Reading]:
    """Samples of a wearable (declared interval ``every_s``) from ``start`` on."""
    return [
        stream(start + timedelta(seconds=i * every_s), v, interval_s=every_s)
        for i, v in enumerate(values)
    ]


# §2 Observations ---------------------------------------------------------------------------


def test_reading_repeated_exactly_is_one_sample_when_a_window_gets_each_of_2_samples_twice() -> (
    None
):
    """§2: same device, time and value is one reading: 2 samples sent twice are not 4."""
    rule = new_rule()
    two = samples(at(1), ["38.9", "38.9"])
    feed(rule, [two[0], two[0], two[1], two[1]])
    decisions = rule.advance(at(2))
    assert rule.observations() == []
    assert decisions == []


def test_reading_repeated_exactly_is_one_observation_when_a_spot_is_imported_twice() -> None:
    """§2: an overlapping import gives one observation, not a pair with itself."""
    rule = new_rule()
    reading = spot(at(1), "38.9")
    feed(rule, [reading, reading], now=at(1))
    feed(rule, [reading], now=at(30))
    assert len(rule.observations()) == 1


def test_window_observation_is_the_median_of_all_its_samples_when_7_arrive_late() -> None:
    """§2: 3 normal samples make an observation; 7 elevated ones of the same window arriving
    late make its observation the median of all 10 (a fever the old rule missed)."""
    rule = new_rule()
    feed(rule, samples(at(1), ["37.0", "37.0", "37.0"]))
    rule.advance(at(1, minutes=20))
    late = [replace(r, time=r.time + timedelta(seconds=60)) for r in samples(at(1), ["38.9"] * 7)]
    feed(rule, late, now=at(3))
    rule.advance(at(4))
    (obs,) = rule.observations()
    assert obs.samples == 10
    assert obs.celsius == pytest.approx(38.9)


def test_late_sample_completes_a_window_cut_short_when_it_arrives_after_later_live_data() -> None:
    """§2: two live samples, the link drops, later live data, then the third (stored) sample:
    the window yields its observation after all."""
    rule = new_rule()
    first_two, third = samples(at(1), ["38.9", "38.9", "38.9"])[:2], samples(at(1), ["38.9"] * 3)[2]
    feed(rule, first_two)
    feed(rule, samples(at(1, minutes=30), ["37.0", "37.0", "37.0"]))
    rule.advance(at(2))
    assert [o.time for o in rule.observations()] == [at(1, minutes=35)]
    feed(rule, [third], now=at(3))
    assert [o.time for o in rule.observations()] == [at(1, minutes=5), at(1, minutes=35)]


def test_late_samples_revise_a_window_that_already_yielded_one() -> None:
    """§2: a window that gave its observation is revised, not left as it was."""
    rule = new_rule()
    feed(rule, samples(at(1), ["37.0", "37.2", "37.4"]))
    rule.advance(at(2))
    feed(rule, samples(at(1, seconds=10), ["37.6", "37.8"]), now=at(3))
    (obs,) = rule.observations()
    assert (obs.samples, obs.celsius) == (5, pytest.approx(37.4))


def test_revised_observation_confirms_a_fever_when_it_becomes_elevated() -> None:
    """§2: a revised observation can make new decisions like any other (here: confirmed)."""
    rule = new_rule()
    feed(rule, [spot(at(1), "38.6")])
    feed(rule, samples(at(6), ["37.0", "37.0", "37.0"]))
    rule.advance(at(7))
    late = samples(at(6, seconds=10), ["38.9"] * 7, every_s=20.0)
    decisions = feed(rule, late, now=at(8)) + rule.advance(at(9))
    (alert,) = of_type(decisions, CONFIRMED)
    assert [o.time for o in alert.observations] == [at(1), at(6, minutes=5)]
    assert alert.late is True


def test_revised_observation_withdraws_nothing_when_it_becomes_normal() -> None:
    """§2: nothing already decided is withdrawn: the first told stays told, none is repeated."""
    rule = new_rule()
    decisions = feed(rule, samples(at(1), ["38.9", "38.9", "38.9"])) + rule.advance(at(2))
    assert len(of_type(decisions, FIRST)) == 1
    later = feed(rule, samples(at(1, seconds=10), ["37.0"] * 7), now=at(3)) + rule.advance(at(4))
    assert later == []
    (obs,) = rule.observations()
    assert obs.celsius == pytest.approx(37.0)


def test_revised_observation_repeats_no_confirmed_when_the_told_b_becomes_normal() -> None:
    """§2 and §6: late samples revise the told B's window to normal (a window's id holds its
    count and median); the next window pairs with the same A. The clinic was told this
    fever and no resolution: a second "confirmed" would be a duplicate, not news."""
    rule = new_rule()
    feed(rule, [spot(at(1), "38.6")])
    live = samples(at(6), ["38.4"] * 3) + samples(at(6, minutes=5), ["38.4"] * 3)
    told = feed(rule, [*live, stream(at(6, minutes=10), "38.4", interval_s=20.0)])
    told += rule.advance(at(7))
    (alert,) = of_type(told, CONFIRMED)
    assert [o.time for o in alert.observations] == [at(1), at(6, minutes=5)]
    late = samples(at(6, seconds=60), ["38.0"] * 4)  # the rest of B's window, sent late
    later = feed(rule, late, now=at(8)) + rule.advance(at(9))
    assert of_type(later, CONFIRMED) == []
    revised = [o for o in rule.observations() if o.time == at(6, minutes=5)]
    assert [(o.samples, o.celsius) for o in revised] == [(7, pytest.approx(38.0))]


def test_window_samples_are_kept_for_the_pair_window_when_a_late_sample_arrives_23_h_later() -> (
    None
):
    """§2: "Keep the samples ... for as long as a late sample could still matter: at least
    pair_window": a stored sample 23 h late still completes its window."""
    rule = new_rule()
    values = samples(at(1), ["38.9", "38.9", "38.9"])
    feed(rule, values[:2])
    rule.advance(at(12))
    feed(rule, [values[2]], now=values[2].time + timedelta(hours=23))
    assert [o.samples for o in rule.observations()] == [3]


def test_window_samples_are_forgotten_when_the_horizon_has_passed() -> None:
    """§2 (memory): after the pair window and two windows, a window's samples are dropped."""
    rule = new_rule()
    feed(rule, samples(at(1), ["37.0", "37.0", "37.0"]))
    rule.advance(at(2))
    assert rule.samples_held() == 3
    rule.advance(at(1) + timedelta(hours=25))
    assert rule.samples_held() == 0


def test_stream_windows_honour_the_window_and_min_samples_settings_on_every_path() -> None:
    """§2: "Every number below is a setting": the pages' windowing is the rule's."""
    settings = RuleSettings(window=timedelta(minutes=2), min_samples=2)
    readings = samples(at(1), ["37.0", "37.2", "37.4", "37.6"], every_s=30.0)
    rule = new_rule(settings)
    feed(rule, readings)
    rule.advance(at(2))
    shown = summarise(readings, settings)
    assert [(o.time, o.samples) for o in shown] == [(at(1, minutes=2), 4)]
    assert [(o.time, o.samples) for o in rule.observations()] == [(at(1, minutes=2), 4)]


# §3 Elevated -------------------------------------------------------------------------------


def test_comparison_is_exact_when_100_91_f_is_the_threshold_less_0_05_c() -> None:
    """§3: 100.91 °F is exactly 101.0 °F less 0.05 °C and is elevated (a bare float >= is not)."""
    reading = spot(at(1), "100.91", Unit.FAHRENHEIT)
    assert reading.celsius is not None
    assert reading.celsius < RuleSettings().elevated_from_c  # the float puts it a hair under
    assert [d.type for d in run([reading])] == [FIRST]
    assert run([spot(at(1), "100.90", Unit.FAHRENHEIT)]) == []


# §5 Episodes -------------------------------------------------------------------------------


def test_confirmed_by_then_means_decided_by_then_when_a_window_ends_exactly_at_the_recheck() -> (
    None
):
    """§5: a wearable window ending exactly at T + 4 h is decided when it closes, after the
    reminder: the reminder is sent, then the fever is confirmed."""
    rule = new_rule()
    decisions = feed(rule, [spot(at(1), "38.6")])
    decisions += feed(rule, samples(at(4, minutes=55), ["38.9", "38.9", "38.9"]))
    decisions += rule.advance(at(6))
    assert [d.type for d in decisions] == [FIRST, RECHECK, CONFIRMED]
    (alert,) = of_type(decisions, CONFIRMED)
    assert alert.observations[1].time == at(5)


def test_first_and_recheck_are_never_sent_when_a_late_reading_is_the_earliest_of_a_told_fever() -> (
    None
):
    """§5: a late reading that turns out to be the earliest of a told fever changes nothing
    told: no late elevated.first, no recheck.due after the clinic was alerted."""
    rule = new_rule()
    told = feed(rule, [spot(at(10), "38.6"), spot(at(14), "38.7")])
    assert len(of_type(told, CONFIRMED)) == 1
    late = rule.feed(spot(at(5), "38.8"), now=at(15)) + rule.advance(at(30))
    assert of_type(late, FIRST) == []
    assert of_type(late, RECHECK) == []
    assert of_type(late, CONFIRMED) == []


# §6 Order, restarts and identity -----------------------------------------------------------


@pytest.mark.parametrize(
    ("delay", "late"), [(timedelta(minutes=10), False), (WINDOW * 2 + timedelta(seconds=1), True)]
)
def test_decision_is_late_when_its_observation_is_more_than_two_windows_older(
    delay: timedelta, late: bool
) -> None:
    """§6: more than two windows (10 min) older than the moment it was decided is late; its
    time is the moment it was decided, its readings carry their own times."""
    rule = new_rule()
    (first,) = rule.feed(spot(at(1), "38.6"), now=at(1) + delay)
    assert first.late is late
    assert first.time == at(1) + delay
    assert first.observations[0].time == at(1)


def _told_then_resolved() -> tuple[FeverRule, list[Decision]]:
    """A fever confirmed 09:00/13:00, a normal reading at 14:00, resolved (told) at 13:00+24 h."""
    rule = new_rule()
    told = feed(rule, [spot(at(1), "38.6"), spot(at(5), "38.7"), spot(at(6), "37.0")])
    told += rule.advance(at(30))
    assert [d.type for d in told] == [FIRST, CONFIRMED, RESOLVED]
    return rule, told


def test_backlog_after_a_told_resolution_starts_a_new_episode_told_late_when_it_shows_a_pair() -> (
    None
):
    """§6: a backlog after a told resolution showing elevated observations after that
    episode's last elevated one: a pair among them no told episode covers starts a new
    episode, told as late."""
    rule, _ = _told_then_resolved()
    backlog = [spot(at(10), "38.8"), spot(at(16), "38.9")]
    decisions = feed(rule, backlog, now=at(31)) + rule.advance(at(32))
    (alert,) = of_type(decisions, CONFIRMED)
    assert alert.late is True
    assert alert.observations[1].time == at(10)


def test_clinic_is_never_left_believing_a_fever_is_over_when_a_late_one_pairs_with_the_told() -> (
    None
):
    """§6: one late elevated reading after the told last elevated one, paired with the told
    episode's own observations, is a confirmed pair the clinic was not told about."""
    rule, _ = _told_then_resolved()
    decisions = rule.feed(spot(at(20), "38.8"), now=at(31)) + rule.advance(at(32))
    (alert,) = of_type(decisions, CONFIRMED)
    assert [o.time for o in alert.observations] == [at(1), at(20)]
    assert alert.late is True


def test_nothing_told_is_withdrawn_when_a_backlog_arrives_after_a_resolution() -> None:
    """§6: the told resolution stands; it is not told again nor withdrawn."""
    rule, told = _told_then_resolved()
    decisions = feed(rule, [spot(at(10), "38.8")], now=at(31)) + rule.advance(at(80))
    assert {d.id for d in told}.isdisjoint(d.id for d in decisions)


def test_same_readings_give_the_same_decisions_when_each_is_delivered_twice() -> None:
    """§6: "the same readings ... give the same decisions with the same identifiers":
    a window of 2 samples each delivered twice does not alert on one path only."""
    values = [spot(at(1), "38.6")]
    values += samples(at(5), ["38.9", "38.9"])
    once = run(values, until=at(10))
    twice = run([r for r in values for _ in range(2)], until=at(10))
    assert [d.id for d in twice] == [d.id for d in once]
    assert of_type(once, CONFIRMED) == []


# §7 The monitored period -------------------------------------------------------------------


def test_reading_exactly_at_placement_counts_when_it_is_half_of_a_pair() -> None:
    """§7: both ends inclusive: a reading exactly at placement counts."""
    decisions = run([spot(PLACEMENT, "38.6"), spot(at(4), "38.7")])
    (alert,) = of_type(decisions, CONFIRMED)
    assert alert.observations[0].time == PLACEMENT


def test_no_reminder_falls_due_when_it_would_be_outside_the_monitored_period() -> None:
    """§7: a first 2 h before the end brings no recheck at end + 2 h."""
    end = PLACEMENT + timedelta(days=10)
    decisions = run([spot(end - timedelta(hours=2), "38.6")], until=end + timedelta(hours=5))
    assert [d.type for d in decisions] == [FIRST]


def test_reading_before_the_placement_is_never_half_of_a_pair() -> None:
    """§7: an elevated reading an hour before placement does not pair with one 4 h after it."""
    decisions = run([spot(PLACEMENT - timedelta(hours=1), "38.9"), spot(at(3), "38.9")])
    assert of_type(decisions, CONFIRMED) == []
    assert len(of_type(decisions, FIRST)) == 1


# §8 Where readings come from ---------------------------------------------------------------


def test_manual_reading_counts_like_a_spot_from_the_pinned_thermometer_when_typed() -> None:
    """§8: a reading typed without a device pairs with the pinned thermometer's."""
    readings = [spot(at(1), "38.6", device=MANUAL_DEVICE), spot(at(5), "38.7")]
    (alert,) = of_type(run(readings, pinned=DEVICE), CONFIRMED)
    assert [o.device for o in alert.observations] == [MANUAL_DEVICE, DEVICE]


@pytest.mark.parametrize(
    ("pinned", "counts"), [(None, True), (DEVICE, True), ("11:22:33:44:55:66", False)]
)
def test_csv_row_naming_a_device_counts_when_it_is_the_pinned_thermometer_or_none_is_pinned(
    pinned: str | None, counts: bool
) -> None:
    """§8: other devices are invalid (§1)."""
    decisions = run([spot(at(1), "38.6"), spot(at(5), "38.7")], pinned=pinned)
    assert bool(of_type(decisions, CONFIRMED)) is counts
    assert bool(of_type(decisions, INVALID)) is not counts


@pytest.mark.parametrize(
    ("reading", "why"),
    [
        (spot(at(1), "29.9"), "outside 30.0-45.0"),
        (spot(at(1), "45.1"), "outside 30.0-45.0"),
        (spot(at(2), "37.0"), "ahead of the receiving clock"),
        (spot(PLACEMENT - timedelta(days=2), "37.0"), "before the placement"),
    ],
)
def test_implausible_readable_reading_is_kept_as_invalid_with_its_reason_when_imported(
    reading: Reading, why: str
) -> None:
    """§8: outside 30-45 °C, in the future, before placement less a day: kept as
    reading.invalid with the reason, never refused and never used."""
    rule = new_rule()
    (decision,) = rule.feed(reading, now=at(1))
    assert decision.type is INVALID
    assert decision.reason is not None
    assert why in decision.reason
    assert rule.observations() == []


def test_every_way_a_reading_enters_counts_the_same_when_replayed_or_rebuilt() -> None:
    """§8: the same rows give the same decisions fed live, rebuilt from the log (each stored
    once) or replayed with a repeated row."""
    rows = [spot(at(1), "38.6"), *samples(at(5), ["38.9", "38.8", "38.7"]), spot(at(7), "37.0")]
    live = run(rows, until=at(40))
    history = [(r, r.time) for r in rows]
    rebuilt, made = FeverRule.rebuild(
        RuleSettings(), patient=PATIENT, placement=PLACEMENT, pinned_device=None, history=history
    )
    made += rebuilt.advance(at(40))
    replayed = run([rows[0], *rows, rows[2]], until=at(40))
    assert [d.id for d in made] == [d.id for d in live] == [d.id for d in replayed]
    assert ReadingKind.STREAM in {r.kind for r in rows}


def test_backlog_pair_is_told_when_the_only_told_episode_after_it_began_after_a_resolution() -> (
    None
):
    """§6: "a pair ... that no told episode covers": a fever told later (confirmed after the
    earlier one was told resolved) does not cover a pair the backlog shows before it."""
    rule, _ = _told_then_resolved()
    later = feed(rule, [spot(at(60), "38.6"), spot(at(64), "38.7"), spot(at(65), "37.0")])
    later += rule.advance(at(89))
    assert [d.type for d in later] == [FIRST, CONFIRMED, RESOLVED]
    backlog = [spot(at(10), "38.8"), spot(at(16), "38.9"), spot(at(20), "37.0")]
    decisions = feed(rule, backlog, now=at(90)) + rule.advance(at(91))
    assert [(d.type, d.late) for d in decisions] == [(CONFIRMED, True), (RESOLVED, True)]
    assert [o.time for o in decisions[0].observations] == [at(1), at(10)]


def test_invalid_reading_repeated_exactly_is_one_decision_when_sent_twice() -> None:
    """§2/§1: an invalid reading delivered twice is kept once with its reason."""
    rule = new_rule()
    off_skin = spot(at(1), "25.0")
    assert [d.type for d in rule.feed(off_skin, now=at(1))] == [INVALID]
    assert rule.feed(off_skin, now=at(1, minutes=1)) == []


def test_comparison_is_exact_in_one_place_when_the_pages_mark_100_91_f_elevated() -> None:
    """§3: the page's mark and the rule's decision come from the same comparison."""
    from portwatch.web.view import f_to_c, is_elevated

    reading = spot(at(1), "100.91", Unit.FAHRENHEIT)
    assert reading.celsius is not None
    assert is_elevated(reading.celsius, f_to_c(101.0))
    assert not is_elevated(spot(at(1), "100.90", Unit.FAHRENHEIT).celsius or 0.0, f_to_c(101.0))


def test_newly_completed_observation_tells_a_late_first_when_it_is_elevated() -> None:
    """§2: a window completed by a late sample makes new decisions like any other: a first,
    marked late."""
    rule = new_rule()
    three = samples(at(1), ["38.9", "38.9", "38.9"])
    decisions = feed(rule, three[:2]) + rule.advance(at(2))
    assert decisions == []
    late = rule.feed(three[2], now=at(3))
    (first,) = of_type(late, FIRST)
    assert first.late is True
    assert first.observations[0].time == at(1, minutes=5)


@pytest.mark.parametrize(
    ("device", "counts"),
    [
        (DEVICE, True),
        (DEVICE.lower(), True),  # a CSV may write the address in lower case
        (MANUAL_DEVICE, True),  # §8: a hand reading counts like the pinned thermometer
        ("11:22:33:44:55:66", False),
    ],
)
def test_which_devices_count_is_one_statement_for_the_rule_and_the_screens(
    device: str, counts: bool
) -> None:
    """§1, §8: the rule and the log's "not used" reasons ask the same question, so a
    screen can never call a reading unused that the rule used for an alert."""
    from portwatch.fever.rule import invalid_reason
    from portwatch.fever.settings import counts_as_pinned

    reading: Reading = replace(spot(at(hours=12), 37.0), device=device)
    refused = invalid_reason(
        reading, RuleSettings(), placement=PLACEMENT, pinned_device=DEVICE, now=at(hours=13)
    )
    assert counts_as_pinned(device, DEVICE) is counts
    assert (refused is None) is counts
