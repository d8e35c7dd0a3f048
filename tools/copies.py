"""Copied code in a Python tree: runs of lines that stand again elsewhere (issue 15).

Run from the repository's root to see the rows::

    .venv/bin/python tools/copies.py [--root src/portwatch]

``tools/structure.py`` uses :func:`find` as its gate for "no copied code". It is ours, and
small, so that the gate is the same on every machine: the ``duplicates`` command of the
development machines is not installed in CI, where the rule was therefore never checked.

What counts, in each file, is its *significant lines*, read with :mod:`tokenize`: blank
lines, comments, import statements (a parenthesised list of names too: naming what one
uses is no copy) and lines of lone punctuation (``)``, ``],``) are passed over, and white
space is folded. Each significant line has two keys:

- its text, to the letter (white space folded, a trailing comment cut);
- its *shape*: names become ``N``, strings ``S``, numbers ``0``; keywords and operators
  stay. A docstring's lines, and the lines a multi-line string runs on to, keep their text
  as their shape: prose, SQL or a help text restated is the same text, not the same form,
  and a docstring saying what a piece is for sets two pieces of one form apart.

A *real copy* is a run of at least :data:`MIN_LINES` consecutive significant lines whose
texts are the same in two places; a *shape-alike* is such a run of shapes whose texts are
not all the same. A run of :data:`MIN_LINES` lines that stands in more than
:data:`MOST_PLACES` places is boilerplate (a pattern of the language, not a copy) and is
left out, counted in the report; so is, for shapes only, a run whose lines are half or more
thin (one name or value and punctuation, as in a list of strings one a line). Two places
in one file never overlap.

One row a pair of files (or a file with itself): a real row when the pair shares a real
copy, else a shape row; it names the longest such run, and how many more runs the pair
shares. Rows read ``portwatch/a.py:10-24 ~ portwatch/b.py:40-54`` with ``shape`` behind a
shape row, names relative to the root's parent folder, as ``tools/structure.py``'s
allowlists name them.
"""

from __future__ import annotations

import argparse
import io
import keyword
import sys
import time
import token
import tokenize
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Final

MIN_LINES: Final = 6
MOST_PLACES: Final = 8

# Tokens that are layout, not code: they never make a line significant.
_LAYOUT: Final = frozenset(
    {
        tokenize.NL,
        tokenize.NEWLINE,
        tokenize.COMMENT,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.ENCODING,
        tokenize.ENDMARKER,
    }
)
# From Python 3.12 on, tokenize splits an f-string into parts (its names and operators
# between them); they are put together again, so that a shape is the same on every Python.
_FSTRING_START: Final = getattr(token, "FSTRING_START", -1)
_FSTRING_END: Final = getattr(token, "FSTRING_END", -1)
_STRINGS: Final = frozenset(
    {tokenize.STRING}
    | {
        getattr(token, name)
        for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
        if hasattr(token, name)
    }
)
_IMPORTS: Final = frozenset({"import", "from"})
_PUNCTUATION: Final = frozenset(",()[]{}:")


@dataclass(frozen=True, slots=True)
class Line:
    """A significant line: its number in the file, its text and its shape."""

    number: int
    text: str
    shape: str


@dataclass(frozen=True, slots=True)
class Span:
    """Lines ``first`` to ``last`` (numbers in the file, both included) of file ``name``."""

    name: str
    first: int
    last: int

    def __str__(self) -> str:
        return f"{self.name}:{self.first}-{self.last}"


@dataclass(frozen=True, slots=True)
class Row:
    """What two files (or one file twice) share: the longest run of its kind and how many
    more runs the pair shares."""

    a: Span
    b: Span
    shape: bool
    more: int

    @property
    def pair(self) -> frozenset[str]:
        """The files, as the allowlists key them (one name when a file repeats itself)."""
        return frozenset({self.a.name, self.b.name})

    def __str__(self) -> str:
        shape = " shape" if self.shape else ""
        more = f" (+{self.more} more run{'s' if self.more > 1 else ''})" if self.more else ""
        return f"{self.a} ~ {self.b}{shape}{more}"


