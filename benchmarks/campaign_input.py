"""Campaign: bad CSV files and bad hand-typed readings through the real commands.

``portwatch import FILE.csv`` and ``portwatch add TEMPERATURE [--at TIME]`` are run in
process (``portwatch.cli.main.main``) against a real log on a temporary directory. Each bad file
is a good file with one bad line put at a random place (malformed fields, impossible
temperatures, times in the future, broken quoting, ...); it must be refused with exit status
1, a message naming that line, and nothing imported. Each bad typed reading must be refused
and add nothing. A good file is imported once at the end as a control, so a campaign that
refuses everything cannot pass.

Counts: ``crashed`` is an exception escaping a command; ``duplicated`` is rows added by
importing the good file a second time; ``lost`` does not apply; refusals
that miss the line number, and anything imported from a bad file, are in the notes and fail
the campaign.
"""

from __future__ import annotations

import contextlib
import io
import random
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from portwatch.cli import main as cli

NAME = "bad CSV and typed readings"
QUICK_FILES = 60
FULL_FILES = 1_500
HEADER = "time,temperature,unit,kind,device,site,interval"
GOOD_LINES = 12


def _good_line(at: datetime, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{at.isoformat()},{rng.choice(('98.6', '99.1', '101.2'))},F,spot,manual,mouth,"
    return f"{at.isoformat()},{rng.choice(('36.9', '37.2', '38.4'))},C,stream,core,,60"


def _bad_lines(now: datetime) -> list[tuple[str, str]]:
    """(what is wrong, the line); every one must be refused."""
    past = (now - timedelta(days=2)).isoformat()
    return [
        ("too few fields", f"{past},37.0,C"),
        ("too many fields", f"{past},37.0,C,spot,manual,mouth,,extra"),
        ("time not ISO 8601", "yesterday at noon,37.0,C,spot,manual,mouth,"),
        ("time without offset", "2026-11-20T08:00:00,37.0,C,spot,manual,mouth,"),
        ("time empty", ",37.0,C,spot,manual,mouth,"),
        ("time impossible date", "2026-02-30T08:00:00+00:00,37.0,C,spot,manual,mouth,"),
        ("time a day ahead", f"{(now + timedelta(days=1)).isoformat()},37.0,C,spot,manual,,"),
        ("time 10 min ahead", f"{(now + timedelta(minutes=10)).isoformat()},37,C,spot,manual,,"),
        ("time in year 9999", "9999-12-31T23:59:59+00:00,37.0,C,spot,manual,mouth,"),
        ("temperature not a number", f"{past},hot,C,spot,manual,mouth,"),
        ("temperature empty", f"{past},,C,spot,manual,mouth,"),
        ("temperature NaN", f"{past},NaN,C,spot,manual,mouth,"),
        ("temperature infinite", f"{past},Infinity,F,spot,manual,mouth,"),
        ("temperature huge exponent", f"{past},1e999,C,spot,manual,mouth,"),
        ("temperature comma decimal", f'{past},"38,4",C,spot,manual,mouth,'),
        ("temperature 0 C", f"{past},0,C,spot,manual,mouth,"),
        ("temperature 20 C", f"{past},20.0,C,spot,manual,mouth,"),
        ("temperature 50 C", f"{past},50.0,C,spot,manual,mouth,"),
        ("temperature -38 C", f"{past},-38.0,C,spot,manual,mouth,"),
        ("Celsius value marked F", f"{past},38.4,F,spot,manual,mouth,"),
        ("temperature 120 F", f"{past},120,F,spot,manual,mouth,"),
        ("temperature 1000 F", f"{past},1000,F,spot,manual,mouth,"),
        ("unit K", f"{past},310.15,K,spot,manual,mouth,"),
        ("unit empty", f"{past},37.0,,spot,manual,mouth,"),
        ("unit spelled out", f"{past},37.0,celsius,spot,manual,mouth,"),
        ("kind unknown", f"{past},37.0,C,guess,manual,mouth,"),
        ("kind empty", f"{past},37.0,C,,manual,mouth,"),
        ("site unknown", f"{past},37.0,C,spot,manual,elbow,"),
        ("interval on a spot row", f"{past},37.0,C,spot,manual,mouth,60"),
        ("interval negative", f"{past},37.0,C,stream,core,,-60"),
        ("interval zero", f"{past},37.0,C,stream,core,,0"),
        ("interval NaN", f"{past},37.0,C,stream,core,,nan"),
        ("interval infinite", f"{past},37.0,C,stream,core,,inf"),
        ("interval words", f"{past},37.0,C,stream,core,,a minute"),
        ("unterminated quote", f'{past},"37.0,C,spot,manual,mouth,'),
        ("NUL byte", f"{past},37\x00.0,C,spot,manual,mouth,"),
    ]


def _bad_typed(now: datetime) -> list[tuple[str, list[str]]]:
    """(what is wrong, argv for `portwatch add`); every one must be refused."""
    ahead = (now + timedelta(hours=2)).isoformat()
    return [
        ("no unit", ["101.2"]),
        ("not a number", ["hotF"]),
        ("empty", [""]),
        ("NaN", ["NaNF"]),
        ("infinite", ["InfinityC"]),
        ("unit K", ["310K"]),
        ("20 C", ["20C"]),
        ("50 C", ["50C"]),
        ("-38 C", ["-38C"]),
        ("Celsius value marked F", ["38.4F"]),
        ("120 F", ["120F"]),
        ("comma decimal", ["38,4C"]),
        ("huge exponent", ["1e999C"]),
        ("time two hours ahead", ["38.4C", "--at", ahead]),
        ("time not a time", ["38.4C", "--at", "after lunch"]),
        ("time 25:99", ["38.4C", "--at", "25:99"]),
        ("site unknown", ["38.4C", "--site", "elbow"]),
    ]


def _run_cli(argv: list[str]) -> tuple[int | None, str, BaseException | None]:
    """(exit status, stderr, an exception that escaped) for one in-process command."""
    out, err = io.StringIO(), io.StringIO()
    status: int | None = None
    escaped: BaseException | None = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(argv)
        except SystemExit as exc:  # argparse refusing a value is a refusal, status 2
            status = exc.code if isinstance(exc.code, int) else 2
        except Exception as exc:  # noqa: BLE001 - counting what escapes is the point
            escaped = exc
    return status, err.getvalue(), escaped


def _readings(db: Path) -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db)) as connection:
        return int(connection.execute("SELECT count(*) FROM readings").fetchone()[0])


