"""The log's SQLite file: opening and checking it, transactions, and its one writer thread.

One writer connection (:meth:`Database.open`) and any number of readers
(:meth:`Database.open_reader`, read-only connections; WAL lets them read while the writer
writes, each query seeing whole transactions only). Every commit is durable on return (WAL
with ``synchronous=FULL``: the write-ahead log is flushed to the card before a commit returns,
so a power cut loses nothing acknowledged).

A connection is used from one thread at a time. Async code reaches it through one entrance,
:meth:`Database.run`, which runs a function on the log's own writer thread (as Datasette's
``execute_write_fn``): the log owns that thread, starts it on first use and ends it in
:meth:`Database.close`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

if TYPE_CHECKING:
    # Imported where async code awaits the log, not at import time: a command typed by a
    # person reads the log synchronously (issue 20).
    import asyncio
    from concurrent.futures import Future, ThreadPoolExecutor

from portwatch.log import files
from portwatch.log.errors import (
    RECOVERY_ADVICE,
    StoreDamagedError,
    StoreError,
    StoreInputError,
    StoreTooNewError,
    StoreUnavailableError,
    classify,
)
from portwatch.log.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DB_FILE_NAME",
    "WRITER_THREAD_NAME",
    "Database",
    "check",
    "default_db_path",
    "writers_idle",
]

_T = TypeVar("_T")

DB_FILE_NAME: Final = "portwatch.db"
STATE_DIRECTORY_ENV: Final = "PORTWATCH_STATE_DIRECTORY"
DEFAULT_STATE_DIRECTORY: Final = Path("/var/lib/portwatch")

# How long a connection waits for another's lock before failing (issue 4: readers and the
# writer at the same time without "database is locked"). WAL readers never block the writer;
# this covers checkpoints and a second process opening the file.
BUSY_TIMEOUT_MS: Final = 10_000
# Each connection's page cache, in KiB (SQLite's default is 2,000). The daemon keeps three
# connections to the log (the writer, the page's reader, the log watch) for days; at the
# default their caches filled to ~2 MiB each of the Pi's 60 MB (issue 20). Appends touch
# the right edge of each index, and the page and the summary read a day at most.
CACHE_KIB: Final = 512
# The name of the log's writer thread (as threads list it: WRITER_THREAD_NAME + "_0").
WRITER_THREAD_NAME: Final = "portwatch-store"


def default_db_path() -> Path:
    """Where the log lives unless ``--db`` says otherwise.

    The one place that decides it: ``$PORTWATCH_STATE_DIRECTORY`` (systemd's
    ``StateDirectory``), else ``/var/lib/portwatch``. To be redirected to
    ``portwatch.config`` when settings land.
    """
    directory = os.environ.get(STATE_DIRECTORY_ENV) or str(DEFAULT_STATE_DIRECTORY)
    # systemd may pass several directories separated by ':'; the first is ours.
    return Path(directory.split(":")[0]) / DB_FILE_NAME


class _InFlight:
    """How many functions handed to :meth:`Database.run` have not finished, in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def started(self) -> None:
        with self._lock:
            self._count += 1

    def ended(self, work: Future[Any]) -> None:
        del work
        with self._lock:
            self._count -= 1

    @property
    def idle(self) -> bool:
        return self._count == 0


_IN_FLIGHT: Final = _InFlight()


def writers_idle() -> bool:
    """Whether no log of this process has work from :meth:`Database.run` in flight.

    Simulated time must not run ahead of a commit in flight (:mod:`portwatch.sim.pacing`
    waits for this, as it waits for its own tracked threads).
    """
    return _IN_FLIGHT.idle


def _called(fn: Callable[[], _T]) -> asyncio.Future[_T]:
    """``fn`` called now, as a finished future (:meth:`Database.run` when not threaded)."""
    import asyncio

    done: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
    try:
        done.set_result(fn())
    except Exception as exc:  # noqa: BLE001 - handed to whoever awaits, as a thread would
        done.set_exception(exc)
    return done


