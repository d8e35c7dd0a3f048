"""build-image's cache key: a stale image must never be reused after the deps change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BUILD_IMAGE = Path(__file__).parent / "build-image"
PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"


def _key(pyproject: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(BUILD_IMAGE), "--print-key", "--pyproject", str(pyproject)],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_cache_key_changes_when_a_dependency_changes(tmp_path: Path) -> None:
    """A new runtime dependency must reach the VM, so it must force a rebuild."""
    changed = tmp_path / "pyproject.toml"
    changed.write_text(
        PYPROJECT.read_text().replace(
            "dependencies = [\n", 'dependencies = [\n    "attrs~=25.1",\n'
        )
    )
    assert _key(changed) != _key(PYPROJECT)


def test_cache_key_is_stable_when_only_host_tools_change(tmp_path: Path) -> None:
    """ruff and mypy never enter the image, so bumping them must not cost a cold build."""
    changed = tmp_path / "pyproject.toml"
    changed.write_text(PYPROJECT.read_text().replace('"ruff==', '"ruff>=0.1,=='))
    assert changed.read_text() != PYPROJECT.read_text()
    assert _key(changed) == _key(PYPROJECT)


def test_cache_key_changes_when_the_debian_package_set_changes(tmp_path: Path) -> None:
    """The package set lives in the script; adding a package must force a rebuild."""
    copy = tmp_path / "build-image"
    script = BUILD_IMAGE.read_text()
    assert '    "procps",\n' in script
    copy.write_text(script.replace('    "procps",\n', '    "procps",\n    "bluez-hcidump",\n'))
    changed = subprocess.run(
        [sys.executable, str(copy), "--print-key", "--pyproject", str(PYPROJECT)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert changed != _key(PYPROJECT)


def test_build_fails_loudly_when_the_host_has_no_debian_sources(tmp_path: Path) -> None:
    """The tier must never skip quietly: no mirror means a non-zero status and a reason."""
    changed = tmp_path / "pyproject.toml"  # a key with no cached image, so it must build
    changed.write_text(
        PYPROJECT.read_text().replace("dependencies = [\n", 'dependencies = [\n    "x",\n')
    )
    result = subprocess.run(
        [sys.executable, str(BUILD_IMAGE), "--pyproject", str(changed)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PORTWATCH_VM_APT_SOURCES": str(tmp_path / "none")},
    )
    assert result.returncode == 3
    assert "FAILED: the BlueZ test image could not be built" in result.stderr
    assert result.stdout == ""
