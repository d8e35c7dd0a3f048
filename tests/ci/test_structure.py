"""tools/structure.py on small trees written for each rule: one that breaks it must fail,
a clean one must pass (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).parents[2] / "tools" / "structure.py"
# The development machines' duplicates command is left out: it is shown to people, it is
# not the gate (tools/copies.py is, on every machine), and CI does not have it.
NO_DUPLICATES = "portwatch-no-such-duplicates-command"


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A package ``pkg`` under ``tmp_path/src`` holding ``files`` (relative path: text)."""
    root = tmp_path / "src" / "pkg"
    root.mkdir(parents=True)
    (root / "__init__.py").write_text('"""A package."""\n')
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def function(name: str, lines: int) -> str:
    """A function of exactly ``lines`` lines, each body line different, here and in any
    other function of another name (so that the copy check finds nothing)."""
    body = "".join(f"    {name}{i} = {i} * {i + 3}\n" for i in range(lines - 2))
    return f"def {name}() -> int:\n{body}    return 0\n"


def misses(structure: ModuleType, root: Path, duplicates: str = NO_DUPLICATES) -> list[str]:
    return [str(miss) for miss in structure.check(root, "pkg", duplicates)]


def test_clean_tree_passes_and_exits_0(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "a.py": '"""A."""\n\nfrom pkg import b\n\n\ndef twice(x: int) -> int:\n'
            "    return b.once(x) * 2\n",
            "b.py": '"""B."""\n\n\ndef once(x: int) -> int:\n    return x + 1\n',
        },
    )
    done = subprocess.run(
        [sys.executable, str(TOOL), "--root", str(root), "--package", "pkg"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert "meets every target" in done.stdout


def test_module_over_600_lines_fails(structure: ModuleType, tmp_path: Path) -> None:
    text = "".join(f"V{i} = {i}\n" for i in range(601))
    root = tree(tmp_path, {"big.py": text})
    assert any("module has 601 lines (at most 600)" in m for m in misses(structure, root))


def test_module_of_600_lines_passes(structure: ModuleType, tmp_path: Path) -> None:
    text = "".join(f"V{i} = {i}\n" for i in range(600))
    root = tree(tmp_path, {"big.py": text})
    assert misses(structure, root) == []


def test_function_over_60_lines_fails(structure: ModuleType, tmp_path: Path) -> None:
    root = tree(tmp_path, {"f.py": function("long", 61) + "\n\n" + function("short", 60)})
    found = misses(structure, root)
    assert len(found) == 1
    assert "function pkg.f.long has 61 lines (at most 60)" in found[0]


def test_method_over_60_lines_fails(structure: ModuleType, tmp_path: Path) -> None:
    method = "".join(f"    {line}\n" for line in function("m", 61).splitlines())
    root = tree(tmp_path, {"c.py": f"class C:\n{method}"})
    assert any("function pkg.c.m has 61 lines" in m for m in misses(structure, root))


def test_class_over_400_lines_fails(structure: ModuleType, tmp_path: Path) -> None:
    methods = "".join(
        "".join(f"    {line}\n" for line in function(f"m{k}", 50).splitlines()) for k in range(8)
    )
    root = tree(tmp_path, {"c.py": f"class Big:\n{methods}"})
    assert any("class pkg.c.Big has 401 lines (at most 400)" in m for m in misses(structure, root))


def test_import_cycle_fails_and_names_its_modules(structure: ModuleType, tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "a.py": "from pkg import b\n",
            "b.py": "from pkg.sub import c\n",
            "sub/__init__.py": "",
            "sub/c.py": "from .. import a\n",
        },
    )
    assert misses(structure, root) == ["pkg.a: import cycle: pkg.a <-> pkg.b <-> pkg.sub.c"]


def test_imports_in_functions_or_under_type_checking_make_no_cycle(
    structure: ModuleType, tmp_path: Path
) -> None:
    root = tree(
        tmp_path,
        {
            "a.py": "from pkg import b\n",
            "b.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
            "    from pkg import a\n\n\ndef later() -> None:\n    import pkg.a\n",
        },
    )
    assert misses(structure, root) == []


def test_import_in_a_try_block_at_module_level_counts(
    structure: ModuleType, tmp_path: Path
) -> None:
    root = tree(
        tmp_path,
        {
            "a.py": "import pkg.b\n",
            "b.py": "try:\n    import pkg.a\nexcept ImportError:\n    pass\n",
        },
    )
    assert misses(structure, root) == ["pkg.a: import cycle: pkg.a <-> pkg.b"]


def copied_body(name: str) -> str:
    return (
        f"def {name}(readings: list[float], limit: float) -> list[float]:\n"
        "    kept = []\n"
        "    for value in readings:\n"
        "        if value > limit:\n"
        "            kept.append(value * 1.8 + 32)\n"
        "        elif value < -limit:\n"
        "            kept.append(-value)\n"
        "    total = sum(kept)\n"
        "    return [v / total for v in kept]\n"
    )


def test_a_copied_function_fails(structure: ModuleType, tmp_path: Path) -> None:
    root = tree(tmp_path, {"a.py": copied_body("one"), "b.py": copied_body("one")})
    found = misses(structure, root)
    assert any("pkg/a.py" in m and "pkg/b.py" in m and "a real copy" in m for m in found), found


def test_a_shape_alike_pair_passes_and_is_printed_with_its_reason(
    structure: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15 allows shape-alike rows; they are shown, so a person can still judge them."""
    other = copied_body("two").replace("1.8", "9.5").replace("kept", "chosen")
    root = tree(tmp_path, {"a.py": copied_body("one"), "b.py": other})
    assert misses(structure, root) == []
    assert f"[allowed: {structure.SHAPE_REASON}]" in capsys.readouterr().out


def test_a_real_copy_passes_only_when_its_pair_is_allowed_with_a_reason(
    structure: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tree(tmp_path, {"a.py": copied_body("one"), "b.py": copied_body("one")})
    assert any("a real copy" in m for m in misses(structure, root))
    allowed = {frozenset({"pkg/a.py", "pkg/b.py"}): "a test's reason"}
    monkeypatch.setattr(structure, "ALLOWED_COPIES", allowed)
    assert misses(structure, root) == []


def test_copies_are_checked_where_the_duplicates_command_is_absent(
    structure: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CI has no duplicates command: the gate is tools/copies.py there as everywhere."""
    root = tree(tmp_path, {"a.py": copied_body("one"), "b.py": copied_body("one")})
    found = misses(structure, root, NO_DUPLICATES)
    assert found == ["copies: pkg/a.py:1-9 ~ pkg/b.py:1-9: a real copy"], found
    out = capsys.readouterr().out
    assert "copies (tools/copies.py) says:" in out
    assert "NOT checked" not in out
    assert NO_DUPLICATES not in out


def test_a_missed_target_exits_1_with_the_list(tmp_path: Path) -> None:
    root = tree(tmp_path, {"f.py": function("long", 70)})
    done = subprocess.run(
        [sys.executable, str(TOOL), "--root", str(root), "--package", "pkg"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "1 target(s) missed" in done.stdout
    assert "function pkg.f.long has 70 lines (at most 60)" in done.stdout


def keyword_call(head: str, source: str) -> str:
    """A call of six keyword arguments, one a line, after ``head`` (unlike the other's)."""
    fields = ("device", "kind", "value", "unit", "celsius", "time")
    arguments = "".join(f"    {field}={source}.{field},\n" for field in fields)
    return f"{head}(\n{arguments})\n"


def test_keyword_argument_lists_alike_in_shape_pass_with_their_reason(
    structure: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = keyword_call("import sys\n\nFIRST = make", "sys")
    b = keyword_call("import os\n\nassert os.sep\nprint(build", "os") + ")\n"
    root = tree(tmp_path, {"a.py": a, "b.py": b})
    assert misses(structure, root) == []
    assert structure.KEYWORD_REASON in capsys.readouterr().out


def test_the_same_names_in_two_import_lists_are_passed_over(
    structure: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed = ("alpha", "beta", "gamma", "delta", "eps", "zeta")
    names = "".join(f"    {name},\n" for name in listed)
    root = tree(
        tmp_path,
        {
            "m.py": "".join(
                f"{n} = 1\n" for n in ("alpha", "beta", "gamma", "delta", "eps", "zeta")
            ),
            "a.py": f"from pkg.m import (\n{names})\n\nprint(alpha)\n",
            "b.py": f"import os\nfrom pkg.m import (\n{names})\n\nassert os.sep, beta\n",
        },
    )
    assert misses(structure, root) == []
    out = capsys.readouterr().out
    assert "no copies (4 files read)" in out
    assert "pkg/a.py" not in out
