"""The README stays true: its set-up commands match CI, its Python tour runs, and it stays a front door
(short, one figure, links that resolve). ``tests/test_docs.py`` checks or runs every other block in it."""

from __future__ import annotations

import ast
import builtins
import csv
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _setup_commands() -> list[str]:
    section = README.split("## Set-up: two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_two_setup_commands_demo_and_tests() -> None:
    demo, tests = _setup_commands()
    assert demo.endswith("absaction demo") and "torch==2.13.0" in demo
    assert tests.endswith("python -m pytest") and "torch==2.13.0" in tests


def test_ci_runs_the_readme_test_command() -> None:
    _, tests = _setup_commands()
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert tests in ci, "the README's test command must appear verbatim in .ci/run"


@pytest.mark.slow
def test_python_tour_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    section = README.split("### In Python", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None
    monkeypatch.chdir(tmp_path)
    exec(compile(block.group(1), "README.md", "exec"), {"__name__": "readme"})
    assert (tmp_path / "runs" / "tcvlae" / "model.safetensors").is_file()
    assert (tmp_path / "data" / "reach2d" / "data" / "main_data.hdf5").is_file()


def test_every_python_snippet_imports_what_it_uses() -> None:
    """A reader copies one snippet at a time: each block must define or import every name it uses."""
    undefined = {}
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", README, re.S)):
        tree = ast.parse(block)
        defined = set(dir(builtins))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.arg):
                defined.add(node.arg)
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        if used - defined:
            undefined[f"block {i}: {block.splitlines()[0]}"] = sorted(used - defined)
    assert undefined == {}


def test_readme_is_a_front_door() -> None:
    """Short, one figure that exists, and every relative link lands on a file of the repository."""
    assert len(README.encode()) < 16_000, "the details belong in docs/; the README links to them"
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(figures) == 1 and (REPO / figures[0]).is_file(), figures
    links = [t for t in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README) if "://" not in t]
    assert len(links) >= 10
    assert [t for t in links if not (REPO / t).exists()] == []


def test_the_recipe_section_is_the_one_the_worlds_guide_includes() -> None:
    """docs/guides/worlds.md shows the README's plug-in recipe through a snippet, never a copy."""
    start, end = "<!-- --8<-- [start:recipe] -->", "<!-- --8<-- [end:recipe] -->"
    assert README.count(start) == README.count(end) == 1
    recipe = README.split(start, 1)[1].split(end, 1)[0]
    assert "absaction collect --env Pendulum-v1" in recipe and "evaluate_lookahead" in recipe
    guide = (REPO / "docs" / "guides" / "worlds.md").read_text()
    assert '--8<-- "README.md:recipe"' in guide and "absaction collect --env Pendulum-v1" not in guide


def _recipe_blocks() -> tuple[str, str]:
    """The plug-in recipe's commands (the block marked ``run verbatim``) and the Python check after it."""
    section = README.split("<!-- docs-test: run verbatim slow -->", 1)[1]
    commands = re.search(r"```bash\n(.*?)```", section, re.S)
    check = re.search(r"<!-- docs-test: continue slow -->\n```python\n(.*?)```", section, re.S)
    assert commands is not None and check is not None
    return commands.group(1), check.group(1)


@pytest.mark.slow
def test_plug_in_recipe_runs_as_written_and_the_agent_improves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's own recipe for another env, every command exactly as written (budgets included): the
    agents update, and the latent agent's evaluated return rises over its start within the budget."""
    import shlex

    from absaction.cli import main

    commands, check = _recipe_blocks()
    monkeypatch.chdir(tmp_path)
    for line in commands.replace("\\\n", " ").splitlines():
        argv = shlex.split(line, comments=True)
        assert argv[0] == "absaction"
        assert main(argv[1:]) == 0, line
    for agent in ("runs/pendulum-sac", "runs/pendulum-sac-latent"):
        updates = (tmp_path / agent / "sb3" / "progress.csv").read_text().splitlines()
        assert len(updates) > 1, f"{agent} never updated"
    with open(tmp_path / "runs/pendulum-sac-latent/eval.csv", newline="") as f:
        returns = [float(row["mean_return"]) for row in csv.DictReader(f)]
    assert len(returns) == 11
    # the first row is the policy before learning; the last three the end of the budget
    assert min(returns[-3:]) > returns[0] + 50, returns
    exec(compile(check, "README.md", "exec"), {"__name__": "readme"})  # the lookahead check runs too
