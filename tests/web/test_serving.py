"""Every server portwatch runs is bounded (issue 21): real sockets, real aiohttp, real page.

A neighbour on the Wi-Fi who opens connections and sends nothing, or a byte at a time, must
not take the descriptors the clinic alert needs, nor keep the caregiver out. The deadlines
here are set short so the tests wait for the server to act (EOF on the socket), not for time.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from portwatch.clock import VirtualClock
from portwatch.serving import Served, ServerLimits, host_allowed, quiet_accept_errors, serve
from portwatch.web.app import PAGE_LIMITS, WebSettings, make_app
from portwatch.web.source import ClinicTarget
from portwatch.web.view import DisplaySettings

from .conftest import TOKEN

Client = TestClient[object, object]
SHORT = ServerLimits(
    name="test", max_connections=20, header_timeout_s=0.3, body_timeout_s=0.3, per_peer=4
)
EOF_WITHIN_S = 10.0  # only bounds a hang; the server acts after SHORT's 0.3 s


async def _hello(request: web.Request) -> web.Response:
    await request.read()  # a POST's handler waits for the whole body
    return web.Response(text="hello")


async def _serve(host: str = "127.0.0.1", limits: ServerLimits = SHORT) -> Served:
    app = web.Application()
    app.router.add_get("/", _hello)
    app.router.add_post("/", _hello)
    return await serve(app, host, 0, limits)


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    running = await _serve()
    try:
        yield running
    finally:
        await running.close()


async def _get(host: str, port: int) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    try:
        async with asyncio.timeout(EOF_WITHIN_S):
            return await reader.read()
    finally:
        writer.close()


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    async with asyncio.timeout(EOF_WITHIN_S):
        try:
            return await reader.read() == b""
        except ConnectionResetError:
            return True


async def test_server_holds_at_most_its_cap_and_still_answers_when_flooded_with_idle_connections(
    served: Served,
) -> None:
    """Five times the cap in silent connections: the server holds the cap, drops the
    oldest silent ones, and a request sent at once is answered."""
    idle = [await asyncio.open_connection("127.0.0.1", served.port) for _ in range(100)]
    try:
        answer = await _get("127.0.0.1", served.port)
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(b"hello")
        assert served.stats.peak <= served.stats.cap == SHORT.max_connections
        assert served.stats.evicted >= 100 - SHORT.max_connections
    finally:
        for _, writer in idle:
            writer.close()


@pytest.mark.parametrize(
    "partial",
    [
        pytest.param(b"", id="silent"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", id="half-sent-head"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nsymptom=",
            id="half-sent-body",
        ),
    ],
)
async def test_server_closes_connection_when_head_or_body_misses_its_deadline(
    served: Served, partial: bytes
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(partial)
    try:
        assert await _closed_by_server(reader)
        assert served.stats.timed_out == 1
    finally:
        writer.close()


async def test_server_keeps_a_request_whose_body_arrives_in_pieces_in_time(served: Served) -> None:
    """The deadline is for the whole body, not each byte: a body sent in two parts within it
    is answered (the server follows Content-Length, not packets)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n\r\nab")
    await writer.drain()
    writer.write(b"cd")
    async with asyncio.timeout(EOF_WITHIN_S):
        head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 200")
    assert served.stats.timed_out == 0


def _lan_address() -> str | None:
    """One of this machine's own addresses that is not loopback (traffic stays local)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


async def test_server_holds_at_most_per_peer_connections_from_one_peer_beyond_loopback() -> None:
    """A device on the Wi-Fi crowds out only itself: its own oldest connections go."""
    address = _lan_address()
    if address is None:
        pytest.skip("no non-loopback address on this machine")
    running = await _serve(address)
    try:
        idle = [await asyncio.open_connection(address, running.port) for _ in range(12)]
        answer = await _get(address, running.port)
        assert answer.startswith(b"HTTP/1.1 200")
        assert running.stats.peak <= SHORT.per_peer
        for _, writer in idle:
            writer.close()
    finally:
        await running.close()


async def test_accept_error_logged_once_when_asyncio_reports_it_thousands_of_times(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """EMFILE in accept() made asyncio log a traceback per pending connection per loop pass
    (5,800 a second in the review); now one line a minute, without a traceback."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    quiet_accept_errors(loop)
    quiet_accept_errors(loop)  # a second server on the same loop adds no second filter
    try:
        caplog.set_level(logging.DEBUG)
        context = {
            "message": "socket.accept() out of system resource",
            "exception": OSError(24, "Too many open files"),
        }
        for _ in range(5000):
            loop.call_exception_handler(context)
        lines = [r for r in caplog.records if "accept" in r.getMessage()]
        assert len(lines) == 1
        assert lines[0].exc_info is None
        assert "Too many open files" in lines[0].getMessage()
    finally:
        loop.set_exception_handler(previous)


SERVE_UNDER_A_LOW_LIMIT = textwrap.dedent(
    """
    import asyncio, resource, socket, sys
    from aiohttp import web
    from portwatch.serving import ServerLimits, serve

    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    async def hello(request):
        return web.Response(text="hello")

    async def main():
        app = web.Application()
        app.router.add_get("/", hello)
        limits = ServerLimits(name="web", max_connections=256, fd_reserve=128)
        served = await serve(app, "127.0.0.1", 0, limits)
        print(served.port, flush=True)
        expected = int(sys.argv[1])
        async with asyncio.timeout(60):
            while served.stats.accepted < expected:
                await asyncio.sleep(0.05)
        probe = socket.socket()  # what clinic delivery needs while the flood is held
        probe.close()
        print(served.stats.cap, served.stats.peak, served.stats.accepted, flush=True)
        await served.close()

    asyncio.run(main())
    """
)
FLOOD = 600  # connections, over twice the server's descriptor limit


