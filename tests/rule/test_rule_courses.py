"""The rule's promise for late, repeated and batched data (§2, §6), over generated courses.

A course is a few days of a patient's readings: spot readings and wearable sessions
(stream windows, some cut short), each window either normal or elevated throughout. It is
delivered in blocks: some live (each reading at its own time), some stored and sent hours
late in any order, some readings twice; the rule is fed in batches of any size. However it
arrives, the set of confirmed episodes is the same: the episodes one walk along the final
observations finds (an oracle written here independently of the rule), each told by a
"confirmed" alert, and an episode told twice only when a resolution was told inside it
(§6: nothing told is withdrawn, and a backlog showing the fever went on is told).

600 examples (max_examples) take about 10 s on the shared 2-core machine, 3000 about 70 s
(RULE_COURSES=3000 for a longer hunt). Against the rule before issue 17 it fails at once.
"""

from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from portwatch.fever.rule import FeverRule, RuleSettings
from portwatch.fever.windows import summarise
from portwatch.model import Decision, DecisionType, Observation, Reading, ReadingKind

from .support import PLACEMENT, at, new_rule, spot, stream

SETTINGS = RuleSettings()
NORMAL = ["36.8", "37.1", "37.6"]
ELEVATED = ["38.4", "38.7", "39.1"]
INTERVAL_S = 60.0  # five samples fit in a 5-minute window
DAYS = 3
END = at(24 * (DAYS + 2))
# A stored block spans at most 12 h and is sent at most 12 h after its last reading.
STORED_SPAN = timedelta(hours=12)
EXAMPLES = int(os.environ.get("RULE_COURSES", "600"))


def _value(draw: st.DrawFn, elevated: bool) -> str:
    return draw(st.sampled_from(ELEVATED if elevated else NORMAL))


@st.composite
def courses(draw: st.DrawFn) -> list[Reading]:
    """Spot readings and wearable sessions over a few days, in time order; each window
    normal or elevated throughout, so that any part of it is what all of it is."""
    out: list[Reading] = []
    for _ in range(draw(st.integers(0, 10))):
        time = at(minutes=30 * draw(st.integers(0, DAYS * 48)))
        out.append(spot(time, _value(draw, draw(st.booleans()))))
    fevers: dict[datetime, bool] = {}  # per window: two sessions may share one
    for _ in range(draw(st.integers(0, 4))):
        start = at(minutes=5 * draw(st.integers(0, DAYS * 288)))
        for w in range(draw(st.integers(1, 3))):
            window = start + timedelta(minutes=5 * w)
            elevated = fevers.setdefault(window, draw(st.booleans()))
            count = draw(st.integers(1, 5))  # fewer than 3: a window cut short
            for i in range(count):
                time = window + timedelta(seconds=INTERVAL_S * i)
                out.append(stream(time, _value(draw, elevated), interval_s=INTERVAL_S))
    out.sort(key=lambda r: r.time)
    return out


@dataclass(frozen=True)
class Delivery:
    cuts: list[int]  # block boundaries, as fractions of the course
    late_h: list[int]  # per block: 0 = live, else stored and sent so many hours late
    repeats: list[int]  # indices of readings delivered twice
    sizes: list[int]  # batch sizes
    seed: int  # the order within a stored block


