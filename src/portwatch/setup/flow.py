"""``portwatch setup`` from first question to the phone link, asked or from flags.

The order is the order a person can follow: the questions (each with the current value as
its default on a configured Pi), the clinic's secret, the thermometer, then what setup
does by itself: the page's token, the settings (checked as ``portwatch run`` reads them
before anything is replaced), the state directory, ``doctor``, the service, and the phone
link as a QR code. Re-running changes only what is asked or flagged; the log and the state
directory are never touched beyond adding what is missing.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from portwatch.settings_file import credentials_beside
from portwatch.setup.answers import QUESTIONS, Question, default_zone, read_secret_text
from portwatch.setup.asking import Asker
from portwatch.setup.files import (
    CLINIC_SECRET,
    CREDENTIALS_MODE,
    SECRET_MODE,
    SETTINGS_MODE,
    STATE_MODE,
    WEB_TOKEN,
    Layout,
    ensure_dir,
    service_owner,
    write_file,
)
from portwatch.setup.network import lan_address
from portwatch.setup.tomledit import Scalar, remove_values, set_values

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "Options", "SetupError", "run_setup"]

EXIT_FAILED: Final = 1  # a later step failed (pairing, the service); the settings are written
EXIT_BAD_INPUT: Final = 2  # nothing usable was given; nothing was written
TOKEN_BYTES: Final = 32
DEFAULT_STATE: Final = Path("/var/lib/portwatch")
SYSTEMCTL_TIMEOUT_S: Final = 60.0

TEMPLATE: Final = """\
# portwatch settings, written by `portwatch setup`. Run it again to change what it asks
# (it changes nothing else); edit anything else by hand and check with
# `portwatch config check`. Secrets are not here: credentials/ beside this file holds the
# clinic's secret and the page's token, which systemd hands to the service.

[patient]

[clinic]

[notify]

[bluetooth]

[web]

[display]
"""


class SetupError(RuntimeError):
    """Setup cannot go on; the message says why and what to do."""

    def __init__(self, message: str, status: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line said (see :mod:`portwatch.cli.commands.setup`)."""

    root: Path = Path("/")
    config: Path = Path("/etc/portwatch/portwatch.toml")
    state_directory: Path | None = None
    interactive: bool = True
    given: Mapping[str, str] = field(default_factory=dict)  # question name -> flag value
    clinic_secret_file: Path | None = None
    thermometer: str | None = None
    virtual: bool = False
    skip_pair: bool = False
    seconds: float = 10.0
    send_test: bool = True
    enable: bool = True
    qr_dir: Path = Path()
    link_valid: timedelta = timedelta(days=1)
    service_user: str = "portwatch"


def _current(existing: Mapping[str, Any], question: Question) -> str | None:
    value = existing.get(question.table, {}).get(question.key)
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _reader(
    question: Question, answers: Mapping[str, Any], current: str | None, kept: Any
) -> Callable[[str], Scalar]:
    """The question's reader; the current value, kept by Enter, is taken as it is (a
    placement two months old is still the placement, though no longer a typing choice)."""

    def read(text: str) -> Scalar:
        if current is not None and text == current:
            value: Scalar = kept
            return value
        return question.read(text, answers)

    return read


def _shown(question: Question, current: str | None) -> str:
    """How the current value is shown as the default: a URL holding a password as where it
    is kept (Enter keeps it), never itself; anything else as it is ("")."""
    from portwatch.alerts.notify_credentials import NOTIFY_CREDENTIALS
    from portwatch.alerts.notify_url import url_holds_secret

    credential = NOTIFY_CREDENTIALS.get(question.key)
    if credential is None or current is None or not url_holds_secret(current):
        return ""
    return f"the URL kept in credentials/{credential}"


def _gather(
    opts: Options, asker: Asker, existing: Mapping[str, Any], now: datetime
) -> dict[tuple[str, str], Scalar]:
    """The answers that change the file: asked (Enter keeps the current value) or flagged."""
    answers: dict[str, Any] = {"now": now, "zone_guess": default_zone(opts.root)}
    answers["lan"] = lan_address()
    changes: dict[tuple[str, str], Scalar] = {}
    for question in QUESTIONS:
        current = _current(existing, question)
        flagged = opts.given.get(question.name)
        if flagged is not None:
            try:
                value = question.read(flagged, answers)
            except ValueError as exc:
                raise SetupError(f"--{question.name.replace('_', '-')}: {exc}") from None
        elif opts.interactive:
            if question.note:
                asker.say(question.note)
            default = current if current is not None else question.fresh(answers)
            kept = existing.get(question.table, {}).get(question.key)
            reader = _reader(question, answers, current, kept)
            value = asker.ask(question.prompt, default, reader, _shown(question, current))
        elif current is not None:
            answers[question.name] = existing[question.table][question.key]
            continue  # not asked: unchanged
        else:
            fresh = question.fresh(answers)
            if fresh is None:
                flag = question.name.replace("_", "-")
                raise SetupError(f"--{flag} is needed on a first setup ({question.prompt})")
            value = question.read(fresh, answers)
        answers[question.name] = value
        if current is None or _current({question.table: {question.key: value}}, question) != (
            current
        ):
            changes[(question.table, question.key)] = value
    return changes


