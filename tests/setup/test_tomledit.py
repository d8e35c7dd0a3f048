"""Settings edited in place (issue 19): only the asked keys change; comments and order stay."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta, timezone

import pytest

from portwatch.setup.tomledit import literal, remove_values, set_values

FILE = """\
# my notes about this Pi
[patient]
reference = "Patient/1"  # from the clinic's letter
placement = 2026-12-01T10:00:00+01:00

[web]
# token_file = "/etc/portwatch/web-token"
address = "127.0.0.1:8470"
"""


def test_set_values_replaces_the_line_and_keeps_every_other_byte() -> None:
    edited = set_values(FILE, {("web", "address"): "192.168.1.20:8470"})
    assert edited == FILE.replace('"127.0.0.1:8470"', '"192.168.1.20:8470"')


def test_set_values_adds_missing_key_to_its_table_and_missing_table_at_end() -> None:
    edited = set_values(FILE, {("patient", "timezone"): "Europe/Berlin", ("display", "unit"): "C"})
    data = tomllib.loads(edited)
    assert data["patient"] == {
        "reference": "Patient/1",
        "placement": datetime(2026, 12, 1, 10, tzinfo=timezone(timedelta(hours=1))),
        "timezone": "Europe/Berlin",
    }
    assert data["display"] == {"unit": "C"}
    assert edited.index('timezone = "Europe/Berlin"') < edited.index("[web]")
    assert "# my notes about this Pi" in edited
    assert "# token_file" in edited


def test_set_values_leaves_commented_key_alone_when_setting_it() -> None:
    edited = set_values(FILE, {("web", "token_file"): "/etc/portwatch/token"})
    assert '# token_file = "/etc/portwatch/web-token"' in edited
    assert tomllib.loads(edited)["web"]["token_file"] == "/etc/portwatch/token"


@pytest.mark.parametrize(
    "value", ['say "hi"\\ there', "Zürich ✓", "tab\tand\nnewline", True, 3, 101.5]
)
def test_literal_reads_back_as_the_same_value(value: str | bool | int | float) -> None:
    assert tomllib.loads(f"key = {literal(value)}")["key"] == value


def test_literal_refuses_naive_datetime() -> None:
    with pytest.raises(ValueError, match="offset"):
        literal(datetime(2026, 12, 1, 10))


def test_remove_values_drops_only_that_key_of_that_table() -> None:
    text = FILE + '[notify]\naddress = "kept"\ncaregiver_url = "mailtos://u:p@h"\n'
    edited = remove_values(text, {("notify", "caregiver_url"), ("patient", "missing")})
    assert edited == FILE + '[notify]\naddress = "kept"\n'
    assert remove_values(FILE, set()) == FILE
