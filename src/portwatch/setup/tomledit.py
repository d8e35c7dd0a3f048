"""Change a few settings in a TOML file in place, keeping everything else as it was.

Re-running ``portwatch setup`` on a configured Pi must change only what it asked about: the
other settings, their order and the comments a person wrote stay byte for byte. So the file
is edited as lines, not parsed and re-serialised (tomllib only reads, and a round trip
would lose the comments). Only what setup writes is supported: one-line scalar values
(strings, numbers, booleans, offset date-times) of ``key = value`` lines in ``[table]``
sections. The result is always parsed again by the caller's settings check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Final

__all__ = ["literal", "remove_values", "set_values"]

_HEADER: Final = re.compile(r"^\s*\[([A-Za-z0-9_.\-]+)\]\s*(#.*)?$")
_KEY: Final = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

Scalar = str | int | float | bool | datetime


def literal(value: Scalar) -> str:
    """``value`` as a TOML literal (a basic string, a number, a boolean, a date-time)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a date-time in the settings needs its offset")
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def set_values(text: str, values: Mapping[tuple[str, str], Scalar]) -> str:
    """``text`` with each ``(table, key)`` set to its value: the key's line replaced where it
    is, else added at the end of its table, else the table added at the end of the file."""
    lines = text.splitlines()
    pending = dict(values)
    table = ""
    last_in_table: dict[str, int] = {}
    for index, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            table = header[1]
            last_in_table.setdefault(table, index)
            continue
        key = _KEY.match(line)
        if key is None:
            continue
        last_in_table[table] = index
        wanted = (table, key[1])
        if wanted in pending:
            lines[index] = f"{key[1]} = {literal(pending.pop(wanted))}"
    inserts: dict[int, list[str]] = {}
    appended: dict[str, list[str]] = {}
    for (table_name, key_name), value in pending.items():
        line = f"{key_name} = {literal(value)}"
        if table_name in last_in_table:
            inserts.setdefault(last_in_table[table_name], []).append(line)
        else:
            appended.setdefault(table_name, []).append(line)
    for index in sorted(inserts, reverse=True):
        lines[index + 1 : index + 1] = inserts[index]
    for table_name, added in appended.items():
        lines += ["", f"[{table_name}]", *added]
    return "\n".join(lines) + "\n"


def remove_values(text: str, keys: set[tuple[str, str]]) -> str:
    """``text`` without the ``key = value`` lines of ``keys`` (``(table, key)``); a URL moved
    to a credential file must not stay behind in the settings. Every other byte stays."""
    kept: list[str] = []
    table = ""
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            table = header[1]
        key = _KEY.match(line)
        if header is None and key is not None and (table, key[1]) in keys:
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"