class Database:
    """One connection to the log: the writer (:meth:`open`) or a reader (:meth:`open_reader`).

    Not thread-safe: use it from one thread at a time. From async code, use :meth:`run`,
    which puts the work on the log's own thread. Methods that write commit before they
    return. The tables' methods live in the classes :class:`~portwatch.log.store.Store`
    gathers; this one holds what they share.
    """

    def __init__(
        self, connection: sqlite3.Connection, path: Path, *, readonly: bool, threaded: bool = True
    ) -> None:
        self._db = connection
        self.path = path
        self.readonly = readonly
        self.threaded = threaded
        self._thread: ThreadPoolExecutor | None = None
        self._closed = False

    @classmethod
    def open(cls, path: Path, *, threaded: bool = True) -> Self:
        """Open (creating if missing) the log for writing, migrated to this version.

        Creates the directory (0700) and the file (0600) when missing, checks the file
        with ``PRAGMA quick_check`` through a read-only connection before anything writes,
        and applies forward migrations. ``threaded=False``: :meth:`run` calls its function
        at once on the caller's thread (one-off tools, and tests on a virtual clock, whose
        time must not move on while a commit is in another thread).

        Raises:
            StoreDamagedError: the file is not a sound SQLite database; it is left as found.
            StoreTooNewError: the file is from a newer portwatch; it is left as found.
            StoreUnavailableError: the file or directory cannot be created or written.
        """
        path = Path(path)
        _refuse_read_only_mount(path)
        try:  # modes repaired, symlinks and another user's files refused (issue 21)
            files.secure_log_path(path)
        except files.UnsafeLogFile as exc:
            raise StoreUnavailableError(str(exc)) from exc
        if path.exists():
            check(path)
        else:
            _create_file(path)
        try:
            connection = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
        except sqlite3.Error as exc:
            raise classify(exc, path, "opening") from exc
        store = cls(connection, path, readonly=False, threaded=threaded)
        try:
            store._setup()
        except BaseException:
            connection.close()
            raise
        return store

    @classmethod
    def open_reader(cls, path: Path) -> Self:
        """A read-only view of the log for another thread or process (the caregiver page).

        Raises:
            StoreDamagedError, StoreTooNewError: as :meth:`open`.
            StoreError: the file does not exist yet or is from an older portwatch
                (the daemon creates and migrates it at start).
        """
        path = Path(path)
        connection = _connect_readonly(path)
        try:
            version = _check_connection(connection, path)
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"the log at {path} has schema version {version}, this portwatch reads "
                    f"{SCHEMA_VERSION}; start the portwatch service once so that it migrates it"
                )
            connection.execute("PRAGMA query_only = ON")
        except BaseException:
            connection.close()
            raise
        return cls(connection, path, readonly=True)

    def _setup(self) -> None:
        db = self._db
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:  # a race with check(): refuse all the same
                raise _too_new(self.path, version)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            db.execute("PRAGMA foreign_keys = ON")
            for number in range(version, SCHEMA_VERSION):
                db.executescript(
                    f"BEGIN IMMEDIATE;\n{MIGRATIONS[number]}\n"
                    f"PRAGMA user_version = {number + 1};\nCOMMIT;"
                )
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.rollback()
            raise classify(exc, self.path, "opening and migrating") from exc

    def run(self, fn: Callable[[], _T]) -> asyncio.Future[_T]:
        """Run ``fn`` (calls on this log) on the log's writer thread; await its result.

        The one way async code uses the log: every call then happens on one thread, one at
        a time, and no fsync blocks the event loop. The thread is this log's: made on first
        use, ended by :meth:`close` (a log opened with ``threaded=False`` calls ``fn`` at
        once instead). Await the future; a cancelled waiter does not stop
        ``fn`` once it has started (``asyncio.wait`` on the future can still collect it).

        Raises:
            StoreError: the log is closed.
        """
        import asyncio

        if self._closed:
            raise StoreError(f"the log at {self.path} is closed")
        if not self.threaded:
            return _called(fn)
        if self._thread is None:
            from concurrent.futures import ThreadPoolExecutor

            self._thread = ThreadPoolExecutor(1, thread_name_prefix=WRITER_THREAD_NAME)
        _IN_FLIGHT.started()
        work = self._thread.submit(fn)
        work.add_done_callback(_IN_FLIGHT.ended)
        return asyncio.wrap_future(work)

    def close(self) -> None:
        """Wait for the work :meth:`run` started, end the writer thread, close the connection.

        A clean close also checkpoints the write-ahead log.
        """
        self._closed = True
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (durably) on leaving, rolled back on error."""
        if self.readonly:
            raise StoreError(f"this connection to {self.path} is read-only ({doing} refused)")
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise classify(exc, self.path, doing) from exc
        try:
            yield db
            db.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            _rollback(db)
            raise StoreInputError(f"{doing}: {exc}") from exc
        except sqlite3.Error as exc:
            _rollback(db)
            raise classify(exc, self.path, doing) from exc
        except BaseException:
            _rollback(db)
            raise

    def _read(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise classify(exc, self.path, "reading") from exc


def check(path: Path) -> int:
    """Check the log without writing to it; returns its schema version.

    What ``Store.open`` does first and what ``portwatch doctor`` repeats.

    Raises:
        StoreDamagedError: quick_check found a problem, or the file is not a database.
        StoreTooNewError: the file is from a newer portwatch.
        StoreUnavailableError: the file cannot be opened.
    """
    connection = _connect_readonly(Path(path), untouched=True)
    try:
        return _check_connection(connection, Path(path))
    finally:
        connection.close()


def _connect_readonly(path: Path, *, untouched: bool = False) -> sqlite3.Connection:
    """A read-only connection; ``untouched``: for a one-off check, create nothing beside it.

    A read-only connection to a WAL database still makes an empty ``-wal`` and a ``-shm``
    beside it. When neither is there, no connection has the log open (SQLite removes them
    when the last one closes cleanly) and nothing is waiting in a WAL, so the check opens it
    ``immutable``: a refused, damaged log is left exactly as found, with nothing new beside
    it. When they are there (the daemon is running, or it crashed), the WAL must be read:
    the usual ``mode=ro``, which adds nothing that was not already there.
    """
    if not path.exists():
        raise StoreError(f"there is no log at {path} yet; the portwatch service creates it")
    companions = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    immutable = untouched and not any(p.exists() for p in companions)
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else ""),
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        connection.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    except sqlite3.Error as exc:
        raise classify(exc, path, "opening read-only") from exc
    return connection


def _check_connection(connection: sqlite3.Connection, path: Path) -> int:
    try:
        problems = [row[0] for row in connection.execute("PRAGMA quick_check").fetchall()]
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        raise classify(exc, path, "checking it") from exc
    if problems != ["ok"]:
        shown = "; ".join(str(p) for p in problems[:3])
        raise StoreDamagedError(
            f"the log at {path} is damaged: PRAGMA quick_check found {len(problems)} "
            f"problem(s), first: {shown}. " + RECOVERY_ADVICE.format(path=path, name=path.name)
        )
    if version > SCHEMA_VERSION:
        raise _too_new(path, version)
    return version


def _too_new(path: Path, version: int) -> StoreTooNewError:
    return StoreTooNewError(
        f"the log at {path} has schema version {version}, written by a newer portwatch; this "
        f"one knows up to {SCHEMA_VERSION} and will not alter it. Install the newer portwatch "
        "again, or move the file aside to start a new log"
    )


def _refuse_read_only_mount(path: Path) -> None:
    """Say plainly when the state directory sits on a read-only file system."""
    existing = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if existing is not None and os.statvfs(existing).f_flag & os.ST_RDONLY:
        raise StoreUnavailableError(
            f"the file system holding {existing} is mounted read-only, so portwatch cannot "
            f"write its log at {path}. Remount it read-write (an SD card may have been "
            "remounted read-only after errors: check `dmesg`), or set another state directory"
        )


def _create_file(path: Path) -> None:
    """The log, owner only (0600) in a directory of its own making (0700); in a directory
    shared with a group (systemd's ``StateDirectoryMode=2770``: the people in group
    portwatch, issue 16) the group may read and write it too (0660), whatever the umask.
    SQLite gives its -wal and -shm files the log's mode."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shared = stat.S_IMODE(path.parent.stat().st_mode) & (stat.S_IRGRP | stat.S_IWGRP)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        try:
            if shared == stat.S_IRGRP | stat.S_IWGRP:
                os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR | shared)
        finally:
            os.close(fd)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot create the log at {path}: {exc.strerror or exc}. Check that the state "
            "directory exists, is on a writable disk, and that portwatch's user may write it"
        ) from exc


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # the error being raised says more
            db.execute("ROLLBACK")
