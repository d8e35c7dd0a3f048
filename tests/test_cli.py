"""The command line's contract: subcommands listed with a purpose, usage errors exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from portwatch.cli import main as cli


def test_help_lists_every_subcommand_with_its_purpose(capsys: pytest.CaptureFixture[str]) -> None:
    """A newcomer's first look: every subcommand appears with its one-line help."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        module = cli._load(name)
        assert name in out
        assert module.HELP.split()[0] in out


def test_unknown_argument_exits_with_status_2() -> None:
    """Usage errors are status 2, as the shell convention and the issue require."""
    result = subprocess.run(
        [sys.executable, "-m", "portwatch", "--no-such-flag"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_unknown_subcommand_exits_with_status_2() -> None:
    """A typo in a subcommand is a usage error, not a crash."""
    result = subprocess.run(
        [sys.executable, "-m", "portwatch", "no-such-command"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
