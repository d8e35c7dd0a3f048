"""`portwatch replay`: scenario files through the real command, decisions as JSON lines."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from portwatch.cli import main as cli

SCENARIOS = Path(__file__).parent / "scenarios"
PLACEMENT = "2026-11-02T08:00:00+00:00"


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    status = cli.main(["replay", *args])
    assert status == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def types(lines: list[dict]) -> list[str]:
    return [line["type"] for line in lines]


def test_replay_confirms_once_when_a_wearable_fever_builds_over_6_hours(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Scenario: a CORE-like day, one sample a minute, fever rising 10:00-16:00; one alert."""
    lines = replay(
        capsys, str(SCENARIOS / "wearable_day_fever_builds.csv"), "--placement", PLACEMENT
    )
    assert types(lines) == ["elevated.first", "fever.confirmed"]
    first, confirmed = lines
    # the 03:20 sensor artefact (two samples of 39.6 °C) is outvoted by its window
    assert first["readings"][0]["time"] >= "2026-11-03T10:00"
    a, b = (datetime.fromisoformat(r["time"]) for r in confirmed["readings"])
    assert (b - a).total_seconds() == 4 * 3600


def test_replay_alerts_nobody_when_the_fever_breaks_after_3_hours(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Scenario: three hours of 38.7 °C then normal: the caregiver hears, the clinic does not."""
    lines = replay(capsys, str(SCENARIOS / "fever_breaks_after_3h.csv"), "--placement", PLACEMENT)
    assert types(lines) == ["elevated.first"]


def test_replay_confirms_when_two_elevated_spots_are_5_hours_apart_with_normal_between(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Scenario: the rule asks for two readings, not a continuous fever."""
    lines = replay(
        capsys, str(SCENARIOS / "two_elevated_spots_5h_apart.csv"), "--placement", PLACEMENT
    )
    (confirmed,) = [line for line in lines if line["type"] == "fever.confirmed"]
    assert confirmed["summary"] == "38.6 °C at 08:00 and 38.4 °C at 13:00 UTC, 5 h apart"
    assert confirmed["late"] is False


def test_replay_alerts_once_when_a_fahrenheit_spot_thermometer_is_used_four_times_a_day(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Scenario: ten days of 4 spot readings a day in °F; one fever, alerted once, resolved."""
    lines = replay(
        capsys, str(SCENARIOS / "fahrenheit_spot_four_a_day.csv"), "--placement", PLACEMENT
    )
    assert types(lines).count("fever.confirmed") == 1
    assert types(lines).count("fever.resolved") == 1
    (confirmed,) = [line for line in lines if line["type"] == "fever.confirmed"]
    assert [r["unit"] for r in confirmed["readings"]] == ["F", "F"]
    assert " °F at " in confirmed["summary"]


def test_replay_prints_every_needed_field_when_it_prints_a_decision(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 5: type, id, time with offset, late, readings (time, celsius) and summary."""
    lines = replay(capsys, str(SCENARIOS / "two_elevated_spots_5h_apart.csv"))
    for line in lines:
        assert {"type", "id", "time", "late", "readings", "summary"} <= line.keys()
        assert datetime.fromisoformat(line["time"]).utcoffset() is not None
        assert all({"time", "celsius"} <= r.keys() for r in line["readings"])
    assert [line["time"] for line in lines] == sorted(line["time"] for line in lines)


def test_replay_runs_time_on_to_until_when_reminders_fall_due_after_the_last_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 5: --until lets reminders and resolutions due after the last reading appear."""
    data = tmp_path / "one.csv"
    data.write_text("time,temperature,unit,kind\n2026-11-03T08:00:00+00:00,38.6,C,spot\n")
    assert types(replay(capsys, str(data))) == ["elevated.first"]
    until = replay(capsys, str(data), "--until", "2026-11-03T12:00:00+00:00")
    assert types(until) == ["elevated.first", "recheck.due"]


def test_replay_uses_the_setting_flags_when_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 5: one flag per setting, durations like 90m."""
    data = tmp_path / "pair.csv"
    data.write_text(
        "time,temperature,unit,kind\n"
        "2026-11-03T08:00:00+00:00,38.1,C,spot\n"
        "2026-11-03T09:30:00+00:00,38.1,C,spot\n"
    )
    assert "fever.confirmed" not in types(replay(capsys, str(data)))
    lines = replay(capsys, str(data), "--threshold-f", "100.5", "--min-separation", "90m")
    assert "fever.confirmed" in types(lines)


def test_replay_uses_the_rule_table_when_given_a_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 5: --config FILE, the [rule] table named like the settings."""
    data = tmp_path / "pair.csv"
    data.write_text(
        "time,temperature,unit,kind\n2026-11-03T08:00:00+00:00,38.1,C,spot\n2026-11-03T09:30:00+00:00,38.1,C,spot\n"
    )
    config = tmp_path / "portwatch.toml"
    config.write_text('[rule]\nthreshold_f = 100.5\nmin_separation = "90m"\n')
    assert "fever.confirmed" in types(replay(capsys, str(data), "--config", str(config)))


def test_replay_exits_2_naming_the_line_when_the_file_is_malformed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 5: a malformed file is reported with its line number, exit status 2."""
    data = tmp_path / "bad.csv"
    data.write_text(
        "time,temperature,unit,kind\n2026-11-03T08:00:00+00:00,38.1,C,spot\n2026-11-03T09:00:00+00:00,hot,C,spot\n"
    )
    assert cli.main(["replay", str(data)]) == 2
    assert "line 3" in capsys.readouterr().err


def test_replay_exits_2_naming_the_setting_when_a_flag_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 5: a threshold outside 99.5-104 °F is refused with the setting's name."""
    data = tmp_path / "one.csv"
    data.write_text("time,temperature,unit,kind\n2026-11-03T08:00:00+00:00,38.1,C,spot\n")
    assert cli.main(["replay", str(data), "--threshold-f", "98"]) == 2
    assert "threshold_f" in capsys.readouterr().err


def test_replay_config_refuses_rule_setting_like_the_daemon_when_out_of_bounds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`replay --config` reads [rule] as `portwatch run` does: one line naming it, exit 2."""
    config = tmp_path / "portwatch.toml"
    config.write_text("[rule]\nthreshold_f = 120\n", encoding="utf-8")
    csv = tmp_path / "r.csv"
    csv.write_text(
        "time,temperature,unit,kind\n2026-11-02T08:00:00+00:00,38.1,C,spot\n", encoding="utf-8"
    )
    assert cli.main(["replay", str(csv), "--config", str(config)]) == 2
    assert "rule.threshold_f = 120" in capsys.readouterr().err


def test_replay_decides_as_import_and_rebuild_do_when_rows_repeat_and_intervals_are_undeclared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """§8 / issue 17: the same rows give the same decisions on every path: `replay` (which
    feeds every row, repeats included) and `import` into the log, then the daemon's rebuild
    from it (which stores each reading once)."""
    from portwatch.fever.rule import FeverRule, RuleSettings
    from portwatch.log import csvio
    from portwatch.log.store import Store

    rows = ["time,temperature,unit,kind"]
    rows += ["2026-11-02T08:00:00+00:00,38.6,C,spot", "2026-11-02T08:00:00+00:00,38.60,C,spot"]
    # a window of 2 samples, each delivered twice, is cut short on every path; the next
    # stream window (no interval: its spacing decides) confirms
    rows += [
        "2026-11-02T12:00:00+00:00,38.9,C,stream",
        "2026-11-02T12:01:00+00:00,38.9,C,stream",
    ] * 2
    rows += [f"2026-11-02T13:0{minute}:00+00:00,38.9,C,stream" for minute in range(3)]
    rows += ["2026-11-02T14:00:00+00:00,37.0,C,spot"]
    data = tmp_path / "repeats.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    replayed = replay(
        capsys, str(data), "--placement", PLACEMENT, "--until", "2026-11-04T00:00:00+00:00"
    )

    with Store.open(tmp_path / "log.db") as store:
        store.import_readings(csvio.read_readings(data))
        stored = store.readings(
            datetime.fromisoformat(PLACEMENT), datetime.fromisoformat("2026-11-03T00:00:00+00:00")
        )
    stored.sort(key=lambda s: s.id)
    rule, made = FeverRule.rebuild(
        RuleSettings(),
        patient="replay",
        placement=datetime.fromisoformat(PLACEMENT),
        pinned_device=None,
        history=[(s.reading, s.reading.received_at) for s in stored],
    )
    made += rule.advance(datetime.fromisoformat("2026-11-04T00:00:00+00:00"))
    assert len(stored) == 7  # each repeat stored once
    (confirmed,) = [line for line in replayed if line["type"] == "fever.confirmed"]
    assert confirmed["readings"][1]["time"].startswith("2026-11-02T13:05")
    assert [(line["type"], line["id"]) for line in replayed] == [
        (d.type.value, str(d.id)) for d in made
    ]
