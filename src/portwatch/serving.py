"""Bounds on every HTTP server portwatch runs: the caregiver page and the reference inbox (#21).

aiohttp alone holds a connection that never sends a byte for its keep-alive time (an hour by
default), has no deadline for a head or body sent one byte at a time, and no cap on how many
connections it holds, so anyone who can reach a port can take every file descriptor the
process has, and then the clinic alert cannot open its socket. Here each connection passes
through :class:`_Guarded`, which follows the request framing (head, ``Content-Length`` body)
without parsing anything else, and a :class:`_Pool` per server:

- holds at most ``cap`` connections, well below the descriptor limit (:func:`connection_cap`
  keeps ``fd_reserve`` descriptors free for the log, the radio and clinic delivery), so
  ``accept()`` never meets EMFILE;
- when full, makes room by dropping the connection that has waited longest without sending
  a whole request (then the one whose last request is oldest), so a flood of idle or slow
  connections cannot keep out a caregiver whose browser sends its request at once;
- gives each head ``header_timeout_s`` and each body ``body_timeout_s``, then drops it;
- from a peer beyond loopback, holds at most ``per_peer`` connections (a device on the Wi-Fi
  crowds out only itself);
- logs what it dropped at most once a minute, one line, never per connection.

:func:`quiet_accept_errors` turns asyncio's accept-error traceback (one per pending connection
per loop pass when descriptors do run out) into one line a minute.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import math
import resource
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

__all__ = [
    "Served",
    "ServerLimits",
    "ServerStats",
    "connection_cap",
    "host_allowed",
    "quiet_accept_errors",
    "serve",
]

_LOGGER = logging.getLogger(__name__)

# The smallest cap ever used, even under a tiny descriptor limit: a page needs a few.
MIN_CONNECTIONS: Final = 8
# How often a server says what it dropped, and asyncio's accept error is let through.
LOG_EVERY_S: Final = 60.0
LISTEN_BACKLOG: Final = 1024  # the kernel caps it at net.core.somaxconn (4096 by default)
ACCEPT_BATCH: Final = 32  # connections accepted per loop pass: well under any cap
_ACCEPT_ERROR: Final = "socket.accept() out of system resource"


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """How much one server may hold, and for how long."""

    name: str  # in log lines: "web", "inbox"
    max_connections: int = 256
    fd_reserve: int = 512  # descriptors left for everything else the process does
    per_peer: int = 16  # connections one peer beyond loopback may hold
    header_timeout_s: float = 10.0  # from connecting (or the end of the last request)
    body_timeout_s: float = 20.0  # from the end of the head to the end of the body
    lifetime_s: float = 300.0  # any one connection, whatever it does
    keepalive_s: float = 5.0  # idle between requests (aiohttp's keepalive_timeout)
    max_head_bytes: int = 32 * 1024

    def handler_args(self) -> dict[str, Any]:
        """aiohttp's own per-request limits (RequestHandler keyword arguments)."""
        return {
            "keepalive_timeout": self.keepalive_s,
            "max_line_size": 8190,
            "max_field_size": 8190,
            "max_headers": 64,
            "lingering_time": 2.0,
        }


@dataclass(slots=True)
class ServerStats:
    """What a server's guard has done since it started (for tests, campaigns and logs)."""

    cap: int
    accepted: int = 0
    open: int = 0
    peak: int = 0
    evicted: int = 0
    timed_out: int = 0
    dropped_since_log: int = 0
    last_log: float = field(default=-math.inf)


