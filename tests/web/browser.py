"""Headless Chromium for the caregiver page's browser tests (issue 8), shared by the test
against `make_app` and the one against the whole daemon on the virtual radio.

The browser is a real system edge (Debian's chromium, installed by tests/system-deps).
Chromium runs once per step with --dump-dom or --screenshot; steps that share a profile
share its cookie jar, as a phone's browser would.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
import zlib
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
BROWSER_TIMEOUT_S = 60.0  # a cold Chromium start on a busy 2-core machine takes seconds

# A test that needs the browser fails without it, never skips (conftest.chromium_installed).
needs_chromium = pytest.mark.usefixtures("chromium_installed")


async def chromium(profile: Path, *args: str) -> str:
    """Run one headless Chromium step with `profile`; its stdout (the DOM for --dump-dom)."""
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(BROWSER_TIMEOUT_S):
            stdout, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return stdout.decode("utf-8", "replace")


def png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB/RGBA PNG (no image library)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", b""
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        data = png[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat += data
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    assert colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        filter_type = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            up_left = previous[i - bpp] if i >= bpp else 0
            if filter_type == 1:
                line[i] = (line[i] + left) & 0xFF
            elif filter_type == 2:
                line[i] = (line[i] + up) & 0xFF
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


def colour_count(png: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct RGB colours of a screenshot."""
    width, height, rows = png_pixels(png)
    step = 3 if rows and len(rows[0]) == width * 3 else 4
    colours = {row[i : i + 3] for row in rows for i in range(0, len(row), step)}
    return width, height, len(colours)