@dataclass(frozen=True, slots=True)
class Report:
    """Every row, real ones first, and what was passed over."""

    rows: tuple[Row, ...]
    files: int
    common: int  # runs of MIN_LINES lines (or shapes) in more than MOST_PLACES places
    unread: tuple[str, ...]  # files that are not Python tokenize can read, with why

    def head(self) -> str:
        """The count line that comes before the rows."""
        real = sum(not row.shape for row in self.rows)
        if not self.rows:
            return f"no copies ({self.files} files read)"
        return (
            f"{len(self.rows)} pairs of places ({self.files} files read): "
            f"{real} with a real copy, {len(self.rows) - real} shape-alike only"
        )

    def notes(self) -> list[str]:
        """What was passed over, said after the rows."""
        out = [f"unread: {why}" for why in self.unread]
        if self.common:
            out.append(
                f"left out: {self.common} runs of {MIN_LINES} lines or shapes that stand in "
                f"more than {MOST_PLACES} places each (boilerplate)"
            )
        return out

    def lines(self) -> list[str]:
        """The report as a person reads it: a count, one row a line, then the notes."""
        rows = (f"C{n} {row}" for n, row in enumerate(self.rows, 1))
        return [self.head(), *rows, *self.notes()]


def _fold(text: str) -> str:
    return " ".join(text.split())


def _shape(kind: int, text: str) -> str:
    if kind == tokenize.NAME:
        return text if keyword.iskeyword(text) else "N"
    if kind == tokenize.NUMBER:
        return "0"
    if kind == tokenize.STRING:
        return "S"
    return text


def _statements(tokens: Iterable[tokenize.TokenInfo]) -> Iterable[list[tokenize.TokenInfo]]:
    """The code tokens of each logical line (a statement, or a block's header)."""
    statement: list[tokenize.TokenInfo] = []
    for tok in tokens:
        if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if statement:
                yield statement
            statement = []
        elif tok.type not in _LAYOUT:
            statement.append(tok)
    if statement:
        yield statement


@dataclass(frozen=True, slots=True)
class _Token:
    """A token's kind and text, and the lines it starts and ends on."""

    kind: int
    text: str
    first: int
    last: int


def _whole(statement: Sequence[tokenize.TokenInfo]) -> Iterable[_Token]:
    """The statement's tokens, an f-string one STRING token as before Python 3.12."""
    depth = 0
    first = 0
    for tok in statement:
        if tok.type == _FSTRING_START:
            depth += 1
            first = tok.start[0] if depth == 1 else first
        elif tok.type == _FSTRING_END:
            depth -= 1
            if depth == 0:
                yield _Token(tokenize.STRING, "", first, tok.end[0])
        elif depth == 0:
            yield _Token(tok.type, tok.string, tok.start[0], tok.end[0])


def _is_import(statement: Sequence[tokenize.TokenInfo]) -> bool:
    """An import statement: the names it lists are no code to copy."""
    first = statement[0]
    return first.type == tokenize.NAME and first.string in _IMPORTS


def _is_prose(statement: Sequence[tokenize.TokenInfo]) -> bool:
    """A statement that is only a string: a docstring, whose words are its shape."""
    return all(tok.type in _STRINGS for tok in statement)


def significant_lines(source: str) -> list[Line]:
    """The lines of ``source`` that count, in order (raises tokenize.TokenError or
    SyntaxError on text that is not Python)."""
    physical = source.split("\n")  # as tokenize counts lines (splitlines also cuts at \f)
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    comment_at = {tok.start[0]: tok.start[1] for tok in tokens if tok.type == tokenize.COMMENT}
    shapes: dict[int, list[str]] = defaultdict(list)
    literal: set[int] = set()  # lines of a docstring, or a multi-line string runs on to
    code: set[int] = set()  # lines where something other than punctuation starts
    for statement in _statements(tokens):
        if _is_import(statement):
            continue
        if _is_prose(statement):
            literal.update(range(statement[0].start[0], statement[-1].end[0] + 1))
            continue
        for tok in _whole(statement):
            shapes[tok.first].append(_shape(tok.kind, tok.text))
            if tok.kind != tokenize.OP:
                code.add(tok.first)
            literal.update(range(tok.first + 1, tok.last + 1))
    lines: list[Line] = []
    for number in sorted(code | literal):
        raw = physical[number - 1] if number <= len(physical) else ""
        text = _fold(raw[: comment_at[number]] if number in comment_at else raw)
        if text:  # a blank line inside a string is blank all the same
            shape = text if number in literal else " ".join(shapes[number])
            lines.append(Line(number, text, shape))
    return lines


@dataclass(frozen=True, slots=True)
class _Run:
    """``length`` significant lines from index ``start`` of file ``a``, again from
    ``start + offset`` of file ``b`` (``a`` <= ``b`` by name)."""

    a: str
    b: str
    offset: int
    start: int
    length: int

    def overlaps(self, other: _Run) -> bool:
        return self.start < other.start + other.length and other.start < self.start + self.length


