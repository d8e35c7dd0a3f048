"""The code's shape (issue 15): small modules, classes and functions, no import cycles, no copies.

Run from the repository's root::

    .venv/bin/python tools/structure.py [--root src/portwatch] [--package portwatch]

Checks every module below the package's folder:

- no module over ``MODULE_MAX`` lines, no class over ``CLASS_MAX``, no function (or
  method) over ``FUNCTION_MAX``; a class or function counts from its ``def``/``class`` line
  to its last line (decorators excluded);
- no import cycle between the package's modules, counting only imports that run when the
  module is imported: at module level, in ``try``/``if``/``with`` blocks there, but not
  inside functions or classes, nor under ``if TYPE_CHECKING:``;
- no copied code, found by ``tools/copies.py`` (ours, so the gate is the same on every
  machine, CI's too) over the package's Python files: a real copy (six or more lines the
  same to the letter; blank lines, comments and imports passed over) fails unless its pair
  of files is in :data:`ALLOWED_COPIES` with a reason. Shape-alike rows (the same form
  with other names and values: field lists, signatures, keyword calls) pass, as issue 15
  allows, and are printed with why; the pairs in :data:`ALLOWED_SHAPES` carry their own
  reason. Where the ``duplicates`` command of the development machines is on PATH
  (``/work/.library/duplicates/README.md``), its rows are printed after ours, for a
  person's eyes only: they pass or fail nothing.

Exit status: 0 when every target is met, 1 with a list of what missed, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import copies  # tools/copies.py: this script's folder is on sys.path when it runs

MODULE_MAX: Final = 600
CLASS_MAX: Final = 400
FUNCTION_MAX: Final = 60

# Shape-alike pairs judged acceptable: (file, file) as ``tools/copies.py`` names them
# (relative to the package's parent folder, in either order; one name for a file that
# repeats itself) -> why the likeness is not a copy to remove.
# Line numbers are left out on purpose: they move with every edit.
ALLOWED_SHAPES: Final[dict[frozenset[str], str]] = {
    frozenset({"portwatch/ble/core.py", "portwatch/ble/hts.py"}): (
        "code tables of two Bluetooth formats (CORE quality and heart-rate states, HTS "
        "sites): each a dict of its own spec's codes and its inverse"
    ),
    frozenset({"portwatch/log/writer.py", "portwatch/sim/scenario.py"}): (
        "named constants with their reasons, then a frozen dataclass of other fields: "
        "different facts in the house's form"
    ),
    frozenset({"portwatch/service/care.py", "portwatch/sim/scenario.py"}): (
        "a named constant, then a frozen dataclass of other fields: different facts in the "
        "house's form"
    ),
    frozenset({"portwatch/ble/hts.py"}): (
        "IEEE 11073 FLOAT and SFLOAT encoders: two wire formats with their own widths, "
        "limits and error offsets"
    ),
}

# Real copies judged acceptable, with why: (file, file) as ``tools/copies.py`` names them.
ALLOWED_COPIES: Final[dict[frozenset[str], str]] = {
    frozenset({"portwatch/log/schema.py"}): (
        "a migration restates the outbox's table as it was then: migrations are frozen "
        "once released, so a later one never edits an earlier one's text"
    ),
    frozenset({"portwatch/alerts/delivery.py", "portwatch/alerts/memory_outbox.py"}): (
        "the Outbox protocol states the signature each outbox implements"
    ),
    frozenset({"portwatch/alerts/delivery.py", "portwatch/log/outbox.py"}): (
        "the Outbox protocol states the signature each outbox implements"
    ),
    frozenset({"portwatch/alerts/memory_outbox.py", "portwatch/log/outbox.py"}): (
        "two implementations of the Outbox protocol's one signature"
    ),
    frozenset({"portwatch/log/outbox.py"}): (
        "OutboxRow restates OutboxItem's fields (what was queued, read back flat with its "
        "delivery state); seen once trailing comments stopped making the lines differ, "
        "and left for one type to hold the other"
    ),
}
# Shape-alike rows pass (issue 15: "shape-alike signatures allowed"), with this reason.
SHAPE_REASON: Final = "shape-alike: the same form with other names and values"

# Shape-alike runs made only of keyword arguments, one a line (``kind=sample.kind,``): a call
# that names each field it passes looks like every other such call, whatever it builds.
# A duplicated *type* (its ``name: type`` lines) is not of this kind and is still reported.
KEYWORD_LINE: Final = re.compile(
    r"^\s*\*{0,2}\w+=.*$"  # a keyword argument
    r"|^\s*(return\s+|\w+\s*=\s*)?[\w.]+\($"  # the call it belongs to, opened
    r"|^\s*[)\]}]*,?\s*$|^\s*#"  # closing punctuation, a comment
)
KEYWORD_REASON: Final = "keyword arguments, one a line: each call names its own fields"

# The development machines' own copy finder, shown for a person's eyes where installed.
DUPLICATES_COMMAND: Final = "duplicates"
DUPLICATES_MOST: Final = 200
DUPLICATES_SECONDS: Final = 120


@dataclass(frozen=True, slots=True)
class Miss:
    """One target missed, said in a line a person can act on."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module below ``root`` by dotted name (``package.sub.mod``; a package by its own)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join([package, *parts])] = path
    return found


