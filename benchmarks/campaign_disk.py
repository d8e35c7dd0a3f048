"""Campaign: the disk under the log fills up, turns read-only, or the log file is damaged.

Issue 10 ("Disk: full, read-only, the database file damaged. The behaviours the log issue
names, with nothing lost that was acknowledged") against issue 4's promises: readings wait
in memory while the log cannot be written and are written once it can; the caregiver is
told; a damaged log is never written to nor deleted, and portwatch stops with a message
that says what it found and how to recover.

Three parts, all on real parts (the real :class:`~portwatch.log.store.Store` and
:class:`~portwatch.log.writer.ReadingWriter`, real SQLite, real files):

* **full**: a small tmpfs in a private mount namespace (``unshare -rm``, no privileges)
  holds the log of a running :class:`~portwatch.service.daemon.Daemon` (the demo's wiring: the
  virtual radio, a loopback clinic, and the caregiver's URL on a loopback receiver that
  refuses its first POST). The disk fills up N times while readings keep arriving through
  the daemon's own sink, then is freed. Each episode: a burst written and acknowledged
  (``on_durable``), ballast until ``ENOSPC``, more bursts until a write fails (SQLite
  still writes into the blocks its WAL holds, so a full disk may take a few first) and the
  readings wait in memory, the caregiver's storage notice awaited at the receiver while
  the disk is still full, the ballast removed, the writer left to catch up. The notice is
  the real ``StorageAlarm.on_trouble``'s: sent straight to the caregiver's URL (the outbox
  is in the full log), then logged as delivered.
* **read-only**: the same tmpfs remounted read-only N times and back. Linux refuses
  ``remount,ro`` while a file on it is open for writing (``EBUSY``), and an error-forced
  read-only remount needs a real block device, so each episode is a stop and a start: the
  writer stops, the disk goes read-only, opening the log is refused with its message, the
  disk comes back, the log opens with everything. The read-only turn *while running* is
  played with SQLite's ``query_only`` switch as a stand-in for the mount (a system edge,
  as in tests/store/test_writer.py), and said so in the notes.
* **damaged**: a log with readings is damaged in several ways (header overwritten, a
  b-tree page's header garbled, pages zeroed, the file truncated); ``Store.open`` must
  refuse each, and the file must stay byte-identical, with no -wal or -shm made beside it
  (counted apart). ``portwatch
  run`` is started on one (every one in the full run) as a subprocess: its exit status,
  whether stderr says how to recover, whether it prints a traceback, and the file's bytes
  afterwards are recorded.

Counted: readings acknowledged and then missing from the log (must be 0), readings stored
more than once (0), readings buffered while the disk was unwritable and written once it
came back, storage notices the caregiver received and the log recorded as delivered,
damaged files refused and left byte-identical. It passes only if nothing is lost or
doubled, every full episode told the caregiver exactly once, every
damaged file was refused unchanged, and ``portwatch run`` said how to recover and failed.

Where ``unshare -rm`` cannot mount a tmpfs (no user namespaces, no ``unshare``), the full
and read-only parts are reported "not run" with the reason, and the campaign does not pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

NAME = "disk (full, read-only, damaged log)"
DEVICE = "disk-campaign"
HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 11, 4, tzinfo=UTC)
# Small enough to fill in a blink; room for all the episodes' readings through the daemon
# (with the rule's decisions, a few hundred bytes each) plus a WAL that grows while its
# checkpoints fail on the full disk, so only ballast fills it: at 128m the full run's own
# data filled the disk for good after 10 of its 20 episodes.
TMPFS_SIZE = {True: "16m", False: "512m"}
CHILD_TIMEOUT_S = 300
# Batches offered to a full disk before the episode counts as one the log rode out.
MAX_ROUNDS_WHILE_FULL = 40
RUN_TIMEOUT_S = 60
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - a test secret, signs nothing
SETTINGS = """
[patient]
reference = "Patient/disk-campaign"
placement = 2026-11-04T00:00:00Z
timezone = "Europe/Berlin"
[clinic]
url = "http://127.0.0.1:9/alerts"
recipient = "Organization/clinic-1"
secret_file = "{secret}"
[store]
state_directory = "{state}"
"""


# -- the child: runs inside the private mount namespace ----------------------------------


def _reading(seq: int, received_at: datetime | None = None) -> Any:
    from portwatch.model import Reading, ReadingKind, Unit

    return Reading(
        device=DEVICE,
        kind=ReadingKind.STREAM,
        value=Decimal(seq),
        unit=Unit.CELSIUS,
        celsius=37.0,
        time=T0 + timedelta(seconds=seq),
        received_at=received_at or T0 + timedelta(seconds=seq),
        interval_s=1.0,
        raw=b"x" * 64,
    )


def _fill(ballast: Path) -> None:
    """Write until the file system says it is full (ENOSPC)."""
    with contextlib.suppress(OSError), ballast.open("ab") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise


def _mount(options: str, where: Path) -> None:
    # mount(8) from PATH inside our own namespace, with fixed options: no outside input.
    command = ["mount", "-o", options, str(where)]
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603


class _Episodes:
    """The writer, its acknowledgements and the caregiver notices, as the daemon wires them."""

    def __init__(self, directory: Path) -> None:
        from portwatch.clock import VirtualClock
        from portwatch.log.store import DB_FILE_NAME

        self.path = directory / DB_FILE_NAME
        self.clock = VirtualClock(T0)
        self.acked: list[int] = []
        self.troubles = 0  # StoreTrouble reports (first and repeats)
        self.episodes_told = 0  # episodes whose notice reached the caregiver's URL
        self.cleared = 0  # "writable again" reports
        self.buffered_max = 0
        self.written_after = 0  # readings buffered while unwritable, written afterwards
        self.rounds_max = 0  # most batches a full disk still took (into the WAL's blocks)

    def on_durable(self, batch: Sequence[Any]) -> None:
        # Only this campaign's readings (the daemon's virtual wearable sends its own too).
        self.acked.extend(int(s.reading.value) for s in batch if s.reading.device == DEVICE)

    async def pump(self, writer: Any, until: Any, limit_s: float = 120.0) -> bool:
        """Move virtual time (real time for the store thread) until ``until()`` holds."""
        waited = 0.0
        while not until():
            if waited >= limit_s:
                return False
            await self.clock.advance(0.5)
            await asyncio.sleep(0.005)
            waited += 0.5
            self.buffered_max = max(self.buffered_max, writer.buffered)
        return True


STORAGE_TITLE = "Readings cannot be saved"  # notices.py: NoticeKind.STORAGE_TROUBLE's title


class _Receiver:
    """The caregiver's notification URL on loopback: the Title of each POST it accepted.

    It answers 503 to the very first POST, so the direct send's retry is exercised too.
    """

    def __init__(self) -> None:
        self.titles: list[str] = []
        self.refused = 0
        self.url = ""
        self._runner: Any = None

    async def start(self) -> None:
        from aiohttp import web

        async def take(request: web.Request) -> web.Response:
            await request.read()
            if self.refused == 0:
                self.refused += 1
                return web.Response(status=503, text="busy")
            self.titles.append(request.headers.get("Title", ""))
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/", take)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def storage_notices(self) -> int:
        return self.titles.count(STORAGE_TITLE)


def _daemon_sandbox(directory: Path, receiver: _Receiver) -> Any:
    """The demo's daemon (``portwatch run``'s wiring, the virtual radio, a loopback clinic)
    with its log on the small tmpfs and the caregiver's URL on the loopback receiver."""
    from portwatch.config import NotifySection, Settings
    from portwatch.sim.sandbox import Sandbox

    class _Sandbox(Sandbox):
        def settings(self) -> Settings:
            notify = NotifySection(caregiver_url=receiver.url)
            return super().settings().model_copy(update={"notify": notify})

    return _Sandbox(state_dir=directory, page=False)


