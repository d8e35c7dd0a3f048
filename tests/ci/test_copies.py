"""tools/copies.py, the copy gate of tools/structure.py (issue 15): what makes a line count,
and what makes two places a real copy, a shape-alike, or nothing."""

from __future__ import annotations

import keyword
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

BODY = (
    "def scaled(readings: list[float], limit: float) -> list[float]:\n"
    "    kept = []\n"
    "    for value in readings:\n"
    "        if value > limit:\n"
    "            kept.append(value * 1.8 + 32)\n"
    "        elif value < -limit:\n"
    "            kept.append(-value)\n"
    "    total = sum(kept)\n"
    "    return [v / total for v in kept]\n"
)


def texts(copies: ModuleType, source: str) -> list[tuple[int, str]]:
    return [(line.number, line.text) for line in copies.significant_lines(source)]


def test_blank_lines_comments_imports_and_lone_punctuation_do_not_count(
    copies: ModuleType,
) -> None:
    source = (
        "import os\n"  # 1
        "from pkg.m import (\n"  # 2
        "    alpha,\n"  # 3
        "    beta,\n"  # 4
        ")\n"  # 5
        "\n"  # 6
        "# a comment\n"  # 7
        "X = call(\n"  # 8
        "    a,   b,  # why\n"  # 9
        "    c,\n"  # 10
        ")\n"  # 11
    )
    assert texts(copies, source) == [(8, "X = call("), (9, "a, b,"), (10, "c,")]


def test_lines_are_numbered_as_tokenize_numbers_them(copies: ModuleType) -> None:
    """A form feed is white space to Python, not the end of a line."""
    assert texts(copies, 'a = "x\fy"\r\n\fb = 2\n') == [(1, 'a = "x y"'), (2, "b = 2")]


def test_a_shape_keeps_keywords_and_operators_and_hides_names_strings_and_numbers(
    copies: ModuleType,
) -> None:
    (line,) = copies.significant_lines("if total > 3.5 and name != 'x': kept.append(None)\n")
    assert line.shape == "if N > 0 and N != S : N . N ( None )"


def test_an_f_string_is_one_string_on_every_python(copies: ModuleType) -> None:
    """Python 3.12 tokenizes an f-string in parts; its shape stays the one of 3.11."""
    source = 'x = f"a {b!r:>{width}} c" + f"""d\n{e}\n"""\n'
    shapes = [(line.number, line.shape) for line in copies.significant_lines(source)]
    assert shapes == [(1, "N = S + S"), (2, "{e}"), (3, '"""')]


def test_docstrings_and_multi_line_strings_keep_their_words_as_their_shape(
    copies: ModuleType,
) -> None:
    source = 'def f():\n    """Why f.\n\n    More."""\n    return """SELECT a\n  FROM t"""\n'
    shapes = [(line.number, line.shape) for line in copies.significant_lines(source)]
    assert shapes == [
        (1, "def N ( ) :"),
        (2, '"""Why f.'),
        (4, 'More."""'),
        (5, "return S"),
        (6, 'FROM t"""'),
    ]


def test_a_copied_function_is_a_real_copy_whatever_its_indentation_and_comments(
    copies: ModuleType,
) -> None:
    method = "".join(f"    {line}  # here\n" for line in BODY.splitlines())
    report = copies.find({"a.py": BODY, "b.py": f"import os\n\n\nclass C:\n{method}"})
    assert [str(row) for row in report.rows] == ["a.py:1-9 ~ b.py:5-13"]


def test_a_function_repeated_in_one_file_is_a_row_of_that_one_file(copies: ModuleType) -> None:
    report = copies.find({"a.py": BODY + "\n\n" + BODY.replace("scaled", "other")})
    (row,) = report.rows
    assert (str(row), row.pair) == ("a.py:2-9 ~ a.py:13-20", frozenset({"a.py"}))


def test_two_places_in_one_file_never_overlap(copies: ModuleType) -> None:
    """Twelve like lines: the run at offset 6 is 6 lines long, never 11 over itself."""
    lines = "".join(f"v = w{i % 6}\n" for i in range(12))
    (row,) = copies.find({"a.py": lines}).rows
    assert str(row) == "a.py:1-6 ~ a.py:7-12"


