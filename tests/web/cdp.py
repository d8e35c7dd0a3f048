"""Headless Chromium driven over the DevTools protocol, for the tests that fill in forms.

``--dump-dom`` (browser.py) cannot type or submit; the page has no JavaScript of its own to
do it either. So these tests speak the DevTools protocol (CDP) over a WebSocket, the way
browser automation does: navigate, fill a field and submit the form as a person would
(the browser builds the POST, with its cookie and Origin header), read the navigation
history, take a screenshot. Chromium is the system edge, as in browser.py.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from .browser import CHROMIUM, FLAGS

__all__ = ["Cdp"]

START_TIMEOUT_S = 60.0  # a cold Chromium start on a busy 2-core machine
STEP_TIMEOUT_S = 30.0  # one navigation or command


class Cdp:
    """One page of one Chromium, driven by DevTools commands."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def launch(cls, profile: Path) -> AsyncIterator[Cdp]:
        """Start Chromium with ``profile`` and connect to its first page."""
        await asyncio.to_thread(profile.mkdir, parents=True, exist_ok=True)
        process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            port = await _devtools_port(profile / "DevToolsActivePort")
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as answer:
                    targets = await answer.json()
                page = next(t for t in targets if t["type"] == "page")
                async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    cdp = cls(ws)
                    await cdp.send("Page.enable")
                    yield cdp
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One command; its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        wanted = self._next_id
        await self._ws.send_json({"id": wanted, "method": method, "params": params})
        async with asyncio.timeout(STEP_TIMEOUT_S):
            while True:
                message = await self._ws.receive_json()
                if message.get("id") == wanted:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    result: dict[str, Any] = message.get("result", {})
                    return result
                if "method" in message:
                    self._events.append(message)

    async def _event(self, name: str) -> dict[str, Any]:
        async with asyncio.timeout(STEP_TIMEOUT_S):
            while True:
                for index, event in enumerate(self._events):
                    if event["method"] == name:
                        del self._events[: index + 1]
                        return event
                message = await self._ws.receive_json()
                if "method" in message:
                    self._events.append(message)

    async def phone(self, width: int = 360, height: int = 800) -> None:
        """Be a phone's screen: ``width`` CSS pixels wide, touch, mobile viewport rules."""
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=True,
        )

    async def navigate(self, url: str) -> None:
        """Open ``url`` as if typed (or scanned) and wait until the page has loaded."""
        self._events.clear()
        await self.send("Page.navigate", url=url)
        await self._event("Page.loadEventFired")

    async def evaluate(self, expression: str) -> Any:
        """Run ``expression`` in the page (from DevTools, not from the page's own scripts)."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def submit(self, form: str, fields: dict[str, str]) -> None:
        """Fill ``fields`` (by id) of the form matching selector ``form``, submit it as a
        person would, and wait for the page the server answers with."""
        self._events.clear()
        setters = "".join(
            f"document.getElementById({name!r}).value = {value!r};"
            for name, value in fields.items()
        )
        await self.evaluate(f"{setters} document.querySelector({form!r}).requestSubmit(); true")
        await self._event("Page.loadEventFired")

    async def url(self) -> str:
        return str(await self.evaluate("location.href"))

    async def history(self) -> list[str]:
        """Every URL in this tab's session history."""
        result = await self.send("Page.getNavigationHistory")
        return [str(entry["url"]) for entry in result["entries"]]

    async def text(self) -> str:
        return str(await self.evaluate("document.documentElement.outerHTML"))

    async def screenshot(self, path: Path) -> bytes:
        """The whole page as PNG, also written to ``path``."""
        result = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        data = base64.b64decode(result["data"])
        await asyncio.to_thread(path.write_bytes, data)
        return data


async def _devtools_port(path: Path) -> int:
    """The port Chromium wrote into its profile once its DevTools server listens."""
    async with asyncio.timeout(START_TIMEOUT_S):
        while True:
            with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
                text = await asyncio.to_thread(path.read_text)
                return int(text.splitlines()[0])
            await asyncio.sleep(0.05)  # waiting for another process's file, not for time