async def _child_full(directory: Path, episodes: int, per_episode: int) -> dict[str, Any]:
    """Fill the disk ``episodes`` times under a running Daemon while readings arrive.

    The readings enter through the daemon's own sink (where the link hands them over), so
    the real ReadingWriter meets the full disk and the real ``StorageAlarm.on_trouble``
    tells the caregiver: counted at the loopback receiver, not by a copy of its logic.
    """
    from portwatch.sim.pacing import pace

    receiver = _Receiver()
    await receiver.start()
    sandbox = _daemon_sandbox(directory, receiver)
    run = _Episodes(directory)
    seq = 0
    unwritable_episodes = 0
    try:
        async with sandbox:
            run.clock = sandbox.clock
            daemon = sandbox.daemon
            daemon.launch.hooks.on_durable = run.on_durable
            writer = daemon.service.readings.writer

            async def pump(until: Any, limit_s: float = 300.0) -> bool:
                waited = 0.0
                while not until():
                    if waited >= limit_s:
                        return False
                    step = sandbox.clock.now() + timedelta(seconds=0.5)
                    await pace(sandbox.clock, step, speed=None, settled=sandbox.settled)
                    await asyncio.sleep(0.005)
                    waited += 0.5
                    run.buffered_max = max(run.buffered_max, writer.buffered)
                return True

            async def burst() -> None:
                nonlocal seq
                for _ in range(per_episode):
                    await daemon.service.readings.sink(_reading(seq, sandbox.clock.now()))
                    seq += 1

            for _ in range(episodes):
                await burst()
                await pump(lambda: writer.buffered == 0)
                ballast = directory / "ballast"
                _fill(ballast)
                unwritable = False
                # SQLite reuses the blocks its WAL already holds, so a full disk may take a
                # few more batches before a write fails: keep them coming until one does.
                for rounds in range(1, MAX_ROUNDS_WHILE_FULL + 1):
                    run.rounds_max = max(run.rounds_max, rounds)
                    await burst()
                    await pump(lambda: writer.trouble is not None or writer.buffered == 0)
                    if writer.trouble is not None:
                        unwritable = True
                        run.troubles += 1
                        break
                if unwritable:
                    unwritable_episodes += 1
                    # The caregiver is told while the disk is still full: no write needed.
                    told = unwritable_episodes
                    await pump(lambda t=told: receiver.storage_notices >= t, limit_s=120)
                    run.episodes_told = receiver.storage_notices
                waiting = writer.buffered
                ballast.unlink()
                await pump(lambda: writer.buffered == 0 and writer.trouble is None)
                if unwritable:
                    run.cleared += writer.trouble is None
                    run.written_after += waiting - writer.buffered
            # Long enough for any second POST from the outbox (its first retry is 5 s).
            await pump(lambda: False, limit_s=60)
            notices = [r for r in daemon.store.outbox_all() if r.kind == "storage.trouble"]
            queued = len(notices)
            delivered = sum(r.status == "delivered" for r in notices)
            post_count = receiver.storage_notices
    finally:
        await receiver.stop()
    result = _tally(run, seq, unwritable_episodes, queued)
    result.update(
        notices_received=post_count,
        notices_logged_delivered=delivered,
        notice_retries=receiver.refused,
    )
    return result


