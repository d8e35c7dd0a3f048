"""Asking at the terminal: a prompt with its default, asked again until the answer reads.

Kept apart from what is asked (:mod:`.answers`) so that ``--non-interactive`` runs the same
readers on flags, and tests can feed answers through a pipe.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TextIO, TypeVar

__all__ = ["Asker", "NoAnswerError"]

_T = TypeVar("_T")
# A prompt asked this many times without a readable answer gives up (a script feeding the
# wrong answers must end, not loop).
MAX_TRIES = 5


class NoAnswerError(RuntimeError):
    """The input ended, or gave no readable answer after :data:`MAX_TRIES` tries."""


class Asker:
    """Prompts on ``out``, answers from ``stdin``; secrets unechoed on a terminal."""

    def __init__(self, stdin: TextIO, out: TextIO) -> None:
        self._in = stdin
        self._out = out

    def say(self, text: str = "") -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def _line(self, prompt: str) -> str:
        self._out.write(prompt)
        self._out.flush()
        line = self._in.readline()
        if not line:
            raise NoAnswerError(f"no answer to {prompt.strip()!r} (the input ended)")
        return line.rstrip("\r\n")

    def ask(
        self, prompt: str, default: str | None, read: Callable[[str], _T], shown: str = ""
    ) -> _T:
        """Ask until ``read`` takes the answer; Enter takes ``default`` (shown in brackets,
        or ``shown`` in its place: a default that holds a password is not printed)."""
        shown = f" [{shown or default}]" if default else ""
        for _ in range(MAX_TRIES):
            answer = self._line(f"{prompt}{shown}: ").strip() or (default or "")
            if not answer:
                self.say("  an answer is needed here")
                continue
            try:
                return read(answer)
            except ValueError as exc:
                self.say(f"  {exc}")
        raise NoAnswerError(f"no readable answer to {prompt!r} after {MAX_TRIES} tries")

    def secret(self, prompt: str) -> str:
        """A secret typed or pasted: not echoed on a terminal; empty when Enter is pressed."""
        if self._in.isatty():
            return getpass.getpass(f"{prompt}: ", stream=self._out).strip()
        return self._line(f"{prompt}: ").strip()

    def number(self, count: int) -> int:
        """A row of a numbered table, 1 to ``count``; Enter takes the first (strongest)."""

        def read(text: str) -> int:
            if not (text.isascii() and text.isdigit() and 1 <= int(text) <= count):
                raise ValueError(f"{text!r}: type a number from 1 to {count}")
            return int(text)

        return self.ask("Which one is the patient's thermometer", "1", read)
