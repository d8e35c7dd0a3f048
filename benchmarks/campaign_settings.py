"""Campaign: bad settings files through ``portwatch config check``.

A good settings file (with a readable clinic secret) is checked first as a control; then
each kind of bad file below is written and checked in process (``portwatch.cli.main.main``),
including values that overflowed (issue 21), files `run` needs (the page's token, the CA
bundle) and the example file's placeholders (issue 19).
Each must be refused with exit status 2 and exactly one line on stderr that names the
setting at fault (its dotted name, ``rule.threshold_f``). Secrets written where they do not
belong, and notification URLs (a push topic is its own secret), must not be echoed.

Counts: ``crashed`` = an exception escaping the command (a traceback instead of a
message); refusals without the setting's name, with more than one line, or that echo a
secret are in the notes and fail the campaign. ``lost`` and ``duplicated`` do not apply.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import random
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from portwatch.cli import main as cli

NAME = "bad settings files"
INLINE_SECRET = "whsec_" + base64.b64encode(b"campaign-inline-secret!!").decode()
TOPIC_URL = "ntfy.sh/portwatch-secret-topic-4711"


def _good(secret_file: Path, now: datetime) -> dict[str, dict[str, Any]]:
    placement = (now - timedelta(days=1)).replace(microsecond=0).isoformat()
    return {
        "patient": {
            "reference": '"Patient/4711"',
            "placement": placement,
            "timezone": '"Europe/Berlin"',
        },
        "rule": {"threshold_f": "101.0", "min_separation": '"4h"', "pair_window": '"24h"'},
        "bluetooth": {"backend": '"system"', "adapter": '"hci0"'},
        "clinic": {
            "url": '"https://clinic.test/portwatch/alerts"',
            "recipient": '"Organization/clinic-1"',
            "format": '"json"',
            "secret_file": f'"{secret_file}"',
        },
        "watch": {"stale_after": '"30m"', "stale_after_pending": '"10m"'},
        "web": {"address": '"127.0.0.1:8470"'},
    }


def _toml(sections: dict[str, dict[str, Any]]) -> str:
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {value}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


# An edit changes the document, or returns the file's text (str), its bytes, or another path
# to check instead (a directory).
Edit = Callable[[dict[str, dict[str, Any]], Path], str | bytes | Path | None]


@dataclass(frozen=True, slots=True)
class Case:
    """One kind of bad file: how to spoil the good one, and the setting that must be named."""

    what: str
    edit: Edit
    names: str  # the dotted setting name (or the file's name) the message must contain
    hidden: str = ""  # a value that must not appear in the message


def _set(section: str, key: str, value: str) -> Edit:
    def edit(doc: dict[str, dict[str, Any]], _: Path) -> None:
        doc.setdefault(section, {})[key] = value

    return edit


def _drop(section: str, key: str | None = None) -> Edit:
    def edit(doc: dict[str, dict[str, Any]], _: Path) -> None:
        if key is None:
            del doc[section]
        else:
            del doc[section][key]

    return edit


def _secret_file(content: bytes | None, *, directory: bool = False) -> Edit:
    """Point clinic.secret_file at a file with this content (None: at no file at all)."""

    def edit(doc: dict[str, dict[str, Any]], tmp: Path) -> None:
        target = tmp / f"bad-secret-{len(list(tmp.iterdir()))}"
        if directory:
            target.mkdir(exist_ok=True)
        elif content is not None:
            target.write_bytes(content)
            target.chmod(0o600)
        else:
            target = tmp / "no-such-secret"
        doc["clinic"]["secret_file"] = f'"{target}"'

    return edit


def _raw(text: str) -> Edit:
    def edit(doc: dict[str, dict[str, Any]], _: Path) -> str:
        del doc
        return text

    return edit


def _raw_bytes(data: bytes) -> Edit:
    def edit(doc: dict[str, dict[str, Any]], _: Path) -> bytes:
        del doc
        return data

    return edit


def _a_directory(doc: dict[str, dict[str, Any]], tmp: Path) -> Path:
    del doc
    return tmp


def _in_file(section: str, key: str, content: bytes | None) -> Edit:
    """Point `section.key` at a file with this content (None: at no file at all)."""

    def edit(doc: dict[str, dict[str, Any]], tmp: Path) -> None:
        target = tmp / f"{key}-{len(list(tmp.iterdir()))}"
        if content is not None:
            target.write_bytes(content)
            target.chmod(0o600)
        doc.setdefault(section, {})[key] = f'"{target}"'

    return edit


def _both(first: Edit, second: Edit) -> Edit:
    def edit(doc: dict[str, dict[str, Any]], tmp: Path) -> None:
        first(doc, tmp)
        second(doc, tmp)

    return edit


def _hostile(now: datetime) -> list[Case]:
    """Issue 21 and 19: overflows, unreadable files, what `run` needs, the example's values."""
    del now
    return [
        Case("duration of a billion days", _set("rule", "window", '"1000000000d"'),
             "rule.window"),
        Case("duration of 400 nines", _set("watch", "stale_after", f'"{"9" * 400}s"'),
             "watch.stale_after"),
        Case("placement in year 1 east of UTC",
             _set("patient", "placement", "0001-01-01T00:00:00+05:00"), "patient.placement"),
        Case("placement at the end of year 9999 west of UTC",
             _set("patient", "placement", "9999-12-31T23:59:59-05:00"), "patient.placement"),
        Case("file not UTF-8", _raw_bytes(b'[patient]\nreference = "Patient/Jos\xe9"\n'),
             "settings.toml"),
        Case("--config naming a directory", _a_directory, "a directory"),
        Case("--config naming an endless device", lambda doc, tmp: Path("/dev/zero"),
             "not a regular file"),
        Case("page token under 16 characters", _in_file("web", "token_file", b"short-token\n"),
             "web.token_file", hidden="short-token"),
        Case("page token file missing", _in_file("web", "token_file", None), "web.token_file"),
        Case("page address unresolvable", _both(
             _in_file("web", "token_file", b"a-token-long-enough-for-the-page\n"),
             _set("web", "address", '"no-such-host.invalid:8470"')), "web.address"),
        Case("page address IPv6 without brackets' port", _set("web", "address", '"[::1]"'),
             "web.address"),
        Case("CA bundle mistyped", _in_file("clinic", "ca_bundle", None), "clinic.ca_bundle"),
        Case("CA bundle not a certificate", _in_file("clinic", "ca_bundle", b"not a cert\n"),
             "clinic.ca_bundle"),
        Case("example patient left in", _set("patient", "reference", '"Patient/0001234"'),
             "patient.reference"),
        Case("example clinic left in",
             _set("clinic", "url", '"https://clinic.example.org/portwatch/alerts"'), "clinic.url"),
        Case("example push topic left in",
             _set("notify", "caregiver_url", '"https://ntfy.sh/portwatch-caregiver-CHANGE-ME"'),
             "notify.caregiver_url", hidden="ntfy.sh"),
    ]  # fmt: skip