async def _child_read_only(
    directory: Path, mount_point: Path, episodes: int, per_episode: int
) -> dict[str, Any]:
    """Remount the disk read-only between runs; then turn the log read-only while running."""
    from portwatch.log.store import Store, StoreUnavailableError
    from portwatch.log.writer import ReadingWriter, StoreTrouble

    run = _Episodes(directory)
    seq = 0
    refused_clearly = refused_other = 0
    for _ in range(episodes):
        with Store.open(run.path) as store:
            writer = ReadingWriter(store, run.clock, on_durable=run.on_durable)
            for _ in range(per_episode):
                writer.submit(_reading(seq))
                seq += 1
            await writer.close()  # as at SIGTERM: what is waiting is written
        _mount("remount,ro", mount_point)
        try:
            with Store.open(run.path):
                refused_other += 1  # opened a read-only log for writing: not what we expect
        except StoreUnavailableError as exc:
            refused_clearly += "read-only" in str(exc)
            refused_other += "read-only" not in str(exc)
        finally:
            _mount("remount,rw", mount_point)
    # While running: SQLite's query_only stands in for the mount (see the module docstring).
    stand_in_episodes = 0
    with Store.open(run.path) as store:

        def on_trouble(trouble: StoreTrouble | None) -> None:
            if trouble is None:
                run.cleared += 1
            else:
                run.troubles += 1

        writer = ReadingWriter(store, run.clock, on_durable=run.on_durable, on_trouble=on_trouble)
        task = asyncio.create_task(writer.run())
        try:
            for _ in range(episodes):
                before = run.troubles
                store._db.execute("PRAGMA query_only = ON")
                for _ in range(per_episode):
                    writer.submit(_reading(seq))
                    seq += 1
                await run.pump(writer, lambda b=before: run.troubles > b, limit_s=60)
                waiting = writer.buffered
                store._db.execute("PRAGMA query_only = OFF")
                await run.pump(writer, lambda: writer.buffered == 0)
                if run.troubles > before:
                    stand_in_episodes += 1
                    run.written_after += waiting - writer.buffered
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await writer.close()
    result = _tally(run, seq, stand_in_episodes, 0)
    result.update(refused_clearly=refused_clearly, refused_other=refused_other)
    return result