def run(quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Refuse every bad file and typed reading; import the good control file once."""
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    rng = random.Random(seed)
    now = datetime.now(UTC)
    files = QUICK_FILES if quick else FULL_FILES
    bad_lines = _bad_lines(now)
    tried = crashed = refused_with_line = imported_rows = 0
    problems: list[str] = []

    def problem(text: str) -> None:
        if len(problems) < 3:
            problems.append(text)

    with tempfile.TemporaryDirectory(prefix="portwatch-input-") as tmp:
        directory = Path(tmp)
        db = directory / "portwatch.db"
        start = now - timedelta(days=3)
        for index in range(files):
            what, bad = (
                bad_lines[index % len(bad_lines)]
                if index < len(bad_lines)
                else (rng.choice(bad_lines))
            )
            lines = [_good_line(start + timedelta(minutes=7 * i), rng) for i in range(GOOD_LINES)]
            position = rng.randrange(len(lines) + 1)
            lines.insert(position, bad)
            line_number = position + 2  # the header is line 1
            path = directory / f"case{index}.csv"
            path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
            tried += 1
            status, err, escaped = _run_cli(["import", str(path), "--db", str(db)])
            if escaped is not None:
                crashed += 1
                problem(f"{what}: raised {type(escaped).__name__}")
            elif status != 1 or f"line {line_number}:" not in err:
                problem(f"{what} at line {line_number}: exit {status}, {err.strip()[:80]!r}")
            else:
                refused_with_line += 1
            imported_rows = _readings(db)
        typed_refused = 0
        typed = _bad_typed(now)
        for what, argv in typed:
            tried += 1
            status, err, escaped = _run_cli(["add", *argv, "--db", str(db)])
            if escaped is not None:
                crashed += 1
                problem(f"add {what}: raised {type(escaped).__name__}")
            elif status in (1, 2) and err.strip():
                typed_refused += 1
            else:
                problem(f"add {what}: exit {status}")
        imported_rows = _readings(db)
        control = directory / "good.csv"
        good = [_good_line(start + timedelta(minutes=7 * i), rng) for i in range(GOOD_LINES)]
        control.write_text("\n".join([HEADER, *good]) + "\n", encoding="utf-8")
        control_status, _, _ = _run_cli(["import", str(control), "--db", str(db)])
        control_rows = _readings(db)
        again_status, _, _ = _run_cli(["import", str(control), "--db", str(db)])
        duplicated = _readings(db) - control_rows  # the same file twice adds nothing
    passed = (
        crashed == 0
        and refused_with_line == files
        and typed_refused == len(typed)
        and imported_rows == 0
        and control_status == 0
        and control_rows == GOOD_LINES
        and again_status == 0
        and duplicated == 0
    )
    notes = (
        f"seed={seed}; {refused_with_line}/{files} bad files refused naming their line, "
        f"{typed_refused}/{len(typed)} bad typed readings refused, {imported_rows} rows "
        f"imported from bad input; control file: {control_rows}/{GOOD_LINES} imported, "
        f"{duplicated} rows added by importing it again"
    )
    if problems:
        notes += "; " + "; ".join(problems)
    return {
        "campaign": NAME,
        "tried": tried,
        "lost": None,
        "duplicated": duplicated,
        "crashed": crashed,
        "passed": passed,
        "seed": seed,
        "bad_kinds": len(bad_lines) + len(typed),
        "imported_from_bad_input": imported_rows,
        "notes": notes,
    }