def _clinic_secret(opts: Options, asker: Asker, path: Path) -> str | None:
    """The clinic's secret to write, or None to keep the one there."""
    if opts.clinic_secret_file is not None:
        try:
            text = opts.clinic_secret_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise SetupError(f"--clinic-secret-file: {exc.strerror}: {exc.filename}") from None
        try:
            return read_secret_text(text)
        except ValueError as exc:
            raise SetupError(f"--clinic-secret-file: {exc}") from None
    if opts.interactive:
        keep = " (Enter keeps the current one)" if path.exists() else ""
        for _ in range(5):
            text = asker.secret(f"Paste the clinic's secret (whsec_…){keep}")
            if not text and path.exists():
                return None
            try:
                return read_secret_text(text)
            except ValueError as exc:
                asker.say(f"  {exc}")
        raise SetupError("no readable clinic secret")
    if path.exists():
        return None
    raise SetupError("--clinic-secret-file is needed on a first setup (the clinic gives it)")


def _write_credentials(opts: Options, asker: Asker, layout: Layout) -> Path:
    """The clinic's secret (if given) and a web token (if none yet): root's, 0600 in 0700."""
    directory = layout.on_disk(layout.credentials)
    ensure_dir(directory, CREDENTIALS_MODE)
    secret = _clinic_secret(opts, asker, directory / CLINIC_SECRET)
    if secret is not None:
        write_file(directory / CLINIC_SECRET, secret + "\n", SECRET_MODE)
    if not (directory / WEB_TOKEN).exists():
        write_file(directory / WEB_TOKEN, secrets.token_urlsafe(TOKEN_BYTES) + "\n", SECRET_MODE)
    return directory


def _kept_urls(existing: dict[str, Any], layout: Layout) -> dict[str, Any]:
    """The settings as read, with each notification URL kept in its credential file (by an
    earlier setup) as if written in them: Enter keeps it, and no new topic replaces it."""
    from portwatch.alerts.notify_credentials import NO_URL, NOTIFY_CREDENTIALS

    notify = dict(existing.get("notify", {}))
    for key, credential in NOTIFY_CREDENTIALS.items():
        path = layout.on_disk(layout.credentials) / credential
        if key in notify or f"{key}_file" in notify or not path.exists():
            continue
        url = path.read_text(encoding="utf-8").strip()
        if url and url != NO_URL:
            notify[key] = url
    return {**existing, "notify": notify}


def _url_credentials(
    text: str,
    existing: Mapping[str, Any],
    changes: dict[tuple[str, str], Scalar],
    asker: Asker,
    layout: Layout,
) -> str:
    """Each notification URL that holds a password or token goes to its credential file
    (0600, root's, handed to the service by systemd), never into the settings (0644): a new
    answer, or one an older setup wrote in the settings. A URL that holds none (an ntfy
    topic) stays in the settings, and a credential file it replaces is removed. Returns the
    settings' text without the moved lines; ``changes`` loses the moved answers."""
    from portwatch.alerts.notify_credentials import NOTIFY_CREDENTIALS
    from portwatch.alerts.notify_url import url_holds_secret

    moved: set[tuple[str, str]] = set()
    for key, credential in NOTIFY_CREDENTIALS.items():
        setting = ("notify", key)
        url = changes.get(setting, existing.get("notify", {}).get(key))
        if not isinstance(url, str) or f"{key}_file" in existing.get("notify", {}):
            continue  # no URL, or a file of the person's own choosing
        path = layout.on_disk(layout.credentials) / credential
        if url_holds_secret(url):
            write_file(path, url + "\n", SECRET_MODE)
            if changes.pop(setting, None) is not None or key in _setting_lines(text):
                asker.say(
                    f"Wrote notify.{key} to {layout.credentials / credential} (0600): it "
                    "holds a password, which the settings file would show to every user."
                )
            moved.add(setting)
        elif setting in changes:
            path.unlink(missing_ok=True)
    return remove_values(text, moved) if moved else text


def _setting_lines(text: str) -> set[str]:
    """The keys written in the settings' [notify] table."""
    return set(tomllib.loads(text).get("notify", {}))