def cases(now: datetime) -> list[Case]:
    """Every kind of bad settings file the campaign writes (the issue asks for 20 or more)."""
    future = (now + timedelta(days=30)).replace(microsecond=0).isoformat()
    return [
        Case("wrong type: text for a number", _set("rule", "threshold_f", '"hot"'),
             "rule.threshold_f"),
        Case("wrong type: fraction for a count", _set("rule", "min_samples", "3.5"),
             "rule.min_samples"),
        Case("wrong type: text for a flag", _set("patient", "port_in_regular_use", '"maybe"'),
             "patient.port_in_regular_use"),
        Case("wrong type: table for text", _set("clinic", "format", "{ kind = 'json' }"),
             "clinic.format"),
        Case("missing key: patient reference", _drop("patient", "reference"),
             "patient.reference"),
        Case("missing key: placement", _drop("patient", "placement"), "patient.placement"),
        Case("missing section: patient", _drop("patient"), "patient"),
        Case("missing key: recipient with a clinic URL", _drop("clinic", "recipient"),
             "clinic.recipient"),
        Case("impossible duration: zero", _set("rule", "min_separation", '"0h"'),
             "rule.min_separation"),
        Case("impossible duration: negative", _set("watch", "stale_after", '"-5m"'),
             "watch.stale_after"),
        Case("impossible duration: no unit", _set("rule", "window", "300"), "rule.window"),
        Case("impossible duration: words", _set("clinic", "read_timeout", '"soon"'),
             "clinic.read_timeout"),
        Case("impossible duration: a pair window shorter than the separation",
             _set("rule", "pair_window", '"2h"'), "rule.pair_window"),
        Case("impossible duration: heartbeat every 5 min", _set("clinic", "heartbeat_every",
             '"5m"'), "clinic.heartbeat_every"),
        Case("impossible duration: durable within a minute", _set("store", "durable_within",
             '"1m"'), "store.durable_within"),
        Case("impossible duration: sooner warning later than the warning",
             _set("watch", "stale_after_pending", '"45m"'), "watch.stale_after_pending"),
        Case("out of bounds: threshold 105 F", _set("rule", "threshold_f", "105.0"),
             "rule.threshold_f"),
        Case("out of bounds: site offset hides fevers", _set("rule", "site_offset_c", "-2.0"),
             "rule.site_offset_c"),
        Case("http clinic URL", _set("clinic", "url", '"http://clinic.example.org/alerts"'),
             "clinic.url"),
        Case("ftp clinic URL", _set("clinic", "url", '"ftp://clinic.example.org/alerts"'),
             "clinic.url"),
        Case("clinic URL with credentials",
             _set("clinic", "url", '"https://nurse:pw@clinic.example.org/alerts"'),
             "clinic.url", hidden="nurse:pw"),
        Case("unreadable secret: no such file", _secret_file(None), "clinic.secret_file"),
        Case("unreadable secret: a directory", _secret_file(None, directory=True),
             "clinic.secret_file"),
        Case("unreadable secret: empty file", _secret_file(b""), "clinic.secret_file"),
        Case("unreadable secret: not UTF-8", _secret_file(b"\xff\xfe\xfa"), "clinic.secret_file"),
        Case("unreadable secret: too short a key", _secret_file(b"whsec_c2hvcnQ="),
             "clinic.secret_file"),
        Case("unknown key: a typo", _set("rule", "treshold_f", "100.4"), "rule.treshold_f"),
        Case("unknown section", _set("rules", "threshold_f", "100.4"), "rules"),
        Case("a secret written inline", _set("clinic", "secret", f'"{INLINE_SECRET}"'),
             "clinic.secret", hidden=INLINE_SECRET),
        Case("notification URL not a URL", _set("notify", "caregiver_url", f'"{TOPIC_URL}"'),
             "notify.caregiver_url", hidden=TOPIC_URL),
        Case("unknown time zone", _set("patient", "timezone", '"Mars/Olympus_Mons"'),
             "patient.timezone"),
        Case("placement without an offset", _set("patient", "placement", "2026-11-27T14:30:00"),
             "patient.placement"),
        Case("placement a month ahead", _set("patient", "placement", future),
             "patient.placement"),
        Case("Bluetooth address malformed", _set("bluetooth", "address", '"A4:C1:38:00:11"'),
             "bluetooth.address"),
        Case("Bluetooth adapter not hciN", _set("bluetooth", "adapter", '"wlan0"'),
             "bluetooth.adapter"),
        Case("page address without a port", _set("web", "address", '"127.0.0.1"'),
             "web.address"),
        Case("display unit K", _set("display", "unit", '"K"'), "display.unit"),
        Case("not TOML at all", _raw("[patient\nreference = Patient/1\n"), "settings.toml"),
        *_hostile(now),
    ]  # fmt: skip


