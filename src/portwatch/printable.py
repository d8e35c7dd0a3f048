"""Text from outside (a Bluetooth name, a CSV cell, a file name) made safe for a terminal.

A neighbour's device named ``"\\x1b[1A\\x1b[2K..."`` erased the real thermometer's row in
`portwatch scan` (issue 21); a CSV file can carry the same bytes. Every place that shows
such text passes it through :func:`printable` first: characters that are not printable
(controls, escape sequences, bidirectional overrides, line separators) are shown as their
``\\x..``/``\\u....`` escape, so they are visible and do nothing.
"""

from __future__ import annotations

__all__ = ["printable", "printable_lines"]


def printable(text: object) -> str:
    """`text` (``str()`` of it) with every non-printable character written as its escape."""
    shown = str(text)
    if shown.isprintable():
        return shown
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in shown)


def printable_lines(text: str) -> str:
    """Several lines of text, each made :func:`printable`; the line ends themselves kept."""
    return "\n".join(printable(line) for line in text.split("\n"))
