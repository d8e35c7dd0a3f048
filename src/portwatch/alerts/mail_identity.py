"""One ``Message-ID`` per notice, the same on every attempt, for e-mail sent by Apprise (issue 19).

Delivery is at least once: an e-mail the mail server accepted just before a crash (or a
timeout) is sent again after the restart, and e-mail has no ntfy X-Sequence-ID. A stable
``Message-ID`` derived from the outbox row lets the receivers that de-duplicate by it
(many mail stores and clients do; nothing obliges them to) show the notice once.

Apprise (2.3) adds headers given as ``+Header=value`` or ``headers=``, but its e-mail
plugin always sets its own random ``Message-ID`` after them
(``apprise/plugins/email/base.py``: ``base["Message-ID"] = make_msgid(domain=smtp_host)``),
so a ``Message-ID`` header of ours would make two, which servers refuse (RFC 5322 §3.6:
at most one). Apprise has no option for it; so the one name its e-mail module calls,
``make_msgid``, is wrapped: while this thread sends a notice under :func:`pinned_message_id`,
it answers ``<portwatch.ROW-ID@SMTP-HOST>``; otherwise it is Apprise's own. The wrapper is
per thread (sends of two channels run in two threads at once) and installed once. Should a
later Apprise stop calling it, mail goes out as before, with Apprise's random id (a test
against the real mail server would fail and say so).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from typing import Final

__all__ = ["message_id_for", "pinned_message_id"]

# A row id as it may stand left of the "@" (RFC 5322 dot-atom-text, kept simple).
_ROW_ID: Final = re.compile(r"[-_A-Za-z0-9]{1,64}")
_PINNED: Final = threading.local()
_INSTALL: Final = threading.Lock()
_installed: list[Callable[..., str]] = []  # Apprise's own make_msgid, once wrapped


def message_id_for(row_id: str, domain: str) -> str | None:
    """The ``Message-ID`` of the notice in outbox row ``row_id`` (None for an id that
    cannot stand in one: Apprise's random id is kept then)."""
    if not _ROW_ID.fullmatch(row_id):
        return None
    host = domain if re.fullmatch(r"[-.A-Za-z0-9]{1,253}", domain or "") else "portwatch"
    return f"<portwatch.{row_id}@{host}>"


def _make_msgid(idstring: str | None = None, domain: str | None = None) -> str:
    row_id = getattr(_PINNED, "row_id", None)
    made = message_id_for(row_id, domain or "") if row_id is not None else None
    return made if made is not None else _installed[0](idstring=idstring, domain=domain)


def _install() -> bool:
    """Wrap Apprise's e-mail ``make_msgid`` (once); False when it is not where it was."""
    from apprise.plugins.email import base

    with _INSTALL:
        if not _installed:
            original = getattr(base, "make_msgid", None)
            if not callable(original):
                return False
            _installed.append(original)
            setattr(base, "make_msgid", _make_msgid)  # noqa: B010 (typed as not exported)
    return True


@contextlib.contextmanager
def pinned_message_id(row_id: str) -> Iterator[None]:
    """While the block runs on this thread, e-mail built by Apprise carries ``row_id``'s
    ``Message-ID`` (:func:`message_id_for`)."""
    _install()
    _PINNED.row_id = row_id
    try:
        yield
    finally:
        _PINNED.row_id = None