deliveries = st.builds(
    Delivery,
    cuts=st.lists(st.integers(0, 100), max_size=4),
    late_h=st.lists(st.sampled_from([0, 0, 1, 3, 6, 12]), min_size=5, max_size=5),
    repeats=st.lists(st.integers(0, 200), max_size=6),
    sizes=st.lists(st.integers(1, 8), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)


def arrivals(course: list[Reading], how: Delivery) -> list[tuple[Reading, datetime]]:
    """The course as it reaches the gateway: (reading, received at), in arrival order.

    Blocks are live or stored; a stored block is sent hours after its last reading, in
    any order, and no reading arrives more than ``pair_window`` after its own time.
    """
    rng = random.Random(how.seed)
    bounds = sorted({0, len(course), *(len(course) * c // 100 for c in how.cuts)})
    out: list[tuple[Reading, datetime]] = []
    blocks = [course[lo:hi] for lo, hi in itertools.pairwise(bounds)]
    for n, block in enumerate(b for whole in blocks for b in _spans(whole)):
        late = how.late_h[n % len(how.late_h)]
        if late == 0:
            out.extend((r, r.time) for r in block)
            continue
        sent = block[-1].time + timedelta(hours=late)
        shuffled = list(block)
        rng.shuffle(shuffled)  # a stored dump in any order
        out.extend((r, sent) for r in shuffled)
    for index in how.repeats:
        if course:
            reading, received = out[index % len(out)]
            out.append((reading, received + timedelta(minutes=rng.choice([0, 1, 90]))))
    out.sort(key=lambda pair: pair[1])  # stable: a dump keeps its shuffled order
    return out


def _spans(block: list[Reading]) -> list[list[Reading]]:
    """A stored block split into spans of at most ``STORED_SPAN``, so that no reading is
    sent more than the pair window after its own time (the horizon §2 guarantees)."""
    spans: list[list[Reading]] = []
    for reading in block:
        if spans and reading.time - spans[-1][0].time <= STORED_SPAN:
            spans[-1].append(reading)
        else:
            spans.append([reading])
    return spans


def deliver(arrived: list[tuple[Reading, datetime]], sizes: list[int]) -> list[Decision]:
    """Feed in batches (a batch is fed, then the rule is advanced to its last arrival)."""
    rule = new_rule()
    out: list[Decision] = []
    i = 0
    while i < len(arrived):
        batch = arrived[i : i + sizes[i % len(sizes)]]
        for reading, received in batch:
            out += rule.feed(reading, now=received)
        out += rule.advance(batch[-1][1])
        i += len(batch)
    return out + rule.advance(END)


# -- the oracle: one walk along the final observations (§2-§5), written independently ----


def final_observations(course: list[Reading]) -> list[Observation]:
    """The observations the log's readings give, in the rule's documented order: by time,
    then device, then the observation's text (two at one instant: "37.6" before "38.4")."""
    spots = {(r.time, r.value): r for r in course if r.kind is ReadingKind.SPOT}
    out = [
        Observation(r.time, r.celsius or 0.0, r.value or 0, r.unit, r.device)
        for r in spots.values()
    ]
    out += summarise((r for r in course if r.kind is ReadingKind.STREAM), SETTINGS)
    return sorted(
        (o for o in out if PLACEMENT <= o.time <= PLACEMENT + timedelta(days=10)),
        key=lambda o: (o.time, o.device, f"{o.value}{o.unit.value}|{o.samples}"),
    )


def oracle_episodes(observations: list[Observation]) -> list[tuple[datetime, datetime | None]]:
    """Each episode as (its earliest elevated observation's time, its end or None)."""
    s = SETTINGS
    elevated = [o.time for o in observations if s.is_elevated(o.celsius)]
    episodes: list[tuple[datetime, datetime | None]] = []
    start: datetime | None = None
    last = normal = None
    for obs in observations:
        if start is not None and last is not None and normal is not None:
            due = max(last + s.resolve_after, normal)
            if due < obs.time:
                episodes.append((start, due))
                start = None
        if not s.is_elevated(obs.celsius):
            normal = normal or obs.time
            continue
        partners = [a for a in elevated if s.min_separation <= obs.time - a <= s.pair_window]
        if start is None and partners:
            start = partners[0]
        last, normal = obs.time, None
    if start is not None:
        due = max(last + s.resolve_after, normal) if last and normal else None
        episodes.append((start, due if due is not None and due < END else None))
    return episodes


def confirmed_episodes(
    decisions: list[Decision], episodes: list[tuple[datetime, datetime | None]]
) -> dict[tuple[datetime, datetime | None], int]:
    """How many "confirmed" alerts each oracle episode got (each alert's B lies in one)."""
    counts = dict.fromkeys(episodes, 0)
    for d in decisions:
        if d.type is DecisionType.FEVER_CONFIRMED:
            b = d.observations[1].time
            (home,) = [e for e in episodes if e[0] <= b and (e[1] is None or b <= e[1])]
            counts[home] += 1
    return counts


def resolutions_inside(decisions: list[Decision], episode: tuple[datetime, datetime | None]) -> int:
    """Resolutions told whose last elevated observation lies inside ``episode``."""
    start, end = episode
    return sum(
        d.type is DecisionType.FEVER_RESOLVED
        and start <= d.observations[0].time
        and (end is None or d.observations[0].time < end)
        for d in decisions
    )


def _describe(arrived: list[tuple[Reading, datetime]]) -> str:
    def h(t: datetime) -> str:
        return f"{(t - PLACEMENT).total_seconds() / 3600:g}h"

    return ", ".join(f"{h(r.time)} {r.value} {r.kind.value[:2]} @{h(t)}" for r, t in arrived)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],  # no slow "explain"
)
@given(course=courses(), how=deliveries)
def test_confirmed_episodes_are_the_same_when_a_course_arrives_late_repeated_or_in_any_batches(
    course: list[Reading], how: Delivery
) -> None:
    """§2/§6: any arrival order, any batching, any duplication: the same confirmed episodes."""
    arrived = arrivals(course, how)
    note(_describe(arrived))
    episodes = oracle_episodes(final_observations(course))
    for decisions in (deliver([(r, r.time) for r in course], [1]), deliver(arrived, how.sizes)):
        got = confirmed_episodes(decisions, episodes)
        note(f"episodes {episodes}; got {got}")
        assert {e for e, n in got.items() if n} == set(episodes)
        for episode, n in got.items():
            assert n <= 1 + resolutions_inside(decisions, episode)
        assert len({d.id for d in decisions}) == len(decisions)


def test_oracle_finds_the_episode_when_two_elevated_spots_are_4_hours_apart() -> None:
    """The oracle itself can fail: one pair is one episode, one reading none."""
    pair = [spot(at(1), "38.6"), spot(at(5), "38.7")]
    assert oracle_episodes(final_observations(pair)) == [(at(1), None)]
    assert oracle_episodes(final_observations(pair[:1])) == []
    rule: FeverRule = new_rule()
    assert rule.observations() == []