def connection_cap(limits: ServerLimits) -> int:
    """``max_connections``, lowered so ``fd_reserve`` descriptors always stay free."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return limits.max_connections
    return max(MIN_CONNECTIONS, min(limits.max_connections, soft - limits.fd_reserve))


@functools.lru_cache(maxsize=1024)
def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def host_allowed(host_header: str | None, names: Iterable[str]) -> bool:
    """Whether a request's ``Host`` names this server, not a name rebound to it.

    DNS rebinding needs a name the attacker controls: an address literal (``127.0.0.1``,
    ``[::1]``, ``192.168.1.20``), ``localhost`` and the ``names`` given are this server.
    """
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):
        literal, bracket, _ = host[1:].partition("]")
        if not bracket:
            return False
        host = literal
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    host = host.rstrip(".")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host in {n.lower().rstrip(".") for n in names}
    return True


class _State(Enum):
    HEAD = "head"  # waiting for a whole request head
    BODY = "body"  # head read, body still arriving
    ACTIVE = "active"  # a whole request is in; the app answers it


class _Pool:
    """The connections one server holds; makes room by dropping the least useful."""

    def __init__(self, limits: ServerLimits, loop: asyncio.AbstractEventLoop) -> None:
        self.limits = limits
        self.loop = loop
        self.stats = ServerStats(cap=connection_cap(limits))
        # Both in the order their current wait began: the first is the next to go.
        self.pending: dict[_Guarded, None] = {}
        self.active: dict[_Guarded, None] = {}
        self.peers: dict[str, dict[_Guarded, None]] = {}

    def admit(self, conn: _Guarded) -> None:
        """Take ``conn``, first dropping one that waits longer when a bound is reached."""
        stats = self.stats
        if conn.peer is not None:
            mine = self.peers.setdefault(conn.peer, {})
            if len(mine) >= self.limits.per_peer:
                waiting = (c for c in mine if c.state is not _State.ACTIVE)
                self._drop(next(waiting, None) or next(iter(mine)), evicted=True)
            mine[conn] = None
        if stats.open >= stats.cap:
            victim = next(iter(self.pending), None) or next(iter(self.active), None)
            self._drop(victim, evicted=True)
        stats.accepted += 1
        stats.open += 1
        stats.peak = max(stats.peak, stats.open)

    def waits(self, conn: _Guarded, state: _State) -> None:
        """``conn`` enters ``state``: it goes to the back of its queue."""
        self.pending.pop(conn, None)
        self.active.pop(conn, None)
        (self.active if state is _State.ACTIVE else self.pending)[conn] = None
        if conn.peer is not None:
            mine = self.peers[conn.peer]
            del mine[conn]
            mine[conn] = None

    def remove(self, conn: _Guarded) -> None:
        """Forget ``conn`` (closed, or about to be); a second call does nothing."""
        if not conn.counted:
            return
        conn.counted = False
        self.stats.open -= 1
        self.pending.pop(conn, None)
        self.active.pop(conn, None)
        if conn.peer is not None:
            mine = self.peers.get(conn.peer, {})
            mine.pop(conn, None)
            if not mine:
                self.peers.pop(conn.peer, None)

    def drop_silent(self) -> None:
        """Close every connection that has not sent a byte (the server is stopping)."""
        for conn in [c for c in (*self.pending, *self.active) if c.inner is None]:
            self.remove(conn)
            conn.abort()

    def expired(self, conn: _Guarded) -> None:
        self._drop(conn, evicted=False)

    def _drop(self, conn: _Guarded | None, *, evicted: bool) -> None:
        if conn is None or not conn.counted:
            return  # none to drop, or already dropped (its timer fired before the close)
        if evicted:
            self.stats.evicted += 1
        else:
            self.stats.timed_out += 1
        self.stats.dropped_since_log += 1
        self.remove(conn)
        conn.abort()
        self._say()

    def _say(self) -> None:
        now = self.loop.time()
        stats = self.stats
        if now - stats.last_log < LOG_EVERY_S:
            return
        _LOGGER.warning(
            "%s: dropped %d idle or slow connection(s) (holding at most %d; %d open)",
            self.limits.name,
            stats.dropped_since_log,
            stats.cap,
            stats.open,
        )
        stats.last_log = now
        stats.dropped_since_log = 0


def _framing(head: bytes) -> int | None:
    """How many body bytes follow ``head``: 0, a Content-Length, or None for chunked.

    Anything unusual (two lengths, a length that is not digits) counts as no body: aiohttp
    refuses such a request with 400 at once, so the connection does not wait long.
    """
    length = 0
    for line in head.split(b"\n")[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            continue
        name = name.strip().lower()
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            return None
        if name == b"content-length":
            digits = value.strip()
            length = int(digits) if digits.isdigit() and len(digits) <= 18 else 0
    return length


class _Guarded(asyncio.Protocol):
    """One connection: follows where its request is, and hands every byte to aiohttp.

    aiohttp's handler (a parser, a task, timers) is made when the first byte arrives: a
    connection that never sends one, the bulk of a flood, costs only this object.
    """

    def __init__(self, make_inner: Callable[[], asyncio.Protocol], pool: _Pool) -> None:
        self._make_inner = make_inner
        self.inner: asyncio.Protocol | None = None
        self.pool = pool
        self.peer: str | None = None  # set for peers beyond loopback only
        self.state = _State.HEAD
        self.counted = False
        self._transport: asyncio.Transport | None = None
        self._head = bytearray()
        self._body_left: int | None = 0
        self._tail = b""
        self._deadline: asyncio.TimerHandle | None = None
        self._lifetime: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        host = peer[0] if isinstance(peer, tuple) and peer else ""
        self.peer = None if _is_loopback(str(host)) else str(host)
        self.pool.admit(self)
        self.counted = True
        loop = self.pool.loop
        self._lifetime = loop.call_later(self.pool.limits.lifetime_s, self._expire)
        self._enter(_State.HEAD)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pool.remove(self)
        for timer in (self._deadline, self._lifetime):
            if timer is not None:
                timer.cancel()
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.counted:
            return  # dropped; the transport is closing
        if self.inner is None:
            self.inner = self._make_inner()
            self.inner.connection_made(self._transport)  # type: ignore[arg-type]
        self._follow(data)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self.inner is None else self.inner.eof_received()

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def _expire(self) -> None:
        self.pool.expired(self)

    def _enter(self, state: _State) -> None:
        if not self.counted:
            return
        self.state = state
        self.pool.waits(self, state)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        limits = self.pool.limits
        if state is not _State.ACTIVE:
            wait = limits.header_timeout_s if state is _State.HEAD else limits.body_timeout_s
            self._deadline = self.pool.loop.call_later(wait, self._expire)

    def _follow(self, data: bytes) -> None:
        """Move through head, body, answer, next head, as the bytes say."""
        view = memoryview(data)
        while view and self.counted:  # a connection dropped mid-way reads no further
            if self.state is _State.ACTIVE:
                self._head.clear()
                self._enter(_State.HEAD)
            follow = self._follow_head if self.state is _State.HEAD else self._follow_body
            view = follow(view)

    def _follow_head(self, view: memoryview) -> memoryview:
        start = max(0, len(self._head) - 3)
        self._head += view
        crlf, lf = self._head.find(b"\r\n\r\n", start), self._head.find(b"\n\n", start)
        found = [i + size for i, size in ((crlf, 4), (lf, 2)) if i >= 0]
        if not found:
            if len(self._head) > self.pool.limits.max_head_bytes:
                self.pool.expired(self)
            return view[len(view) :]
        end = min(found)
        rest = memoryview(bytes(self._head[end:]))
        self._body_left = _framing(bytes(self._head[:end]))
        self._head.clear()
        self._tail = b""
        self._enter(_State.ACTIVE if self._body_left == 0 else _State.BODY)
        return rest

    def _follow_body(self, view: memoryview) -> memoryview:
        if self._body_left is None:  # chunked: ends with a zero-size chunk and a blank line
            self._tail = (self._tail + bytes(view[-5:]))[-5:]
            if self._tail == b"0\r\n\r\n":
                self._enter(_State.ACTIVE)
            return view[len(view) :]
        used = min(self._body_left, len(view))
        self._body_left -= used
        if self._body_left == 0:
            self._enter(_State.ACTIVE)
        return view[used:]


class _GuardedSite(web.BaseSite):
    """A TCP site whose connections pass through one :class:`_Pool`."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, limits: ServerLimits) -> None:
        super().__init__(runner, backlog=ACCEPT_BATCH)
        self._host, self._port, self._limits = host, port, limits
        self.pool: _Pool | None = None

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        quiet_accept_errors(loop)
        server = self._runner.server
        assert server is not None
        pool = _Pool(self._limits, loop)
        self.pool = pool

        def guarded() -> asyncio.Protocol:
            return _Guarded(server, pool)

        self._server = await loop.create_server(
            guarded, self._host, self._port, backlog=self._backlog
        )
        for listening in self._server.sockets:
            # asyncio uses one number for the kernel's accept queue and for how many it
            # accepts per loop pass. A deep queue, so a flood that reconnects as fast as it
            # is dropped does not overflow it (the kernel would drop a caregiver's SYN and
            # the browser wait 1-3 s); small passes, so a caregiver's connection has its
            # request read before a pass of newcomers can push it out. listen() again on a
            # duplicate descriptor deepens the queue of the same socket.
            with socket.fromfd(listening.fileno(), listening.family, listening.type) as dup:
                dup.listen(LISTEN_BACKLOG)

    async def stop(self) -> None:
        await super().stop()
        if self.pool is not None:
            self.pool.drop_silent()  # aiohttp never saw these; its shutdown closes the rest


