"""One-time login codes for the caregiver's phone link (issue 19).

The page's access token never travels in a URL: a link carries a short-lived, single-use
code instead (``/login?code=…``), which the page exchanges for the HttpOnly cookie and then
forgets. What is left in the browser's history is a used code, worth nothing.

Codes live in the state directory, one empty file each in ``login-codes/``, named
``<sha256 of the code>.<expiry as Unix seconds>``. So:

- whoever issues a code (``portwatch setup``, ``portwatch web link``, the demo) needs no
  running service, and the service needs no read access to the file, only the directory;
- the directory holds no usable code (a name is a digest; the code itself is only in the
  link);
- a code is used exactly once, even with two phones racing: redeeming renames the file to
  ``<digest>.used``, and of two renames of the same file only one succeeds.

Expired and used entries are swept when the next code is issued.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final

__all__ = [
    "CODES_DIR_NAME",
    "DEFAULT_VALID",
    "MAX_VALID",
    "CodeStore",
    "Redeemed",
]

CODES_DIR_NAME: Final = "login-codes"
# A link is meant to be opened right away (a QR code scanned at the kitchen table); an
# hour leaves room for finding the phone. `portwatch setup` gives a day, for a box
# prepared at the clinic and unpacked at home.
DEFAULT_VALID: Final = timedelta(hours=1)
MAX_VALID: Final = timedelta(days=7)
# 16 random bytes: 128 bits, like the web token; nobody guesses one in its lifetime.
CODE_BYTES: Final = 16
# A used or expired entry is kept this long after its end so that the page can say "already
# used" or "expired" instead of "unknown" to someone opening the link again.
KEEP_AFTER: Final = timedelta(days=2)
_USED: Final = "used"


class Redeemed(StrEnum):
    """What opening a code gave."""

    OK = "ok"  # exchanged now; the caller sets the cookie
    USED = "used"  # exchanged before (by this phone or another)
    EXPIRED = "expired"  # never exchanged, and now too old
    UNKNOWN = "unknown"  # not a code this gateway issued (or swept long ago)


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class CodeStore:
    """The one-time codes of the state directory ``state_dir``."""

    state_dir: Path

    @property
    def directory(self) -> Path:
        return self.state_dir / CODES_DIR_NAME

    def issue(self, now: datetime, valid: timedelta = DEFAULT_VALID) -> str:
        """A new code, valid from ``now`` for ``valid``; returns the code (only the caller
        ever sees it).

        The directory is made like the state directory: same owner and group, no access for
        others (a root ``portwatch setup`` must leave it to the service's user).

        Raises:
            ValueError: ``valid`` is not in (0, MAX_VALID].
            OSError: the state directory cannot be written.
        """
        if not timedelta(0) < valid <= MAX_VALID:
            raise ValueError(f"a link is valid for up to {MAX_VALID.days} days, not {valid}")
        self._make_directory()
        self.sweep(now)
        code = secrets.token_urlsafe(CODE_BYTES)
        expiry = int((now + valid).timestamp())
        path = self.directory / f"{_digest(code)}.{expiry}"
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        _same_owner(path, self.directory)
        return code

    def redeem(self, code: str, now: datetime) -> Redeemed:
        """Use ``code`` once: :attr:`Redeemed.OK` the first time within its validity."""
        if not code or len(code) > 100 or not self.directory.is_dir():
            return Redeemed.UNKNOWN
        digest = _digest(code)
        for entry in self.directory.glob(f"{digest}.*"):
            _, _, tail = entry.name.partition(".")
            if tail == _USED:
                return Redeemed.USED
            if not tail.isdigit():
                continue
            if datetime.fromtimestamp(int(tail), UTC) <= now:
                return Redeemed.EXPIRED
            try:
                entry.rename(self.directory / f"{digest}.{_USED}")
            except FileNotFoundError:
                return Redeemed.USED  # another request took it a moment ago
            return Redeemed.OK
        return Redeemed.UNKNOWN

    def sweep(self, now: datetime) -> int:
        """Remove entries used or expired more than :data:`KEEP_AFTER` ago; how many."""
        removed = 0
        if not self.directory.is_dir():
            return removed
        for entry in self.directory.iterdir():
            _, _, tail = entry.name.partition(".")
            if tail == _USED:
                ended = datetime.fromtimestamp(entry.stat().st_mtime, UTC)
            elif tail.isdigit():
                ended = datetime.fromtimestamp(int(tail), UTC)
            else:
                continue
            if ended + KEEP_AFTER < now:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed += 1
        return removed

    def _make_directory(self) -> None:
        directory = self.directory
        if directory.is_dir():
            return
        parent = os.stat(self.state_dir)
        # Group access only where the state directory grants it (the shared mode of issue 16).
        mode = 0o770 if parent.st_mode & 0o070 else 0o700
        directory.mkdir(mode=mode)
        directory.chmod(mode | (parent.st_mode & 0o2000))  # keep a setgid bit, past the umask
        _same_owner(directory, self.state_dir)


def _same_owner(path: Path, like: Path) -> None:
    """Give ``path`` the owner and group of ``like`` (only root can, and only root needs to)."""
    if os.geteuid() != 0:
        return
    stat = os.stat(like)
    os.chown(path, stat.st_uid, stat.st_gid)
