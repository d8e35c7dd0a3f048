"""Where setup writes, under a root, with the owners and modes the service expects.

Everything is written under ``root`` (``/`` on the Pi; a temporary directory in the tests,
or a mounted SD card for a clinic preparing Pis in bulk) at the path the running system
will see it. The settings are public to the machine's users (0644, root), the secrets are
root's alone (credentials directory 0700, files 0600: systemd hands them to the service as
credentials), and the state directory belongs to the service's user when it exists. Files
are replaced atomically: a power cut leaves the old file or the new one.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "CLINIC_SECRET",
    "CREDENTIALS_DIR",
    "WEB_TOKEN",
    "Layout",
    "ensure_dir",
    "service_owner",
    "write_file",
]

# The systemd credential names of the unit's LoadCredential= lines.
CLINIC_SECRET: Final = "clinic-secret"  # noqa: S105 (a credential's name, not a secret)
WEB_TOKEN: Final = "web-token"  # noqa: S105 (a credential's name, not a secret)
CREDENTIALS_DIR: Final = Path("/etc/portwatch/credentials")  # the unit's LoadCredential= files
SETTINGS_MODE: Final = 0o644
SECRET_MODE: Final = 0o600
CREDENTIALS_MODE: Final = 0o700
STATE_MODE: Final = 0o700  # the unit's StateDirectoryMode applies once the service starts


@dataclass(frozen=True, slots=True)
class Layout:
    """The paths setup writes, as the running system sees them, and where they are on disk."""

    root: Path
    config: Path  # /etc/portwatch/portwatch.toml
    state: Path  # /var/lib/portwatch, or the settings' store.state_directory
    credentials: Path = CREDENTIALS_DIR

    def on_disk(self, path: Path) -> Path:
        """``path`` of the running system, under the root being prepared."""
        return self.root / path.relative_to("/") if path.is_absolute() else self.root / path

    @property
    def is_live(self) -> bool:
        """Setup runs on the machine itself (not into an image or a test's directory)."""
        return self.root.resolve() == Path("/")


def service_owner(layout: Layout, user: str) -> tuple[int, int] | None:
    """The service user's uid and gid on a live system, None when it does not exist (or
    when preparing another root, whose users this machine's database does not know)."""
    if not layout.is_live:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _chown(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is not None and os.geteuid() == 0:
        os.chown(path, *owner)


def ensure_dir(path: Path, mode: int, owner: tuple[int, int] | None = None) -> bool:
    """Make ``path`` (and its parents, with the default mode) if missing; a new directory gets
    ``mode`` and ``owner``. An existing one is left as it is (never emptied, never
    re-moded: the service's own directory may be shared with group portwatch). True if new."""
    if path.is_dir():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=mode)
    path.chmod(mode)  # past the umask
    _chown(path, owner)
    return True


def write_file(path: Path, data: str, mode: int, owner: tuple[int, int] | None = None) -> None:
    """Replace ``path`` atomically with ``data``, created with ``mode`` from the start (a
    secret is never readable by others, not even for a moment), owned by ``owner`` or by
    whoever runs setup (root on the Pi)."""
    tmp = path.with_name(f".{path.name}.setup-tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, mode)
        _chown(tmp, owner)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