def _tally(run: _Episodes, submitted: int, unwritable: int, queued: int) -> dict[str, Any]:
    """Compare what was acknowledged with what a fresh connection finds in the log."""
    from portwatch.log.store import Store

    with Store.open(run.path) as log:
        stored = [int(s.reading.value or 0) for s in log.readings(T0, T0 + timedelta(days=30))]
        integrity = log._db.execute("PRAGMA integrity_check").fetchone()[0]
    unique = set(stored)
    return {
        "submitted": submitted,
        "acked": len(run.acked),
        "lost": len(set(run.acked) - unique),
        "never_written": submitted - len(unique),
        "duplicated": len(stored) - len(unique),
        "unwritable_episodes": unwritable,
        "buffered_max": run.buffered_max,
        "written_after": run.written_after,
        "rounds_max": run.rounds_max,
        "troubles": run.troubles,
        "cleared": run.cleared,
        "episodes_told": run.episodes_told,
        "notices_queued": queued,
        "integrity": integrity,
    }


def _child_main(argv: list[str]) -> int:
    mode, mount_point = argv[0], Path(argv[1])
    episodes, per_episode = int(argv[2]), int(argv[3])
    state = mount_point / "state"
    if mode == "full":
        result = asyncio.run(_child_full(state, episodes, per_episode))
    else:
        result = asyncio.run(_child_read_only(state, mount_point, episodes, per_episode))
    print(json.dumps(result))
    return 0


# -- the parent: namespaces, damaged files, the table -----------------------------------


def _namespace_problem() -> str | None:
    """None if ``unshare -rm`` can mount a tmpfs here; otherwise why not."""
    if shutil.which("unshare") is None:
        return "no `unshare` on this machine"
    with tempfile.TemporaryDirectory(prefix="portwatch-ns-") as probe_dir:
        probe = subprocess.run(  # noqa: S603 - fixed command, our own temporary directory
            ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe_dir}"],  # noqa: S607
            capture_output=True, text=True, check=False, timeout=30,
        )  # fmt: skip
    if probe.returncode != 0:
        return f"`unshare -rm` cannot mount a tmpfs: {probe.stderr.strip() or probe.returncode}"
    return None


def _in_namespace(mode: str, episodes: int, per_episode: int, size: str) -> dict[str, Any]:
    """Run this file's child on a fresh tmpfs in a private user and mount namespace."""
    with tempfile.TemporaryDirectory(prefix="portwatch-disk-") as work:
        mount_point = Path(work) / "mnt"
        mount_point.mkdir()
        child = [sys.executable, str(Path(__file__).resolve()), "--child", mode,
                 str(mount_point), str(episodes), str(per_episode)]  # fmt: skip
        script = (
            f"set -e; mount -t tmpfs -o size={size},mode=0700 tmpfs "
            f"{shlex.quote(str(mount_point))}; exec {shlex.join(child)}"
        )
        done = subprocess.run(  # noqa: S603 - our own interpreter and this file
            ["unshare", "-rm", "sh", "-c", script],  # noqa: S607
            capture_output=True, text=True, check=False, timeout=CHILD_TIMEOUT_S,
        )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return {"crashed": 1, "error": tail[0]}
    result: dict[str, Any] = json.loads(lines[-1])
    result["crashed"] = 0
    return result