def thin(shape: str) -> bool:
    """A shape with at most one word or value besides punctuation (``S ,``, ``N ,``,
    ``else :``): an entry of a list of data, or the language's own frame."""
    return sum(part not in _PUNCTUATION for part in shape.split()) <= 1


def _runs(
    files: Mapping[str, Sequence[Line]], key: Callable[[Line], str], shapes: bool
) -> tuple[list[_Run], int]:
    """Maximal runs of at least MIN_LINES lines alike by ``key``, and how many windows of
    MIN_LINES lines were left out as too common. With ``shapes``, a window whose lines are
    thin (:func:`thin`) half or more is passed over: a list of names or strings, one a
    line, is alike in shape to every other such list."""
    places: dict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
    for name in sorted(files):
        keys = [key(line) for line in files[name]]
        thins = [shapes and thin(line.shape) for line in files[name]]
        for start in range(len(keys) - MIN_LINES + 1):
            if 2 * sum(thins[start : start + MIN_LINES]) >= MIN_LINES:
                continue
            places[tuple(keys[start : start + MIN_LINES])].append((name, start))
    seeds: dict[tuple[str, str, int], set[int]] = defaultdict(set)
    common = 0
    for found in places.values():
        if len(found) > MOST_PLACES:
            common += 1
            continue
        for (a, i), (b, j) in combinations(found, 2):
            seeds[(a, b, j - i)].add(i)
    runs: list[_Run] = []
    for (a, b, offset), starts in seeds.items():
        runs.extend(_merged(a, b, offset, sorted(starts)))
    return runs, common


def _merged(a: str, b: str, offset: int, starts: Sequence[int]) -> Iterable[_Run]:
    """Windows that follow each other on one diagonal, joined into runs; in one file a run
    is cut where it would overlap its other place."""
    first = previous = starts[0]
    for start in [*starts[1:], None]:
        if start is not None and start == previous + 1:
            previous = start
            continue
        length = previous - first + MIN_LINES
        if a == b:
            length = min(length, offset)
        if length >= MIN_LINES:
            yield _Run(a, b, offset, first, length)
        if start is not None:
            first = previous = start


def _span(files: Mapping[str, Sequence[Line]], name: str, start: int, length: int) -> Span:
    lines = files[name]
    return Span(name, lines[start].number, lines[start + length - 1].number)


def find(sources: Mapping[str, str]) -> Report:
    """The copies among ``sources`` (a file's name: its text)."""
    files: dict[str, list[Line]] = {}
    unread: list[str] = []
    for name, text in sources.items():
        try:
            files[name] = significant_lines(text)
        except (tokenize.TokenError, SyntaxError) as error:
            unread.append(f"{name}: not Python that tokenize reads ({error})")
    real, common_text = _runs(files, lambda line: line.text, shapes=False)
    alike, common_shape = _runs(files, lambda line: line.shape, shapes=True)
    by_diagonal: dict[tuple[str, str, int], list[_Run]] = defaultdict(list)
    for run in real:
        by_diagonal[(run.a, run.b, run.offset)].append(run)
    shape_only = [
        run
        for run in alike
        if not any(run.overlaps(other) for other in by_diagonal[(run.a, run.b, run.offset)])
    ]
    by_pair: dict[tuple[str, str], list[tuple[bool, _Run]]] = defaultdict(list)
    for shape, runs in ((False, real), (True, shape_only)):
        for run in runs:
            by_pair[(run.a, run.b)].append((shape, run))
    rows = []
    for found in by_pair.values():
        shape, run = min(found, key=lambda kind: (kind[0], -kind[1].length, kind[1].start))
        a = _span(files, run.a, run.start, run.length)
        b = _span(files, run.b, run.start + run.offset, run.length)
        rows.append((shape, -run.length, Row(a, b, shape, len(found) - 1)))
    rows.sort(key=lambda row: (row[0], row[1], str(row[2])))
    found_rows = tuple(row for _, _, row in rows)
    return Report(found_rows, len(sources), common_text + common_shape, tuple(unread))


def read(root: Path) -> dict[str, str]:
    """Every Python file below ``root``, named relative to the root's parent folder
    (``portwatch/log/schema.py``), as ``tools/structure.py`` names them."""
    return {
        path.relative_to(root.parent).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*.py"))
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path("src/portwatch"))
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        sys.stderr.write(f"copies: {args.root}: not a folder\n")
        return 2
    began = time.perf_counter()
    report = find(read(args.root))
    took = time.perf_counter() - began
    sys.stdout.write("".join(f"{line}\n" for line in report.lines()))
    sys.stdout.write(f"copies: {took:.2f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
