"""The log's files on disk: private, owned by whoever runs the service, never a symlink.

Issue 21 found: a log created 0644 by an older portwatch (or copied in) stayed readable by
every user without a word; a 0777 state directory was used as it was; a ``portwatch.db``
symlink to another file was followed and that file overwritten; and root running a
command in the service's directory created a root-owned log (and ``-wal``/``-shm``) the
service could then not open. Before the log is opened for writing, :func:`secure_log_path`
repairs what it safely can (modes), saying in one line what it did, and refuses the rest
(:class:`UnsafeLogFile`, one line saying what to do).
"""

from __future__ import annotations

import logging
import os
import pwd
import shlex
import stat
import sys
from pathlib import Path
from typing import Final

__all__ = ["UnsafeLogFile", "secure_log_path"]

_LOGGER = logging.getLogger(__name__)

FILE_MODE: Final = 0o600  # the log holds health data: its owner only
# ...and, in a directory shared with a group on purpose (setgid, the group may read, write
# and enter it: systemd's StateDirectoryMode=2770), that group too: the people who look
# after the gateway, in group portwatch, use the log when the service is stopped (issue 16).
SHARED_FILE_MODE: Final = 0o660
# SQLite's companions of the log: written as often as the log itself, same data.
COMPANIONS: Final = ("", "-wal", "-shm", "-journal")


class UnsafeLogFile(Exception):
    """The log's path cannot be used safely; the message says why and what to do."""


def secure_log_path(path: Path, *, euid: int | None = None) -> list[str]:
    """Check (and repair) the log's directory and files before writing; the repairs made.

    Each repair is also logged as one warning line.

    Raises:
        UnsafeLogFile: the log or a companion is a symlink or not a regular file, or root
            would write in a directory that belongs to the service's user.
    """
    uid = os.geteuid() if euid is None else euid
    directory = path.parent
    done: list[str] = []
    try:
        folder = directory.stat()  # a symlinked state directory is fine (systemd makes some)
    except FileNotFoundError:
        return done  # created private by the store
    if uid == 0 and folder.st_uid != 0:
        raise UnsafeLogFile(_as_service_user(directory, folder.st_uid))
    mode = stat.S_IMODE(folder.st_mode)
    shared = _shared(mode)
    open_to = 0o002 if shared else 0o022  # a shared directory is its group's to write
    if mode & open_to and not mode & stat.S_ISVTX and folder.st_uid == uid:
        # Others could replace the log with a link; a sticky directory (/tmp) is left as
        # it is: there only a file's owner may replace it, and the checks below hold.
        done.append(_said(_private(directory, folder.st_mode, mode & ~open_to)))
    repaired: list[str] = []  # the first said in full, the others named after it
    for suffix in COMPANIONS:
        file = directory / f"{path.name}{suffix}"
        try:
            found = file.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(found.st_mode) or not stat.S_ISREG(found.st_mode):
            what = "a symbolic link" if stat.S_ISLNK(found.st_mode) else "not a regular file"
            raise UnsafeLogFile(
                f"{file} is {what}; portwatch never writes its log through one. Move it "
                f"away (mv {shlex.quote(str(file))} {shlex.quote(str(file))}.moved) and start "
                "again; the log is then created afresh"
            )
        if found.st_uid != uid and not (shared and found.st_gid == folder.st_gid):
            raise UnsafeLogFile(
                f"{file} belongs to {_user(found.st_uid)!r}, not to {_user(uid)!r} who runs "
                "portwatch now; run portwatch as its owner (sudo -u OWNER ...), or give the "
                f"file to the service's user (chown)"
            )
        if stat.S_IMODE(found.st_mode) & (0o007 if shared else 0o077):
            wanted = SHARED_FILE_MODE if shared else FILE_MODE
            line = _private(file, found.st_mode, wanted)
            repaired.append(line if not repaired else file.name)
    if repaired:  # the log and its -wal and -shm, said in one line
        more = f" (so were {', '.join(repaired[1:])})" if len(repaired) > 1 else ""
        done.append(_said(repaired[0] + more))
    return done


def _said(line: str) -> str:
    _LOGGER.warning("%s", line)
    return line


def _private(target: Path, mode: int, wanted: int) -> str:
    """Give `target` the mode `wanted` (opened without following a symlink), and say so."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(target, flags | (os.O_DIRECTORY if target.is_dir() else 0))
    try:
        os.fchmod(fd, wanted)
    finally:
        os.close(fd)
    return f"{target} was open to other users (mode {stat.S_IMODE(mode):04o}); made it {wanted:04o}"


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _as_service_user(directory: Path, owner: int) -> str:
    name = _user(owner)
    command = shlex.join(["portwatch", *sys.argv[1:]])
    return (
        f"{directory} belongs to the user {name!r}; as root this would leave files there "
        f"that the service cannot open. Run it as that user: sudo -u {name} {command}"
    )


def _shared(mode: int) -> bool:
    """A directory shared with its group on purpose: setgid, and the group's to use."""
    return bool(mode & stat.S_ISGID) and mode & 0o070 == 0o070