def _digest(path: Path) -> str:
    """The log file's bytes, hashed (a damaged log must stay exactly as found)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _companions(path: Path) -> list[str]:
    """The -wal/-shm files beside the log (SQLite makes them for a WAL connection)."""
    return [p.name for p in sorted(path.parent.glob(path.name + "-*"))]


def _damages(rng: random.Random) -> dict[str, Any]:
    """Ways a log file gets damaged (a card failing, a half-copied file, a stray write)."""

    def header(data: bytearray, page: int) -> None:
        data[0:16] = b"not a database!\0"

    def btree_page(data: bytearray, page: int) -> None:
        at = page * rng.randrange(2, len(data) // page)
        data[at : at + 8] = bytes([0x2B]) + bytes(rng.randrange(256) for _ in range(7))

    def zeroed(data: bytearray, page: int) -> None:
        at = page * rng.randrange(1, len(data) // page - 2)
        data[at : at + 2 * page] = bytes(2 * page)

    def truncated(data: bytearray, page: int) -> None:
        del data[len(data) // 2 :]

    return {
        "header overwritten": header,
        "b-tree page garbled": btree_page,
        "pages zeroed": zeroed,
        "truncated": truncated,
    }


def _make_log(directory: Path, count: int) -> Path:
    from portwatch.log.store import DB_FILE_NAME, Store

    path = directory / DB_FILE_NAME
    with Store.open(path) as log:
        log.add_readings([_reading(i) for i in range(count)])
    return path


def _damaged(quick: bool, seed: int) -> dict[str, Any]:
    """Each damage: refused by Store.open, bytes unchanged; ``portwatch run`` on some."""
    from portwatch.log.store import StoreDamagedError, StoreError

    rng = random.Random(seed)
    kinds = _damages(rng)
    through_run = list(kinds) if not quick else ["b-tree page garbled"]
    out: dict[str, Any] = {
        "kinds": len(kinds), "refused": 0, "not_refused": [], "changed": [],
        "companions_made": [], "run": {},
    }  # fmt: skip
    for name, damage in kinds.items():
        with tempfile.TemporaryDirectory(prefix="portwatch-damaged-") as work:
            state = Path(work) / "state"
            path = _make_log(state, 3000)
            page = 4096
            data = bytearray(path.read_bytes())
            damage(data, page)
            path.write_bytes(bytes(data))
            before = _digest(path)
            companions = _companions(path)
            try:
                from portwatch.log.store import Store

                with Store.open(path):
                    out["not_refused"].append(name)
            except StoreDamagedError:
                out["refused"] += 1
            except StoreError as exc:
                out["not_refused"].append(f"{name} ({type(exc).__name__})")
            if _digest(path) != before:
                out["changed"].append(f"{name} (Store.open)")
            if _companions(path) != companions:
                out["companions_made"].append(name)
            if name in through_run:
                out["run"][name] = _portwatch_run(Path(work), state)
                if _digest(path) != before:
                    out["changed"].append(f"{name} (portwatch run)")
    return out


def _portwatch_run(work: Path, state: Path) -> dict[str, Any]:
    """``portwatch run`` on a damaged log: how it stops, and what it says."""
    secret = work / "secret"
    secret.write_text(SECRET, encoding="utf-8")
    secret.chmod(0o600)
    settings = work / "portwatch.toml"
    settings.write_text(SETTINGS.format(secret=secret, state=state), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTWATCH_")}
    done = subprocess.run(  # noqa: S603 - our own interpreter and package
        [sys.executable, "-m", "portwatch", "run", "--config", str(settings)],
        capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT_S, env=env,
    )  # fmt: skip
    return {
        "exit": done.returncode,
        "says_damaged": "is damaged" in done.stderr,
        "says_how_to_recover": "To recover" in done.stderr,
        "traceback": "Traceback (most recent call last)" in done.stderr,
        "lines": sum(line.startswith("portwatch: ") for line in done.stderr.splitlines()),
    }


def run(quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Fill, remount and damage; count what was acknowledged and then lost."""
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    episodes, per_episode = (3, 300) if quick else (20, 2000)
    problem = _namespace_problem()
    if problem is None:
        size = TMPFS_SIZE[quick]
        full = _in_namespace("full", episodes, per_episode, size)
        read_only = _in_namespace("read-only", episodes, per_episode, size)
    else:
        full = read_only = {"not_run": problem}
    damaged = _damaged(quick, seed)
    return _result(seed, episodes, full, read_only, damaged, problem)