@contextlib.contextmanager
def _no_portwatch_environment() -> Iterator[None]:
    """Settings come from the file alone: PORTWATCH_* variables would override it."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("PORTWATCH_")}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def _check(path: Path) -> tuple[int | None, str, BaseException | None]:
    out, err = io.StringIO(), io.StringIO()
    status: int | None = None
    escaped: BaseException | None = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(["config", "check", "--config", str(path)])
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 2
        except Exception as exc:  # noqa: BLE001 - counting what escapes is the point
            escaped = exc
    return status, err.getvalue(), escaped


def _try(
    case: Case, doc: dict[str, dict[str, Any]], directory: Path, path: Path
) -> tuple[str, bool]:
    """Check the spoiled file: (what is wrong with the refusal, "" if none; it crashed)."""
    edited = case.edit(doc, directory)
    checked = path
    if isinstance(edited, Path):
        checked = edited
    elif isinstance(edited, bytes):
        path.write_bytes(edited)
    else:
        path.write_text(edited if edited is not None else _toml(doc), encoding="utf-8")
    status, err, escaped = _check(checked)
    lines = [line for line in err.splitlines() if line.strip()]
    if escaped is not None:
        return f"{case.what}: raised {type(escaped).__name__}", True
    if status != 2 or len(lines) != 1:
        return f"{case.what}: exit {status}, {len(lines)} lines: {err[:120]!r}", False
    if not re.search(rf"(^|[\s:/'\"]){re.escape(case.names)}\b", lines[0]):
        return f"{case.what}: does not name {case.names}: {lines[0][:120]!r}", False
    if case.hidden and case.hidden in err:
        return f"{case.what}: echoes the secret value", False
    return "", False


def run(quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Write every kind of bad file; each must be refused with one line naming its setting."""
    del quick  # every kind is cheap: the quick run is the full run
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    if "config" not in cli.COMMANDS:
        return {
            "campaign": NAME, "tried": 0, "lost": None, "duplicated": None, "crashed": None,
            "passed": True, "skipped": True, "seed": seed,
            "notes": "not run: this branch has no `portwatch config check` yet",
        }  # fmt: skip
    now = datetime.now(UTC)
    all_cases = cases(now)
    crashed = refused_well = 0
    problems: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="portwatch-settings-") as tmp,
        _no_portwatch_environment(),
    ):
        directory = Path(tmp)
        secret = directory / "clinic-secret"
        secret.write_text(
            "whsec_" + base64.b64encode(random.Random(seed).randbytes(24)).decode() + "\n",
            encoding="utf-8",
        )
        secret.chmod(0o600)
        path = directory / "settings.toml"
        path.write_text(_toml(_good(secret, now)), encoding="utf-8")
        control_status, control_err, _ = _check(path)
        for case in all_cases:
            problem, escaped = _try(case, _good(secret, now), directory, path)
            crashed += escaped
            if problem:
                problems.append(problem)
            else:
                refused_well += 1
    passed = control_status == 0 and crashed == 0 and refused_well == len(all_cases)
    notes = (
        f"{refused_well}/{len(all_cases)} kinds refused (exit 2) with one line naming the "
        f"setting; good file: exit {control_status}"
    )
    if control_status != 0:
        notes += f" ({control_err.strip()[:120]!r})"
    if problems:
        notes += "; " + "; ".join(problems[:6])
    return {
        "campaign": NAME,
        "tried": len(all_cases) + 1,
        "lost": None,
        "duplicated": None,
        "crashed": crashed,
        "passed": passed,
        "seed": seed,
        "kinds": len(all_cases),
        "refused_well": refused_well,
        "problems": problems,
        "notes": notes,
    }
