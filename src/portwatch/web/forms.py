"""The page's own forms (issue 19): a hand reading and a pause, and the login outcome page.

A caregiver with only a phone can do what ``portwatch add`` and ``portwatch pause`` do. The
forms are read here exactly as the commands read their arguments (the same temperature
parser, the same plausibility range, the same 2-hour pause limit), then the app hands the
result to the running service's own entrance (:class:`Entrance`), so a hand reading takes
the path of a Bluetooth reading: the log, then the fever rule, then the outbox.

Pure where it can be: parsing and HTML in, values and HTML out. No JavaScript; the HTML
fits a 360 px phone (the inputs are full width, the buttons large).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from portwatch.model import Reading, Site
from portwatch.web.login import Redeemed
from portwatch.web.pages import _document
from portwatch.web.view import DisplaySettings, esc

__all__ = [
    "PAUSE_CHOICES",
    "CallEntrance",
    "Entrance",
    "FormRejectedError",
    "login_failed_page",
    "parse_hand_reading",
    "parse_pause",
    "record_page",
]

# The pause lengths offered (a shower, a bath, changing the dressing); at most 2 h (watch.py).
PAUSE_CHOICES: Final[tuple[tuple[str, str], ...]] = (
    ("15m", "15 minutes"),
    ("30m", "30 minutes"),
    ("45m", "45 minutes"),
    ("1h", "1 hour"),
    ("1h30m", "1½ hours"),
    ("2h", "2 hours"),
)
MAX_REASON_CHARS: Final = 100
_CLOCK_TIME: Final = re.compile(r"([01]?\d|2[0-3])[:.h]([0-5]\d)")


class FormRejectedError(ValueError):
    """A form that cannot be taken as filled in; the message says what to change."""


class Entrance(Protocol):
    """Where the page's forms go: the running service (or, without one, the log itself)."""

    async def add_reading(self, reading: Reading) -> None:
        """Take a hand reading as the service takes a Bluetooth one (durable on return)."""
        ...

    async def pause(self, duration: timedelta, reason: str) -> datetime:
        """The thermometer is off the body on purpose from now; returns when the pause ends.

        Raises:
            ValueError: the service refuses the pause (too long, no reason).
        """
        ...


@dataclass(frozen=True, slots=True)
class CallEntrance:
    """An :class:`Entrance` made of two functions (what the daemon hands the page)."""

    add: Callable[[Reading], Awaitable[None]]
    hold: Callable[[timedelta, str], Awaitable[datetime]]

    async def add_reading(self, reading: Reading) -> None:
        await self.add(reading)

    async def pause(self, duration: timedelta, reason: str) -> datetime:
        return await self.hold(duration, reason)


def _when(text: str, now: datetime, settings: DisplaySettings) -> datetime:
    """``HH:MM`` on the patient's clock in the last 24 hours; empty is now."""
    text = text.strip()
    if not text:
        return now
    match = _CLOCK_TIME.fullmatch(text)
    if match is None:
        raise FormRejectedError(f"time {text!r}: write the time on the clock, such as 08:30")
    local = now.astimezone(settings.zone)
    moment = local.replace(hour=int(match[1]), minute=int(match[2]), second=0, microsecond=0)
    if moment > local + timedelta(minutes=5):
        moment -= timedelta(days=1)  # 23:50 typed at 00:10 is last night
    return moment.astimezone(UTC)


def parse_hand_reading(
    temperature: str, unit: str, at: str, site: str, now: datetime, settings: DisplaySettings
) -> Reading:
    """The form's fields as the reading ``portwatch add`` would record.

    Raises:
        FormRejectedError: a missing or unreadable number, a decimal comma (hinted), a
            temperature no person has (outside 25-47 °C: a typing error or the wrong unit),
            an unreadable time, an unknown site.
    """
    from portwatch.log.csvio import hand_reading, parse_temperature

    text = temperature.strip().replace(" ", "")
    if not text:
        raise FormRejectedError("type the temperature the thermometer showed, such as 38.4")
    if "," in text:
        fixed = text.replace(",", ".")
        raise FormRejectedError(f"temperature {text!r}: write a dot, not a comma ({fixed})")
    if text[-1:].upper() not in ("C", "F"):
        if unit not in ("C", "F"):
            raise FormRejectedError("choose °C or °F")
        text += unit
    try:
        value, parsed_unit = parse_temperature(text)
    except ValueError as exc:
        raise FormRejectedError(str(exc)) from None
    try:
        where = Site(site) if site else None
    except ValueError:
        raise FormRejectedError(f"site {site!r} is not one the form offers") from None
    return hand_reading(
        value,
        parsed_unit,
        time=_when(at, now, settings),
        received_at=now,
        site=where,
        raw=f"{text} (web form)".encode(),
    )