@pytest.mark.parametrize(("places", "rows"), [(8, 28), (9, 0)])
def test_a_run_in_more_than_8_places_is_left_out_as_boilerplate(
    copies: ModuleType, places: int, rows: int
) -> None:
    """Eight places make 28 pairs of places; a ninth makes the run the language's own."""
    report = copies.find({f"m{n}.py": BODY for n in range(places)})
    assert len(report.rows) == rows
    assert all(not row.shape for row in report.rows)
    assert (report.common > 0) == (rows == 0)


def test_lists_of_other_strings_one_a_line_are_not_alike_in_shape(copies: ModuleType) -> None:
    """Each entry is thin (a value and a comma): such lists are data, not a form copied."""

    def listed(prefix: str) -> str:
        return "__all__ = [\n" + "".join(f'    "{prefix}{n}",\n' for n in range(9)) + "]\n"

    assert copies.find({"a.py": listed("a"), "b.py": listed("b")}).rows == ()
    assert [str(row) for row in copies.find({"a.py": listed("a"), "b.py": listed("a")}).rows] == [
        "a.py:1-10 ~ b.py:1-10"
    ]


def test_a_file_that_is_not_python_is_named_unread(copies: ModuleType) -> None:
    report = copies.find({"a.py": "x = (\n", "b.py": BODY})
    assert report.rows == ()
    assert len(report.unread) == 1
    assert report.unread[0].startswith("a.py: ")


# Names for generated code: never a keyword, never one of the fixed names below.
NAMES = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name) and not keyword.issoftkeyword(name)
)
OPERATORS = st.sampled_from(["+", "-", "*", "//", "%", "<<", "&"])


@st.composite
def statements(draw: st.DrawFn, least: int, most: int) -> list[tuple[str, str, str, str]]:
    """Assignments ``target = left op right`` (or a number on the right), each to its own
    target, so that no line stands twice."""
    targets = draw(st.lists(NAMES, min_size=least, max_size=most, unique=True))
    found = []
    for target in targets:
        left = draw(NAMES)
        right = draw(NAMES | st.integers(0, 999).map(str))
        found.append((target, left, draw(OPERATORS), right))
    return found


def code(lines: list[tuple[str, str, str, str]], rename: str = "") -> str:
    """The statements as a function's body; ``rename`` appended to every name."""

    def named(word: str) -> str:
        return word if word.isdigit() else word + rename

    body = "".join(
        f"    {named(target)} = {named(left)} {operator} {named(right)}\n"
        for target, left, operator, right in lines
    )
    return f"def {named('run')}() -> None:\n{body}"


# What stands around the copy in each file: forms the generated statements never have.
AROUND_A = "assert sys.path in [1]\n\n\n"
AROUND_B = "for each in range(2):\n    print(each, end='')\n\n\n"


@given(lines=statements(6, 14))
def test_a_function_copied_into_another_file_is_always_found(
    copies: ModuleType, lines: list[tuple[str, str, str, str]]
) -> None:
    report = copies.find({"a.py": AROUND_A + code(lines), "b.py": AROUND_B + code(lines)})
    real = [row for row in report.rows if not row.shape]
    assert [row.pair for row in real] == [frozenset({"a.py", "b.py"})]
    (row,) = real
    assert (row.a.first, row.a.last) == (4, 4 + len(lines))
    assert (row.b.first, row.b.last) == (5, 5 + len(lines))


@given(lines=statements(6, 14), rename=st.sampled_from(["_x", "_renamed"]))
def test_renaming_every_name_makes_a_shape_alike_never_a_real_copy(
    copies: ModuleType, lines: list[tuple[str, str, str, str]], rename: str
) -> None:
    """No generated name holds ``_``, so a renamed name never meets an old one."""
    report = copies.find({"a.py": code(lines), "b.py": code(lines, rename)})
    assert all(row.shape for row in report.rows)
    assert frozenset({"a.py", "b.py"}) in {row.pair for row in report.rows}


@given(lines=statements(1, 5))
def test_fewer_than_6_lines_alike_are_never_a_row(
    copies: ModuleType, lines: list[tuple[str, str, str, str]]
) -> None:
    """Five lines (the ``def`` line too) copied to the letter are not enough."""
    report = copies.find({"a.py": AROUND_A + code(lines[:4]), "b.py": AROUND_B + code(lines[:4])})
    assert report.rows == ()