def size_misses(name: str, path: Path, tree: ast.Module) -> Iterator[Miss]:
    """Module, class and function lengths over their targets."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines > MODULE_MAX:
        yield Miss(str(path), f"module has {lines} lines (at most {MODULE_MAX})")
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            limit, kind = CLASS_MAX, "class"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            limit, kind = FUNCTION_MAX, "function"
        else:
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length > limit:
            where = f"{path}:{node.lineno}"
            yield Miss(where, f"{kind} {name}.{node.name} has {length} lines (at most {limit})")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: Sequence[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is imported (not in functions, classes or
    ``if TYPE_CHECKING:``)."""
    for stmt in body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            yield stmt
        elif isinstance(stmt, ast.If):
            if not _is_type_checking(stmt.test):
                yield from _module_level(stmt.body)
            yield from _module_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            for block in (stmt.body, stmt.orelse, stmt.finalbody):
                yield from _module_level(block)
            for handler in stmt.handlers:
                yield from _module_level(handler.body)
        elif isinstance(stmt, ast.With):
            yield from _module_level(stmt.body)


def imports(name: str, is_package: bool, tree: ast.Module, known: set[str]) -> set[str]:
    """The package's modules ``name`` imports at module level.

    ``from a import b`` counts as importing ``a.b`` where that is a module, else ``a``.
    """
    found: set[str] = set()
    for stmt in _module_level(tree.body):
        if isinstance(stmt, ast.Import):
            found.update(alias.name for alias in stmt.names)
            continue
        base = stmt.module or ""
        if stmt.level:
            anchor = name.split(".") if is_package else name.split(".")[:-1]
            anchor = anchor[: len(anchor) - (stmt.level - 1)]
            base = ".".join([*anchor, base]) if base else ".".join(anchor)
        for alias in stmt.names:
            child = f"{base}.{alias.name}"
            found.add(child if child in known else base)
    return {module for module in found if module in known and module != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def cycle_misses(graph: dict[str, set[str]]) -> Iterator[Miss]:
    for group in cycles(graph):
        yield Miss(group[0], "import cycle: " + " <-> ".join(group))


def _lines_match(folder: Path, side: copies.Span, pattern: re.Pattern[str]) -> bool:
    """Whether every line of a row's side matches ``pattern``."""
    try:
        text = (folder / side.name).read_text(encoding="utf-8")
    except OSError:
        return False
    lines = text.split("\n")[side.first - 1 : side.last]  # numbered as tokenize does
    return bool(lines) and all(pattern.match(line) for line in lines)


def allowed(folder: Path, row: copies.Row) -> str | None:
    """Why a row is allowed (None: it is not: a real copy no reason covers)."""
    if row.shape and (reason := ALLOWED_SHAPES.get(row.pair)):
        return reason
    if not row.shape:
        return ALLOWED_COPIES.get(row.pair)
    keywords = all(_lines_match(folder, side, KEYWORD_LINE) for side in (row.a, row.b))
    if row.more == 0 and keywords:
        return KEYWORD_REASON
    return SHAPE_REASON


def copy_misses(root: Path) -> tuple[list[str], list[Miss]]:
    """The copies below ``root`` (printed, an allowed one with its reason) and those that
    fail: real copies that no reason covers, and files that could not be read."""
    report = copies.find(copies.read(root))
    lines = [report.head()]
    misses: list[Miss] = []
    for number, row in enumerate(report.rows, 1):
        reason = allowed(root.parent, row)
        lines.append(f"C{number} {row}" + (f"  [allowed: {reason}]" if reason else ""))
        if reason is None:
            misses.append(Miss("copies", f"{row}: a real copy"))
    lines.extend(report.notes())
    misses.extend(Miss("copies", why) for why in report.unread)
    return lines, misses


def duplicates_rows(folder: Path, command: str) -> list[str]:
    """What the ``duplicates`` command says over ``folder``, where it is installed (else
    nothing): a second opinion for people, never the gate, which must be the same in CI."""
    executable = shutil.which(command)
    if executable is None:
        return []
    done = subprocess.run(  # noqa: S603 (a fixed command found on PATH, no shell)
        [
            executable,
            "--repo",
            str(folder),
            "--most",
            str(DUPLICATES_MOST),
            "--seconds",
            str(DUPLICATES_SECONDS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.splitlines()
    if done.returncode != 0:
        lines.append(f"(exited {done.returncode}: {done.stderr.strip()})")
    return lines


def check(root: Path, package: str, duplicates: str = DUPLICATES_COMMAND) -> list[Miss]:
    """Every target missed below ``root`` (the package's folder), sizes first."""
    found = modules(root, package)
    known = set(found)
    misses: list[Miss] = []
    graph: dict[str, set[str]] = {}
    for name, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        misses.extend(size_misses(name, path, tree))
        graph[name] = imports(name, path.name == "__init__.py", tree, known)
    misses.extend(cycle_misses(graph))
    rows, copied = copy_misses(root)
    sys.stdout.write("copies (tools/copies.py) says:\n" + "".join(f"  {row}\n" for row in rows))
    misses.extend(copied)
    if seen := duplicates_rows(root.parent, duplicates):
        heading = f"{duplicates} says (for a person's eyes; the gate is tools/copies.py):\n"
        sys.stdout.write(heading + "".join(f"  {row}\n" for row in seen))
    return misses


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path("src/portwatch"))
    parser.add_argument("--package", default="portwatch")
    parser.add_argument("--duplicates", default=DUPLICATES_COMMAND, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        sys.stderr.write(f"structure: {args.root}: not a folder\n")
        return 2
    misses = check(args.root, args.package, args.duplicates)
    if not misses:
        sys.stdout.write(f"structure: {args.root} meets every target\n")
        return 0
    sys.stdout.write(f"structure: {len(misses)} target(s) missed in {args.root}:\n")
    sys.stdout.write("".join(f"  {miss}\n" for miss in misses))
    return 1


if __name__ == "__main__":
    sys.exit(main())