def test_server_never_meets_emfile_when_connections_outnumber_the_descriptor_limit(
    tmp_path: Path,
) -> None:
    """A server under a 256-descriptor limit (cap 128) takes 600 held connections from
    another process: it can still open a socket, and logs nothing per connection."""
    script = tmp_path / "serve.py"
    script.write_text(SERVE_UNDER_A_LOW_LIMIT, encoding="utf-8")
    with subprocess.Popen(
        [sys.executable, str(script), str(FLOOD)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as server:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(FLOOD)]
        try:
            out, err = server.communicate(timeout=120)
        finally:
            for sock in held:
                sock.close()
    assert server.returncode == 0, err
    cap, peak, accepted = (int(x) for x in out.split())
    assert (cap, accepted) == (256 - 128, FLOOD)
    assert peak <= cap
    assert "Traceback" not in err
    assert len(err.encode()) < 1000


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8470", True),
        ("[::1]:8470", True),
        ("192.168.1.20", True),
        ("localhost:8470", True),
        ("raspberrypi.local", True),
        ("evil.example:8470", False),
        ("127.0.0.1.evil.example", False),
        ("[::1", False),
        ("", False),
    ],
)
def test_host_allowed_only_for_address_literals_localhost_and_own_names(
    host: str, allowed: bool
) -> None:
    assert host_allowed(host, ("raspberrypi.local",)) is allowed


async def test_page_refuses_with_421_when_host_is_a_rebound_name(authed: Client) -> None:
    """Even with the cookie (it is per name, but a browser may hold it) a rebound name
    reaches nothing."""
    response = await authed.get("/", headers={"Host": "evil.example"})
    assert response.status == 421


async def test_daemon_page_limits_leave_descriptors_for_clinic_delivery(
    db_path: Path, display: DisplaySettings, target: ClinicTarget, clock: VirtualClock
) -> None:
    """The page as the daemon serves it: its cap stays below the descriptor limit with
    PAGE_LIMITS.fd_reserve to spare."""
    import resource

    app = make_app(db_path, WebSettings(token=TOKEN), display, target, clock)
    running = await serve(app, "127.0.0.1", 0, PAGE_LIMITS)
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert running.stats.cap <= soft - PAGE_LIMITS.fd_reserve or running.stats.cap == 8
        answer = await _get("127.0.0.1", running.port)
        assert answer.startswith(b"HTTP/1.1 401")
    finally:
        await running.close()


async def test_page_answers_for_its_own_names_and_refuses_others_when_named(
    db_path: Path, display: DisplaySettings, target: ClinicTarget, clock: VirtualClock
) -> None:
    """A Pi reached as pi.home.arpa (its web.address) or by a name it is given answers;
    a rebound name gets 421 before the token is even looked at."""
    settings = WebSettings(token=TOKEN, host="pi.home.arpa", host_names=("kitchen-pi.local",))
    app = make_app(db_path, settings, display, target, clock)
    running = await serve(app, "127.0.0.1", 0, PAGE_LIMITS)
    try:
        statuses = {}
        for name in ("pi.home.arpa", "kitchen-pi.local", "evil.example", "127.0.0.1"):
            reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
            writer.write(
                f"GET / HTTP/1.1\r\nHost: {name}:8470\r\nConnection: close\r\n\r\n".encode()
            )
            async with asyncio.timeout(EOF_WITHIN_S):
                statuses[name] = int((await reader.readline()).split()[1])
            writer.close()
        assert statuses == {
            "pi.home.arpa": 401, "kitchen-pi.local": 401, "evil.example": 421, "127.0.0.1": 401
        }  # fmt: skip
    finally:
        await running.close()


async def test_malformed_requests_logged_as_one_line_when_sent_a_hundred_times(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp logs each request it cannot parse with a traceback at ERROR; a neighbour's
    junk at a thousand a second would fill the journal. One line, no traceback."""
    caplog.set_level(logging.DEBUG)
    junk = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n"
    for _ in range(100):
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(junk)
        async with asyncio.timeout(EOF_WITHIN_S):
            assert b" 400 " in await reader.readline()
        writer.close()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1
    assert loud[0].exc_info is None
    assert "malformed request" in loud[0].getMessage()
    assert "\n" not in loud[0].getMessage()


async def test_server_answers_each_request_when_they_share_a_kept_alive_connection(
    served: Served,
) -> None:
    """The guard follows requests one after another on one connection (a POST's body, then
    a GET, sent in one write): both answered, nothing dropped."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n\r\nabcd"
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    heads = []
    async with asyncio.timeout(EOF_WITHIN_S):
        for _ in range(2):
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            await reader.readexactly(len(b"hello"))
    writer.close()
    assert [h.split(b"\r\n", 1)[0] for h in heads] == [b"HTTP/1.1 200 OK"] * 2
    assert (served.stats.evicted, served.stats.timed_out) == (0, 0)


async def test_handler_bug_keeps_its_traceback_once_a_minute_when_it_repeats(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A real bug in a handler is still logged with its traceback, but a neighbour who
    finds it cannot turn it into a log storm."""

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    app = web.Application()
    app.router.add_get("/", broken)
    running = await serve(app, "127.0.0.1", 0, SHORT)
    caplog.set_level(logging.DEBUG)
    try:
        for _ in range(20):
            assert (await _get("127.0.0.1", running.port)).startswith(b"HTTP/1.1 500")
    finally:
        await running.close()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1
    assert loud[0].exc_info is not None
    assert "a bug" in str(loud[0].exc_info[1])
