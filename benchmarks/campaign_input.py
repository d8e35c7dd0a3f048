"""Campaign: bad CSV files and bad hand-typed readings through the real commands.

``portwatch import FILE.csv`` and ``portwatch add TEMPERATURE [--at TIME]`` are run in
process (``portwatch.cli.main.main``) against a real log on a temporary directory. Each bad file
is a good file with one unreadable line put at a random place (malformed fields, numbers
that are none, times before UTC began, broken quoting, bytes that are not UTF-8, terminal
escapes, ...); it must be refused with exit status 2, one line naming that line (with no
escape sequence in it), and nothing imported. A file with one readable but implausible line
(a unit mix-up, a time in the future) is imported whole, that row kept as invalid
(fever-rule.md §8). Each bad typed reading must be refused with status 2 in one line and add
nothing. A good file (a U+2028 inside a cell, a row without a device) is imported once at
the end as a control, so a campaign that refuses everything cannot pass.

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
from dataclasses import dataclass, field
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
    """(what is wrong, the line): lines that cannot be read; each refuses its file (§8)."""
    past = (now - timedelta(days=2)).isoformat()
    return [
        ("too few fields", f"{past},37.0,C"),
        ("too many fields", f"{past},37.0,C,spot,manual,mouth,,extra"),
        ("time not ISO 8601", "yesterday at noon,37.0,C,spot,manual,mouth,"),
        ("time without offset", "2026-11-20T08:00:00,37.0,C,spot,manual,mouth,"),
        ("time empty", ",37.0,C,spot,manual,mouth,"),
        ("time impossible date", "2026-02-30T08:00:00+00:00,37.0,C,spot,manual,mouth,"),
        ("time before UTC began", "0001-01-01T00:00:00+05:00,37.0,C,spot,manual,mouth,"),
        ("time in year 9999", "9999-12-31T23:59:59+00:00,37.0,C,spot,manual,mouth,"),
        ("time in year 1", "0001-01-01T00:00:00+00:00,37.0,C,spot,manual,mouth,"),
        ("temperature not a number", f"{past},hot,C,spot,manual,mouth,"),
        ("temperature empty", f"{past},,C,spot,manual,mouth,"),
        ("temperature NaN", f"{past},NaN,C,spot,manual,mouth,"),
        ("temperature infinite", f"{past},Infinity,F,spot,manual,mouth,"),
        ("temperature huge exponent", f"{past},1e999,C,spot,manual,mouth,"),
        ("temperature decimal overflow", f"{past},1E9999999,C,spot,manual,mouth,"),
        ("temperature 400 nines", f"{past},{'9' * 400},C,spot,manual,mouth,"),
        ("temperature comma decimal", f'{past},"38,4",C,spot,manual,mouth,'),
        ("unit K", f"{past},310.15,K,spot,manual,mouth,"),
        ("unit empty", f"{past},37.0,,spot,manual,mouth,"),
        ("unit spelled out", f"{past},37.0,celsius,spot,manual,mouth,"),
        ("kind unknown", f"{past},37.0,C,guess,manual,mouth,"),
        ("kind empty", f"{past},37.0,C,,manual,mouth,"),
        ("kind with a terminal escape", f"{past},37.0,C,\x1b[2K\x1b[1Aspot,manual,mouth,"),
        ("site unknown", f"{past},37.0,C,spot,manual,elbow,"),
        ("interval on a spot row", f"{past},37.0,C,spot,manual,mouth,60"),
        ("interval negative", f"{past},37.0,C,stream,core,,-60"),
        ("interval zero", f"{past},37.0,C,stream,core,,0"),
        ("interval NaN", f"{past},37.0,C,stream,core,,nan"),
        ("interval infinite", f"{past},37.0,C,stream,core,,inf"),
        ("interval words", f"{past},37.0,C,stream,core,,a minute"),
        ("unterminated quote", f'{past},"37.0,C,spot,manual,mouth,'),
        ("NUL byte", f"{past},37\x00.0,C,spot,manual,mouth,"),
        # written with errors="surrogateescape": the bytes 0xE9 0xFF, not UTF-8
        ("not UTF-8", f"{past},37.0,C,spot,Jos\udce9\udcff,mouth,"),
    ]


def _implausible_lines(now: datetime) -> list[tuple[str, str]]:
    """(what is implausible, the line): readable, so kept as invalid with a reason (§8)."""
    past = (now - timedelta(days=2)).isoformat()
    return [
        ("time a day ahead", f"{(now + timedelta(days=1)).isoformat()},37.0,C,spot,manual,,"),
        ("time 10 min ahead", f"{(now + timedelta(minutes=10)).isoformat()},37,C,spot,manual,,"),
        ("temperature 0 C", f"{past},0,C,spot,manual,mouth,"),
        ("temperature 20 C", f"{past},20.0,C,spot,manual,mouth,"),
        ("temperature 50 C", f"{past},50.0,C,spot,manual,mouth,"),
        ("temperature -38 C", f"{past},-38.0,C,spot,manual,mouth,"),
        ("Celsius value marked F", f"{past},38.4,F,spot,manual,mouth,"),
        ("temperature 120 F", f"{past},120,F,spot,manual,mouth,"),
        ("temperature 1000 F", f"{past},1000,F,spot,,mouth,"),
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
        ("decimal overflow", ["1E9999999F"]),
        ("time two hours ahead", ["38.4C", "--at", ahead]),
        ("time not a time", ["38.4C", "--at", "after lunch"]),
        ("time 25:99", ["38.4C", "--at", "25:99"]),
        ("time before UTC began", ["38.4C", "--at", "0001-01-01T00:00:00+05:00"]),
        ("time in year 1", ["101F", "--at", "0001-01-01"]),
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


def _readings(db: Path, where: str = "") -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db)) as connection:
        sql = f"SELECT count(*) FROM readings {where}"  # noqa: S608 (constant clauses)
        return int(connection.execute(sql).fetchone()[0])


@dataclass
class _Tally:
    """What the campaign counts, and the first few problems it found."""

    tried: int = 0
    crashed: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.problems) < 3:
            self.problems.append(text)


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8", errors="surrogateescape")


def _one_line_refusal(status: int | None, err: str, says: str) -> bool:
    """Status 2 and one line saying `says` (or argparse's usage and its one error line)."""
    lines = [line for line in err.splitlines() if line.strip()]
    if lines and lines[0].startswith("usage:") and ": error: " in lines[-1]:
        lines = lines[-1:]  # argparse refusing a value: its usage, then the one line
        says = "error"
    return status == 2 and len(lines) == 1 and says in lines[0] and "\x1b" not in err


def _bad_files(directory: Path, files: int, now: datetime, rng: random.Random, t: _Tally) -> int:
    """Each file with one unreadable line: refused naming the line, nothing imported."""
    bad_lines = _bad_lines(now)
    db = directory / "portwatch.db"
    refused = 0
    for index in range(files):
        what, bad = bad_lines[index] if index < len(bad_lines) else rng.choice(bad_lines)
        lines = [
            _good_line(now - timedelta(days=3, minutes=-7 * i), rng) for i in range(GOOD_LINES)
        ]
        position = rng.randrange(len(lines) + 1)
        lines.insert(position, bad)
        path = directory / f"case{index}.csv"
        _write(path, lines)
        t.tried += 1
        status, err, escaped = _run_cli(["import", str(path), "--db", str(db)])
        if escaped is not None:
            t.crashed += 1
            t.problem(f"{what}: raised {type(escaped).__name__}")
        elif not _one_line_refusal(status, err, f"line {position + 2}:"):  # header: line 1
            t.problem(f"{what} at line {position + 2}: exit {status}, {err.strip()[:80]!r}")
        else:
            refused += 1
    return refused


def _implausible_files(directory: Path, now: datetime, rng: random.Random, t: _Tally) -> int:
    """Each file with one implausible line: imported whole, that line kept as invalid."""
    kept = 0
    for index, (what, line) in enumerate(_implausible_lines(now)):
        lines = [
            _good_line(now - timedelta(days=3, minutes=-7 * i), rng) for i in range(GOOD_LINES)
        ]
        lines.insert(rng.randrange(len(lines) + 1), line)
        path = directory / f"implausible{index}.csv"
        _write(path, lines)
        db = directory / f"implausible{index}.db"
        t.tried += 1
        status, err, escaped = _run_cli(["import", str(path), "--db", str(db)])
        invalid = _readings(db, "WHERE invalid_reason IS NOT NULL")
        if escaped is not None:
            t.crashed += 1
            t.problem(f"{what}: raised {type(escaped).__name__}")
        elif status != 0 or _readings(db) != GOOD_LINES + 1 or invalid != 1:
            t.problem(f"{what}: exit {status}, {invalid} invalid kept, {err.strip()[:80]!r}")
        else:
            kept += 1
    return kept


def _typed(db: Path, now: datetime, t: _Tally) -> int:
    """Each bad typed reading: refused in one line with status 2, nothing added."""
    refused = 0
    for what, argv in _bad_typed(now):
        t.tried += 1
        status, err, escaped = _run_cli(["add", *argv, "--db", str(db)])
        if escaped is not None:
            t.crashed += 1
            t.problem(f"add {what}: raised {type(escaped).__name__}")
        elif _one_line_refusal(status, err, "portwatch add"):
            refused += 1
        else:
            t.problem(f"add {what}: exit {status}, {err.strip()[:80]!r}")
    return refused


def _control(directory: Path, now: datetime, rng: random.Random) -> dict[str, int]:
    """A good file (a U+2028 in a cell, rows without a device) imported twice."""
    db = directory / "control.db"
    path = directory / "good.csv"
    good = [_good_line(now - timedelta(days=3, minutes=-7 * i), rng) for i in range(GOOD_LINES)]
    good[0] = good[0].replace(",manual,", ",core\u2028two,").replace(",core,", ",core\u2028two,")
    good[1] = f"{(now - timedelta(days=1)).isoformat()},37.5,C,spot,,,"
    _write(path, good)
    status, _, _ = _run_cli(["import", str(path), "--db", str(db)])
    rows = _readings(db)
    again, _, _ = _run_cli(["import", str(path), "--db", str(db)])
    with contextlib.closing(sqlite3.connect(db)) as connection:
        raws = [r.decode() for (r,) in connection.execute("SELECT raw FROM readings ORDER BY id")]
        manual = connection.execute("SELECT count(*) FROM readings WHERE device = 'manual'")
        manual_rows = int(manual.fetchone()[0])
    return {
        "status": status,
        "rows": rows,
        "again_status": again,
        "duplicated": _readings(db) - rows,  # the same file twice adds nothing
        "raw_lines_right": int(raws == good),
        "manual_rows": manual_rows,
    }


def run(quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Refuse every unreadable file and typed reading; keep implausible rows as invalid;
    import the good control file once."""
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    rng = random.Random(seed)
    now = datetime.now(UTC)
    files = QUICK_FILES if quick else FULL_FILES
    tally = _Tally()
    with tempfile.TemporaryDirectory(prefix="portwatch-input-") as tmp:
        directory = Path(tmp)
        refused_with_line = _bad_files(directory, files, now, rng, tally)
        kept_invalid = _implausible_files(directory, now, rng, tally)
        typed_refused = _typed(directory / "portwatch.db", now, tally)
        imported_rows = _readings(directory / "portwatch.db")
        control = _control(directory, now, rng)
    implausible, typed = len(_implausible_lines(now)), len(_bad_typed(now))
    passed = (
        tally.crashed == 0
        and refused_with_line == files
        and kept_invalid == implausible
        and typed_refused == typed
        and imported_rows == 0
        and (control["status"], control["again_status"], control["duplicated"]) == (0, 0, 0)
        and control["rows"] == GOOD_LINES
        and control["raw_lines_right"] == 1
        and control["manual_rows"] >= 1
    )
    notes = (
        f"seed={seed}; {refused_with_line}/{files} unreadable files refused naming their line, "
        f"{kept_invalid}/{implausible} implausible rows kept as invalid, "
        f"{typed_refused}/{typed} bad typed readings refused, {imported_rows} rows "
        f"imported from bad input; control file: {control['rows']}/{GOOD_LINES} imported, "
        f"raw lines on their rows: {bool(control['raw_lines_right'])}, "
        f"{control['duplicated']} rows added by importing it again"
    )
    if tally.problems:
        notes += "; " + "; ".join(tally.problems)
    return {
        "campaign": NAME,
        "tried": tally.tried + 2,
        "lost": None,
        "duplicated": control["duplicated"],
        "crashed": tally.crashed,
        "passed": passed,
        "seed": seed,
        "bad_kinds": len(_bad_lines(now)) + implausible + typed,
        "imported_from_bad_input": imported_rows,
        "notes": notes,
    }
