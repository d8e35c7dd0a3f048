"""The phone link as a QR code: in the terminal, and as SVG and PNG files to print or send.

segno makes the code (a maintained, pure-Python QR library: no image library needed for
PNG, typed). Error correction M (15 %) survives a smudged printout and keeps the symbol
small enough for a terminal 80 columns wide with half-block characters.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Final

__all__ = ["qr_files", "qr_terminal"]

SCALE: Final = 8  # pixels per module in the PNG: about 4 cm printed at 150 dpi
BORDER: Final = 4  # the quiet zone the standard asks for


def qr_terminal(link: str) -> str:
    """The code drawn with block characters (two rows of modules per line of text)."""
    import segno

    out = io.StringIO()
    segno.make(link, error="m", micro=False).terminal(out=out, border=BORDER, compact=True)
    return out.getvalue()


def qr_files(link: str, directory: Path, stem: str = "portwatch-phone-link") -> list[Path]:
    """Write ``stem.svg`` and ``stem.png`` into ``directory``, readable only by their owner
    (the link holds a one-time code); when run through sudo, owned by the person who ran it,
    so they can open them. Returns the paths."""
    import segno

    code = segno.make(link, error="m", micro=False)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in ("svg", "png"):
        path = directory / f"{stem}.{kind}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            code.save(file, kind=kind, scale=SCALE, border=BORDER)
        uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
        if os.geteuid() == 0 and uid and gid and uid.isdigit() and gid.isdigit():
            os.chown(path, int(uid), int(gid))
        written.append(path)
    return written
