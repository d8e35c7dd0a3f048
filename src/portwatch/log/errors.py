"""The log's errors: what a person must know, sorted by what can be done about it.

Everything the log raises is a :class:`StoreError`. :class:`StoreDamagedError` and
:class:`StoreTooNewError` at open mean the file is left exactly as found;
:class:`StoreUnavailableError` means the disk is full, read-only or failing (retry later);
:class:`StoreInputError` (also a ``ValueError``) is a bad argument.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final

__all__ = [
    "RECOVERY_ADVICE",
    "StoreDamagedError",
    "StoreError",
    "StoreInputError",
    "StoreTooNewError",
    "StoreUnavailableError",
    "classify",
]

# SQLite primary result codes (https://sqlite.org/rescode.html) that mean "the disk cannot
# take this now": full, read-only, I/O error, cannot open, locked too long.
# FULL 13, READONLY 8, IOERR 10, CANTOPEN 14, BUSY 5, LOCKED 6.
_UNAVAILABLE_CODES: Final = frozenset({13, 8, 10, 14, 5, 6})
_DAMAGED_CODES: Final = frozenset({11, 26})  # CORRUPT NOTADB

RECOVERY_ADVICE: Final = (
    "portwatch has not written to it. To recover: stop portwatch; copy {path} and any "
    "{name}-wal and {name}-shm beside it to a safe place; then either salvage it with "
    "`sqlite3 {path} .recover > recovered.sql` or move the file aside so that portwatch "
    "starts a new log. `portwatch doctor` repeats this check."
)


class StoreError(Exception):
    """Something about the log that a person must know; the message says what and what to do."""


class StoreDamagedError(StoreError):
    """The file failed SQLite's check or is not a database; it is never written to."""


class StoreTooNewError(StoreError):
    """The file was written by a newer portwatch; it is never altered."""


class StoreUnavailableError(StoreError):
    """The disk is full, read-only or failing: the write did not happen; try again later."""


class StoreInputError(StoreError, ValueError):
    """A bad argument (a naive datetime, an unknown outbox id); the message names it."""


def classify(exc: sqlite3.Error, path: Path, doing: str) -> StoreError:
    """Turn a sqlite3 error into our type by SQLite's result code, never by its text."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    name = getattr(exc, "sqlite_errorname", type(exc).__name__)
    if primary in _DAMAGED_CODES:
        return StoreDamagedError(
            f"the log at {path} is damaged ({name}: {exc}) while {doing}. "
            + RECOVERY_ADVICE.format(path=path, name=path.name)
        )
    if primary in _UNAVAILABLE_CODES:
        return StoreUnavailableError(
            f"the log at {path} failed while {doing} ({name}: {exc}); "
            "the disk may be full, read-only or failing: free space or fix the disk"
        )
    return StoreError(f"the log at {path} failed while {doing} ({name}: {exc})")