def _result(
    seed: int,
    episodes: int,
    full: dict[str, Any],
    read_only: dict[str, Any],
    damaged: dict[str, Any],
    problem: str | None,
) -> dict[str, Any]:
    ran = [part for part in (full, read_only) if "not_run" not in part]
    crashed = sum(part.get("crashed", 0) for part in ran)
    lost = sum(part.get("lost", 0) for part in ran)
    duplicated = sum(part.get("duplicated", 0) for part in ran)
    runs = damaged["run"].values()
    # commands/run.py's EXIT_LOG_REFUSED (65), which the unit does not restart on; one line.
    run_ok = all(
        r["exit"] == 65 and r["says_how_to_recover"] and not r["traceback"] and r["lines"] == 1
        for r in runs
    )
    # Issue 4: "the caregiver is told": exactly one storage notice at the caregiver's URL per
    # episode, each then logged as delivered (so the outbox never sends it again).
    told_ok = "not_run" in full or (
        full.get("notices_received")
        == full.get("notices_logged_delivered")
        == full.get("unwritable_episodes")
    )
    parts_ok = all(
        part.get("crashed") == 0
        and part["lost"] == part["duplicated"] == part["never_written"] == 0
        and part["unwritable_episodes"] == episodes
        and part["cleared"] >= episodes
        and part["integrity"] == "ok"
        for part in ran
    )
    damaged_ok = (
        damaged["refused"] == damaged["kinds"]
        and not damaged["changed"]
        and not damaged["companions_made"]
        and run_ok
    )
    passed = problem is None and parts_ok and damaged_ok and told_ok and crashed == 0
    notes = [f"seed={seed}"]
    if problem is not None:
        notes.append(f"full and read-only: not run ({problem})")
    if "not_run" not in full:
        notes.append(
            f"full x{episodes}: {full.get('acked', '?')} acknowledged, {full.get('lost')} "
            f"lost, {full.get('duplicated')} doubled, {full.get('written_after')} written "
            f"after space returned (at most {full.get('buffered_max')} waiting); the caregiver "
            f"received {full.get('notices_received')} storage notices for "
            f"{full.get('unwritable_episodes')} episodes (sent directly, "
            f"{full.get('notice_retries')} refused and retried), "
            f"{full.get('notices_logged_delivered')} logged as delivered afterwards"
            + (f"; crashed: {full['error']}" if full.get("crashed") else "")
        )
    if "not_run" not in read_only:
        notes.append(
            f"read-only x{episodes} (remount between runs): {read_only.get('refused_clearly')} "
            f"refused saying read-only, {read_only.get('acked', '?')} acknowledged, "
            f"{read_only.get('lost')} lost, {read_only.get('duplicated')} doubled; while "
            f"running (query_only stand-in): {read_only.get('written_after')} written after"
            + (f"; crashed: {read_only['error']}" if read_only.get("crashed") else "")
        )
    notes.append(
        f"damaged: {damaged['refused']} of {damaged['kinds']} kinds refused, "
        f"{len(damaged['changed'])} altered, {len(damaged['companions_made'])} with a -wal or "
        "-shm made beside the file"
        + "".join(
            f"; `portwatch run` on '{name}': exit {r['exit']}, "
            f"{'says' if r['says_how_to_recover'] else 'does not say'} how to recover"
            + (", with a traceback" if r["traceback"] else "")
            for name, r in damaged["run"].items()
        )
    )
    return {
        "campaign": NAME,
        "tried": 2 * episodes + damaged["kinds"],
        "lost": lost if ran else None,
        "duplicated": duplicated if ran else None,
        "crashed": crashed,
        "passed": passed,
        "skipped": problem is not None,
        "seed": seed,
        "full": full,
        "read_only": read_only,
        "damaged": damaged,
        "notes": "; ".join(notes),
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    sys.exit(_child_main(sys.argv[2:]))
