"""Through the service, or the log directly: the flow of every command that changes something.

While ``portwatch run`` runs, a command asks it over the control socket, and the reading,
report, pause or resend enters the service's path at once (design.md, "One owner, many
entrances"). When none runs, the command says so in one line and writes the log itself;
the service acts on it when it starts (and, if it was running after all without its
socket, its log watch picks readings up within a second).
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from portwatch.cli.commands._log import LogPlace, offline_note

if TYPE_CHECKING:
    from portwatch.model import Reading

__all__ = ["CommandFailed", "Taken", "ask_service", "reading_json", "take_readings"]


class CommandFailed(Exception):
    """The command cannot do its work; the message is the one line to print."""


def ask_service(
    place: LogPlace, method: str, resource: str, body: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The running service's answer, or None when no service runs (write the log yourself).

    Raises:
        CommandFailed: the service refused (its reason), failed, or may not be asked.
    """
    from portwatch.cli.control_client import ControlError, ServiceNotRunning, ask

    if place.socket is None:
        return None
    try:
        return ask(place.socket, method, resource, body)
    except ServiceNotRunning:
        return None
    except ControlError as exc:
        raise CommandFailed(exc.message) from exc
    except PermissionError as exc:
        raise CommandFailed(
            f"{place.socket}: {exc.strerror}; the people who look after the gateway are in "
            "group portwatch (sudo adduser $USER portwatch, then log in again)"
        ) from exc
    except (OSError, ValueError) as exc:
        raise CommandFailed(f"the running service did not answer ({exc})") from exc


def reading_json(reading: Reading) -> dict[str, Any]:
    """A reading as the control API takes it."""
    return {
        "device": reading.device,
        "kind": reading.kind.value,
        "value": None if reading.value is None else format(reading.value, "f"),
        "unit": reading.unit.value,
        "celsius": reading.celsius,
        "time": reading.time.isoformat(),
        "received_at": reading.received_at.isoformat(),
        "device_time": None if reading.device_time is None else reading.device_time.isoformat(),
        "site": None if reading.site is None else reading.site.value,
        "interval_s": reading.interval_s,
        "special": None if reading.special is None else reading.special.value,
        "raw": base64.b64encode(reading.raw).decode("ascii"),
        "invalid_reason": reading.invalid_reason,
    }


@dataclass(frozen=True, slots=True)
class Taken:
    """Readings taken: the new rows' ids, how many the log already held, and the running
    service's clock when it took them (None: no service took them)."""

    ids: tuple[int, ...]
    already_present: int
    service_now: datetime | None = None


def take_readings(
    place: LogPlace, command: str, readings: Sequence[Reading], *, once: bool
) -> Taken | None:
    """Readings into the log through the service, or directly when none runs.

    ``place``: :func:`~portwatch.cli.commands._log.log_place` for the command's options.
    ``once``: an import (readings the log already holds are skipped). Prints what went
    wrong and returns None when nothing was written.
    """
    from portwatch.log.store import Store, StoreError

    try:
        body = {"readings": [reading_json(r) for r in readings], "once": once}
        answer = ask_service(place, "POST", "readings", body)
    except CommandFailed as exc:
        print(f"portwatch {command}: {exc}", file=sys.stderr)
        return None
    if answer is not None:
        ids = tuple(int(i) for i in answer["ids"])
        told = answer.get("now")
        service_now = datetime.fromisoformat(told) if isinstance(told, str) else None
        return Taken(ids, int(answer["already_present"]), service_now)
    them = "it" if len(readings) == 1 else "them"
    what = "the reading is" if len(readings) == 1 else "the readings are"
    print(
        offline_note(
            place, f"{what} written to the log; the service will act on {them} when it starts"
        )
    )
    try:
        with Store.open(place.db) as store:
            if once:
                result = store.import_readings(readings)  # one transaction: all or nothing
                return Taken(result.ids, result.already_present)
            return Taken(tuple(store.add_readings(readings)), 0)
    except StoreError as exc:
        nothing = "; nothing was imported" if once else ""
        print(f"portwatch {command}: {exc}{nothing}", file=sys.stderr)
        return None
