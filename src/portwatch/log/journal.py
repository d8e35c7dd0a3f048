"""The log's journal: link events, symptom reports, reminders sent, notes and meta values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from portwatch.log.database import Database
from portwatch.log.errors import StoreInputError
from portwatch.log.times import from_us, to_us
from portwatch.model import LinkEvent, LinkEventKind, Symptom

__all__ = ["Journal", "Note", "SymptomReport"]


@dataclass(frozen=True, slots=True)
class SymptomReport:
    id: int
    time: datetime
    symptoms: tuple[Symptom, ...]
    note: str


@dataclass(frozen=True, slots=True)
class Note:
    """A period the caregiver explained, such as "off the body for a shower"."""

    id: int
    start: datetime
    end: datetime
    reason: str


class Journal(Database):
    """Link events, symptoms, reminders, notes and meta: one part of the log's Store."""

    def add_event(self, event: LinkEvent) -> int:
        with self._write("adding a link event") as db:
            cursor = db.execute(
                "INSERT INTO link_events (kind, device, time_us, detail, battery_percent, raw) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    LinkEventKind(event.kind).value,
                    event.device,
                    to_us(event.time, "event time"),
                    event.detail,
                    event.battery_percent,
                    event.raw,
                ),
            )
            return int(cursor.lastrowid or 0)

    def events(self, since: datetime, until: datetime) -> list[LinkEvent]:
        rows = self._read(
            "SELECT kind, device, time_us, detail, battery_percent, raw FROM link_events "
            "WHERE time_us >= ? AND time_us < ? ORDER BY time_us, id",
            (to_us(since, "since"), to_us(until, "until")),
        )
        return [
            LinkEvent(
                kind=LinkEventKind(kind),
                device=device,
                time=from_us(time_us),
                detail=detail,
                battery_percent=battery,
                raw=bytes(raw),
            )
            for kind, device, time_us, detail, battery, raw in rows
        ]

    def add_symptom_report(self, time: datetime, symptoms: Sequence[Symptom], note: str) -> int:
        text = ",".join(Symptom(symptom).value for symptom in symptoms)
        with self._write("adding a symptom report") as db:
            cursor = db.execute(
                "INSERT INTO symptom_reports (time_us, symptoms, note) VALUES (?, ?, ?)",
                (to_us(time, "time"), text, note),
            )
            return int(cursor.lastrowid or 0)

    def symptom_reports(self, since: datetime, until: datetime) -> list[SymptomReport]:
        rows = self._read(
            "SELECT id, time_us, symptoms, note FROM symptom_reports "
            "WHERE time_us >= ? AND time_us < ? ORDER BY time_us, id",
            (to_us(since, "since"), to_us(until, "until")),
        )
        return [
            SymptomReport(
                id=row_id,
                time=from_us(time_us),
                symptoms=tuple(Symptom(s) for s in text.split(",") if s),
                note=note,
            )
            for row_id, time_us, text, note in rows
        ]

    def reminder_sent(self, key: str, at: datetime) -> None:
        """Remember that reminder `key` went out; recording it twice keeps the first time."""
        with self._write("recording a reminder") as db:
            db.execute(
                "INSERT INTO reminders_sent (key, sent_us) VALUES (?, ?) "
                "ON CONFLICT (key) DO NOTHING",
                (key, to_us(at, "at")),
            )

    def reminders_sent(self) -> set[str]:
        return {key for (key,) in self._read("SELECT key FROM reminders_sent")}

    def add_note(self, start: datetime, end: datetime, reason: str) -> int:
        if end < start:
            raise StoreInputError(f"a note ends ({end}) before it starts ({start})")
        with self._write("adding a note") as db:
            cursor = db.execute(
                "INSERT INTO notes (start_us, end_us, reason) VALUES (?, ?, ?)",
                (to_us(start, "start"), to_us(end, "end"), reason),
            )
            return int(cursor.lastrowid or 0)

    def notes(self, since: datetime, until: datetime) -> list[Note]:
        """Notes overlapping [since, until)."""
        rows = self._read(
            "SELECT id, start_us, end_us, reason FROM notes WHERE end_us >= ? AND start_us < ? "
            "ORDER BY start_us, id",
            (to_us(since, "since"), to_us(until, "until")),
        )
        return [Note(i, from_us(s), from_us(e), reason) for i, s, e, reason in rows]

    def meta_get(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def meta_set(self, key: str, value: str) -> None:
        with self._write("setting a meta value") as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