def _checked_settings(text: str, path: Path, environ: Mapping[str, str], now: datetime) -> None:
    """Refuse settings that ``portwatch run`` would refuse, before the file is replaced."""
    from portwatch.config import ConfigError, load_settings

    trial = path.with_name(f".{path.name}.setup-check")
    try:
        write_file(trial, text, SECRET_MODE)
        load_settings(trial, now=now, environ=environ)
    except ConfigError as exc:
        lines = "\n".join(f"  {line}" for line in exc.problems)
        raise SetupError(f"these settings would be refused:\n{lines}") from None
    finally:
        trial.unlink(missing_ok=True)


def _pin(opts: Options, asker: Asker, state: Path) -> str | None:
    """Scan and pin the thermometer; its address, or None when skipped."""
    import asyncio

    from portwatch.setup.thermometer import PairError, scan_and_pin

    if opts.skip_pair:
        return None
    asker.say(f"Scanning for thermometers for {opts.seconds:g} s (switch it on, keep it near)…")
    choose = asker.number if opts.interactive and opts.thermometer is None else None
    try:
        pin = asyncio.run(scan_and_pin(opts.virtual, opts.seconds, opts.thermometer, state, choose))
    except PairError as exc:
        raise SetupError(f"thermometer: {exc} (or --skip-pair, then portwatch pair)", 1) from None
    pinned = state / "pinned.json"
    stat = os.stat(state)
    if os.geteuid() == 0:
        os.chown(pinned, stat.st_uid, stat.st_gid)
    asker.say(f"Pinned {pin.name or pin.address} ({pin.address}, {pin.driver}).")
    return pin.address


def run_setup(opts: Options, asker: Asker, now: datetime) -> int:
    """Everything, in order; the exit status (0, or what failed)."""
    from portwatch.setup.finish import check_enable_and_link

    settings_path = opts.root / opts.config.relative_to("/")
    try:
        text = settings_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = TEMPLATE
    try:
        existing = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SetupError(f"{settings_path} is not valid TOML ({exc}); fix or move it") from None
    configured = existing.get("store", {}).get("state_directory")
    state_path = opts.state_directory or (Path(configured) if configured else DEFAULT_STATE)
    layout = Layout(opts.root, opts.config, state_path, credentials_beside(opts.config))
    existing = _kept_urls(existing, layout)
    changes = _gather(opts, asker, existing, now)
    if opts.state_directory is not None:
        changes[("store", "state_directory")] = str(opts.state_directory)
    if opts.virtual:
        changes[("bluetooth", "backend")] = "virtual"
    credentials = _write_credentials(opts, asker, layout)
    state = layout.on_disk(state_path)
    ensure_dir(state, STATE_MODE, service_owner(layout, opts.service_user))
    address = _pin(opts, asker, state)
    if address is not None:
        changes[("bluetooth", "address")] = address
    kept = _url_credentials(text, existing, changes, asker, layout)
    new_text = set_values(kept, changes) if changes else kept
    environ = {"CREDENTIALS_DIRECTORY": str(credentials), "STATE_DIRECTORY": str(state)}
    _checked_settings(new_text, settings_path, environ, now)
    ensure_dir(settings_path.parent, 0o755)
    if new_text != text or not settings_path.exists():
        write_file(settings_path, new_text, SETTINGS_MODE)
    changed = ", ".join(f"{t}.{k}" for t, k in changes) or "nothing"
    asker.say(f"Wrote {settings_path} (changed: {changed}).")
    topic = changes.get(("notify", "caregiver_url"))
    if isinstance(topic, str) and topic.startswith("https://ntfy.sh/"):
        asker.say(
            f"Caregiver: in the ntfy app, subscribe to {topic.removeprefix('https://ntfy.sh/')}"
        )
    return check_enable_and_link(opts, asker, layout, environ, now)


def systemctl(*argv: str) -> str | None:
    """Run ``systemctl argv``; None when it worked, else what went wrong in one line."""
    try:
        subprocess.run(  # noqa: S603 (fixed program, fixed arguments)
            ["systemctl", *argv],  # noqa: S607 (systemctl is where systemd puts it in PATH)
            check=True,
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_TIMEOUT_S,
        )
    except FileNotFoundError:
        return "systemctl not found (is this a systemd machine?)"
    except subprocess.CalledProcessError as exc:
        return (exc.stderr or exc.stdout or str(exc)).strip().splitlines()[-1]
    except subprocess.TimeoutExpired:
        return f"systemctl {' '.join(argv)} did not finish within {SYSTEMCTL_TIMEOUT_S:g} s"
    return None
