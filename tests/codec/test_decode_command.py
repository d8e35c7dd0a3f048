"""`portwatch decode`: one JSON object on stdout, or a message on stderr and status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from portwatch.cli import main as cli


def _decode(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(["decode", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_measurement_prints_issue_json_when_hex_has_spaces_and_colons(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The Nordic vector, pasted as a sniffer shows it, prints the issue's JSON object."""
    status, out, _ = _decode(capsys, "06 B0:0E:00:FE DC 07 0C 05 0B 32 1B 04")
    assert status == 0
    assert json.loads(out) == {
        "unit": "C",
        "value": 37.6,
        "celsius": 37.6,
        "special": None,
        "timestamp": "2012-12-05T11:50:27",
        "site": "finger",
        "trailing_bytes": "",
    }


def test_value_prints_as_json_number_when_reported_as_37_6(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The value is the JSON number 37.6, not a string and not 37.600000000000001."""
    _, out, _ = _decode(capsys, "00780100FF")
    assert '"value": 37.6,' in out


@pytest.mark.parametrize(
    ("characteristic", "hex_bytes", "expected"),
    [
        ("type", "03", {"site": "ear"}),
        ("interval", "3C00", {"seconds": 60}),
        ("valid-range", "0100100E", {"min_seconds": 1, "max_seconds": 3600}),
        ("intermediate", "00FFFF7F00", None),
    ],
)
def test_other_characteristics_print_their_json_when_selected(
    capsys: pytest.CaptureFixture[str],
    characteristic: str,
    hex_bytes: str,
    expected: dict[str, object] | None,
) -> None:
    """Each --characteristic prints the object shape issue 2 gives it."""
    status, out, _ = _decode(capsys, hex_bytes, "--characteristic", characteristic)
    assert status == 0
    if expected is None:
        assert json.loads(out)["special"] == "nan"
    else:
        assert json.loads(out) == expected


def test_core_prints_core_temperature_when_selected(capsys: pytest.CaptureFixture[str]) -> None:
    """The CORE wearable's frame decodes from the command line too (core.json C7)."""
    status, out, _ = _decode(capsys, "00A60E", "--characteristic", "core")
    assert status == 0
    assert json.loads(out)["core"] == 37.5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("06B00E00FEDC070C050B321B",), "announce 13 bytes"),
        (("0300", "--characteristic", "type"), "1 byte"),
        (("zz",), "not hex"),
        (("ABC",), "not hex"),
    ],
)
def test_malformed_input_exits_2_with_message_when_bytes_are_bad(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    """Bad bytes are a message on stderr and status 2, never a traceback or stdout JSON."""
    status, out, err = _decode(capsys, *argv)
    assert status == 2
    assert out == ""
    assert message in err


def test_process_exits_2_when_run_as_a_command_on_malformed_bytes() -> None:
    """The installed entry point carries status 2 to the shell."""
    result = subprocess.run(
        [sys.executable, "-m", "portwatch", "decode", "06B00E00FEDC070C050B321B"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "at byte 12" in result.stderr


def test_codec_modules_import_no_io_when_loaded() -> None:
    """hts and core stay pure: importing them loads no event loop, radio, disk or network."""
    probe = (
        "import sys, portwatch.ble.hts, portwatch.ble.core; "
        "print(' '.join(sorted(m for m in ('asyncio', 'bleak', 'sqlite3', 'requests', "
        "'aiohttp', 'socket', 'logging') if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