@dataclass(slots=True)
class Served:
    """A running server: its runner (to clean up), its port and its guard's figures."""

    runner: web.AppRunner
    port: int
    stats: ServerStats

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve(app: web.Application, host: str, port: int, limits: ServerLimits) -> Served:
    """Serve ``app`` on ``host:port`` (0: any free port) within ``limits``."""
    runner = web.AppRunner(
        app,
        access_log=None,
        logger=_ServerLog(limits.name, asyncio.get_running_loop()),
        **limits.handler_args(),
    )
    try:
        await runner.setup()
        site = _GuardedSite(runner, host, port, limits)
        await site.start()
    except BaseException:
        await runner.cleanup()  # a port taken, an app that fails to start: nothing left open
        raise
    assert site.pool is not None
    bound = runner.addresses[0]
    return Served(runner, int(bound[1]), site.pool.stats)


class _ServerLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger, at most one line a minute per kind of trouble.

    aiohttp logs every request it cannot parse with a traceback at ERROR (about 600 bytes):
    a neighbour sending junk a thousand times a second would fill the journal. Junk is said
    in one line without the traceback; anything else (a handler's bug) keeps its traceback,
    and the lines held back are counted in the next one.
    """

    def __init__(self, server: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self.server = server
        self.loop = loop
        self.last: dict[str, float] = {}
        self.hidden: dict[str, int] = {}

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if level < logging.WARNING:
            super().log(level, msg, *args, **kwargs)
            return
        exc = kwargs.get("exc_info")
        junk = isinstance(exc, HttpProcessingError)
        kind = "junk" if junk else "error"
        now = self.loop.time()
        if now - self.last.get(kind, -math.inf) < LOG_EVERY_S:
            self.hidden[kind] = self.hidden.get(kind, 0) + 1
            return
        self.last[kind] = now
        hidden = self.hidden.pop(kind, 0)
        if junk:
            super().log(
                logging.WARNING,
                "%s: refused a malformed request (%s); %d more in the last minute not shown",
                self.server,
                " ".join(str(exc).split())[:200],
                hidden,
            )
            return
        note = f" ({hidden} more such lines in the last minute not shown)" if hidden else ""
        super().log(level, f"{self.server}: {msg}{note}", *args, **kwargs)


class _AcceptErrors:
    """A loop exception handler that lets asyncio's accept error through once a minute."""

    def __init__(
        self, previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None
    ) -> None:
        self.previous = previous
        self.last = -math.inf
        self.hidden = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != _ACCEPT_ERROR:
            if self.previous is None:
                loop.default_exception_handler(context)
            else:
                self.previous(loop, context)
            return
        now = loop.time()
        if now - self.last < LOG_EVERY_S:
            self.hidden += 1
            return
        _LOGGER.error(
            "cannot accept connections: %s (%d more such errors in the last minute not shown)",
            context.get("exception"),
            self.hidden,
        )
        self.last, self.hidden = now, 0


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Log asyncio's "out of system resource" accept error as one line a minute (once per loop)."""
    current = loop.get_exception_handler()
    if not isinstance(current, _AcceptErrors):
        loop.set_exception_handler(_AcceptErrors(current))