def parse_pause(duration: str, reason: str) -> tuple[timedelta, str]:
    """The pause form's fields: one of :data:`PAUSE_CHOICES` and a short reason.

    Raises:
        FormRejectedError: a length the form does not offer, or no reason, or a long one.
    """
    from portwatch.config import parse_duration

    if duration not in dict(PAUSE_CHOICES):
        raise FormRejectedError("choose how long the thermometer is off")
    reason = reason.strip()
    if not reason:
        raise FormRejectedError("say why the thermometer is off, such as shower")
    if len(reason) > MAX_REASON_CHARS:
        raise FormRejectedError(f"the reason is {len(reason)} characters; at most 100")
    return parse_duration(duration), reason


def _options(choices: Sequence[tuple[str, str]], selected: str) -> str:
    return "".join(
        f'<option value="{esc(value)}"{" selected" if value == selected else ""}>'
        f"{esc(label)}</option>"
        for value, label in choices
    )


def record_page(
    settings: DisplaySettings,
    *,
    done: str | None = None,
    error: str | None = None,
    typed: Mapping[str, str] | None = None,
) -> str:
    """The two forms: a reading taken by hand, and a pause (a shower) of the thermometer.

    A refused form comes back as it was filled in (`typed`, its fields by name), so a
    caregiver corrects the one thing the message names instead of starting again."""
    outcome = ""
    if done:
        outcome = f'<p class="ok" role="status">{esc(done)}</p>'
    if error:
        outcome = f'<p class="err" role="alert">{esc(error)}</p>'
    kept = dict(typed or {})
    units = _options((("C", "°C"), ("F", "°F")), kept.get("unit", settings.unit.value))
    sites = _options((("", "not said"), *((s.value, s.value) for s in Site)), kept.get("site", ""))
    pauses = _options(PAUSE_CHOICES, kept.get("duration", "30m"))
    temperature, at = esc(kept.get("temperature", "")), esc(kept.get("at", ""))
    reason = esc(kept.get("reason", "shower"))
    body = (
        f"{outcome}<h2>A reading taken by hand</h2>"
        "<p>When the Bluetooth thermometer fails, measure with an ordinary one and enter it "
        "here. It counts for the fever rule like any other reading.</p>"
        '<form method="post" action="/reading" class="entry">'
        '<label for="temperature">Temperature</label>'
        '<input id="temperature" name="temperature" type="text" inputmode="decimal" '
        f'autocomplete="off" required maxlength="12" placeholder="38.4" value="{temperature}">'
        f'<label for="unit">Unit</label><select id="unit" name="unit">{units}</select>'
        '<label for="at">Measured at (empty: now)</label>'
        '<input id="at" name="at" type="text" inputmode="numeric" maxlength="5" '
        f'placeholder="08:30" value="{at}">'
        f'<label for="site">Where on the body</label><select id="site" name="site">{sites}'
        "</select>"
        '<button type="submit">Record the reading</button></form>'
        "<h2>Thermometer off for a while</h2>"
        "<p>For a shower or a bath: no “thermometer silent” notice until it ends. "
        "Fever alerts are never paused.</p>"
        '<form method="post" action="/pause" class="entry">'
        f'<label for="duration">For</label><select id="duration" name="duration">{pauses}'
        "</select>"
        '<label for="reason">Why</label>'
        f'<input id="reason" name="reason" type="text" maxlength="100" value="{reason}">'
        '<button type="submit">Pause</button></form>'
        f'<p class="muted">Times on the clock in {esc(str(settings.zone))}.</p>'
    )
    return _document("add a reading", body, current="/record", patient=settings.patient)


_LOGIN_TEXT: Final[dict[Redeemed, tuple[str, str]]] = {
    Redeemed.USED: (
        "link already used",
        "This link has been used already: each link opens the page on one phone, once.",
    ),
    Redeemed.EXPIRED: ("link expired", "This link has expired."),
    Redeemed.UNKNOWN: ("link not valid", "This link is not one this portwatch gave out."),
}


def login_failed_page(outcome: Redeemed) -> str:
    """What a phone sees for a used, expired or unknown link: how to get a new one."""
    title, said = _LOGIN_TEXT[outcome]
    body = (
        f'<p class="err" role="alert">{esc(said)}</p>'
        "<p>To get a new link, ask the person who set up portwatch, or on the portwatch box "
        "run:</p><pre>portwatch web link</pre>"
        "<p>It prints a new link and a QR code to scan with this phone's camera. "
        "A phone that opened the page before keeps working without a new link.</p>"
    )
    return _document(title, body, current=None)
