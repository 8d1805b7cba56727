"""The package tree a newcomer reads top to bottom: no symbolic links, no import cycle between files,
nothing imports upward through the stages of the data flow (DESIGN.md), and the project's studies
(``benchmarks/``) use the library while the library never imports them."""

from __future__ import annotations

import ast
import subprocess
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "absaction"
STUDIES = ROOT / "benchmarks"
"""The project's own studies: they import the library (and their own folder), never the reverse."""
# The stages in the order data flows; a module may import its own stage and the ones before it.
STAGES = ("envs", "data", "models", "train", "analysis", "wrappers", "agents", "offline", "bench", "cli")
# Modules at the package root that every stage may use (errors, atomic files, seeds, output records).
SHARED = {"absaction", "absaction.errors", "absaction.files", "absaction.outputs", "absaction.seeding"}


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (top level or in functions).

    ``from pkg import sub`` counts as importing ``pkg.sub`` only, the way it reads; ``from pkg import x``
    (not a module) counts as importing ``pkg``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.add(sub if sub in modules else source)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in modules and m != name}


def test_no_symbolic_links_are_tracked() -> None:
    listing = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True)
    links = [line.split()[-1] for line in listing.stdout.splitlines() if line.startswith("120000")]
    assert links == []


def test_no_import_cycle_between_files() -> None:
    modules = {**module_files(), **module_files(STUDIES)}
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    # a cycle exists iff a depth-first search meets a module still on its stack
    state: dict[str, int] = defaultdict(int)  # 0 new, 1 on the stack, 2 done
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                cycles.append([*stack[stack.index(nxt) :], node, nxt])
            elif state[nxt] == 0:
                visit(nxt, [*stack, node])
        state[node] = 2

    for name in sorted(graph):
        if state[name] == 0:
            visit(name, [])
    assert cycles == []


def test_nothing_imports_upward_through_the_stages() -> None:
    modules = module_files()
    upward = []
    for name, path in modules.items():
        parts = name.split(".")
        if len(parts) < 2 or parts[1] not in STAGES:
            continue
        own = STAGES.index(parts[1])
        for target in imports_of(name, path, modules):
            tparts = target.split(".")
            if target in SHARED or len(tparts) < 2 or tparts[1] not in STAGES:
                continue
            if STAGES.index(tparts[1]) > own:
                upward.append(f"{name} -> {target}")
    assert upward == []


def imported_names(path: Path) -> set[str]:
    """Every module name ``path`` imports by absolute name, anywhere in the file (a function's lazy import
    too), and every ``importlib.import_module("...")`` of a literal name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def test_the_library_never_imports_the_studies() -> None:
    """``benchmarks/`` may import ``absaction``; nothing in ``absaction/`` imports ``benchmarks``, so a user
    who installs the library carries none of the project's studies."""
    reverse = [
        f"{path.relative_to(ROOT)} -> {name}"
        for path in PACKAGE.rglob("*.py")
        for name in imported_names(path)
        if _top(name) == "benchmarks"
    ]
    assert reverse == []
    assert module_files(STUDIES), "the studies folder holds no module"


def test_the_import_scan_sees_lazy_and_importlib_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import importlib\n"
        "def f():\n    from benchmarks.rl import cli\n"
        "def g():\n    return importlib.import_module('benchmarks.vae')\n"
    )
    assert {"benchmarks.rl", "benchmarks.vae"} <= imported_names(module)


def test_each_study_imports_the_library_and_its_own_folder_only() -> None:
    """A study (``benchmarks/<study>/``) builds on the library; it does not reach into another study."""
    crossing = []
    for path in STUDIES.rglob("*.py"):
        parts = path.relative_to(STUDIES).parts
        own = f"benchmarks.{parts[0]}" if len(parts) > 1 else "benchmarks"
        for name in imported_names(path):
            if _top(name) == "benchmarks" and name != own and not name.startswith(own + "."):
                crossing.append(f"{path.relative_to(ROOT)} -> {name}")
    assert crossing == []


def test_package_files_stay_readable() -> None:
    """Modules of a few hundred lines; a longer one must say why in its opening comment."""
    long = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 650 and "one cohesive" not in text[:2000]:
            long.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
    assert long == []
