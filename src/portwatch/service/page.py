"""The caregiver's page as one of the daemon's stages (web/app.py serves it).

A stage like any other: if it cannot start (its port is taken, its app fails to build) the
failure is logged and the page tried again after a backoff, while the readings, the rule and
delivery to the clinic go on (issue 21, "Stage isolation").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["Page"]

_LOGGER = logging.getLogger("portwatch.service.daemon")


class Page:
    """Serves ``make_app()`` on ``host:port`` from :meth:`run` until cancelled; :meth:`close`
    stops it. :attr:`tried` is set once the first start has succeeded or failed."""

    def __init__(self, make_app: Callable[[], web.Application], host: str, port: int) -> None:
        self._make_app = make_app
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.url: str | None = None
        self.tried = asyncio.Event()

    async def run(self) -> None:
        """Start the page and serve it until cancelled (the stage)."""
        from aiohttp import web as aioweb

        await self.close()  # a restart after a failure
        try:
            runner = aioweb.AppRunner(self._make_app(), access_log=None)
            self._runner = runner
            await runner.setup()
            await aioweb.TCPSite(runner, self._host, self._port).start()
        finally:
            self.tried.set()
        bound = runner.addresses[0]
        self.url = f"http://{self._host}:{bound[1]}/"
        _LOGGER.info("caregiver page at %s", self.url)
        await asyncio.get_running_loop().create_future()  # serve until cancelled

    async def close(self) -> None:
        """Stop serving (at stop, and before a restart)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
