"""Every code block of the README, CONTRIBUTING.md and the documentation site (``docs/``) is exercised.

- ``python`` blocks execute, each in a fresh folder that holds the tiny dataset and model of
  ``./conftest.py`` (``data/reach2d``, ``runs/tcvlae``: the paths the examples use).
- Every command of a ``bash`` block is checked: ``absaction ...`` by the real argparse parser (an unknown
  flag or choice fails) and ``absaction bench`` also by every ``--agent``'s ``absaction rl`` flags;
  ``python -m benchmarks.rl ...`` (a study) by the study's parser and, for the RL study, its sweep
  configuration (agent and task names); ``python benchmarks/NAME.py ...`` by the script's own parser;
  ``pip install -e ".[...]"`` may name only extras that pyproject.toml defines; anything else must be a
  tool this file knows.
- A ``bash`` block marked ``run`` executes its ``absaction`` commands at a tiny scale: budgets (episodes,
  steps, epochs) are cut down and every other flag is kept, so the quick tour works, not only parses.
- ``yaml`` blocks parse; one marked ``hyperparams=ALGO`` is resolved by the hyperparameter loader, which
  refuses keys the algorithm does not take.
- ``text`` blocks are output and diagrams; nothing else may appear.

A mark is an HTML comment on the line above a fence (invisible on GitHub and on the site), e.g.
``<!-- docs-test: run slow -->``: ``continue`` runs the block in the folder (and, for Python, the
namespace) of the block before it on the same page, for a block that needs data from the block above;
``slow`` marks a long run; ``run`` and ``hyperparams=ALGO`` as above; ``run verbatim`` marks the README's
plug-in recipe, which ``tests/test_readme.py`` runs exactly as written (budgets included) and checks.

The README's Python tour runs in ``tests/test_readme.py``; a block with the same text is not run twice.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import dataclasses
import importlib.util
import itertools
import re
import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from absaction.cli import COMMANDS, build_parser, main
from absaction.errors import AbsactionError

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PAGES = [
    README,
    REPO / "CONTRIBUTING.md",
    REPO / "CHANGELOG.md",
    *sorted((REPO / "docs").rglob("*.md")),
    *sorted((REPO / "benchmarks").glob("*/README.md")),  # each study's commands
]
LANGUAGES = {"python", "bash", "yaml", "text"}

FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[^\s`]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
MARK = re.compile(r"^\s*<!--\s*docs-test:(?P<marks>[^>]*?)-->\s*$")

EXTERNAL_TOOLS = {"cd", "git", "minari", "mkdocs", "mypy", "ray", "ruff", "tensorboard"}
"""Commands of other projects that a bash block may show; they are not run."""

TINY_VALUES = {"--episodes": "12", "--steps": "512", "--epochs": "2", "--rl-steps": "512", "--seeds": "1"}
"""Budget flags of a ``run`` block and the values they run with."""

TINY_RL_SETTINGS = {
    "ppo": ["n_envs=1", "n_steps=16", "batch_size=16", "n_epochs=1"],
    "sac": ["n_envs=1", "learning_starts=20", "batch_size=16", "buffer_size=1000"],
    "td3": ["n_envs=1", "learning_starts=20", "batch_size=16", "buffer_size=1000"],
}
"""Hyperparameters of a tiny ``absaction rl`` run (16 decisions of one PPO env fill 512 steps of 32-step
chunks)."""


# ------------------------------------------------------------------------------------------- blocks
@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int
    lang: str
    body: str
    marks: frozenset[str]

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    def mark(self, key: str) -> str | None:
        """The value of a ``key=VALUE`` mark, or None."""
        return next((m.split("=", 1)[1] for m in self.marks if m.startswith(f"{key}=")), None)


def page_blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARK.match(before)
        indent = len(match["indent"])
        body = "".join(line[indent:] if line.strip() else line for line in match["body"].splitlines(True))
        blocks.append(
            Block(
                page,
                text.count("\n", 0, match.start()) + 1,
                match["lang"],
                body,
                frozenset(mark["marks"].split()) if mark else frozenset(),
            )
        )
    return blocks


BLOCKS = [block for page in PAGES for block in page_blocks(page)]


def chains(blocks: list[Block]) -> list[list[Block]]:
    """Blocks grouped so that every ``continue`` block follows the one before it on its page."""
    grouped: list[list[Block]] = []
    for block in blocks:
        if "continue" in block.marks:
            assert grouped and grouped[-1][-1].page == block.page, f"{block.where}: nothing to continue"
            grouped[-1].append(block)
        else:
            grouped.append([block])
    return grouped


def readme_tour() -> str:
    """The README's Python tour, which tests/test_readme.py runs."""
    section = README.read_text(encoding="utf-8").split("### In Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the README's quick tour has no Python block"
    return match.group(1)


def executed_chains() -> list[Any]:
    """The chains that run (a Python block first, or a ``run`` bash block), each distinct text once."""
    params, seen = [], {readme_tour()}
    for chain in chains(BLOCKS):
        first = chain[0]
        if not (first.lang == "python" or (first.lang == "bash" and "run" in first.marks)):
            continue
        if "verbatim" in first.marks:  # run as written, and checked, by tests/test_readme.py
            continue
        key = "\n".join(b.body for b in chain)
        if key in seen:
            continue
        seen.add(key)
        marks = [pytest.mark.slow] if any("slow" in b.marks for b in chain) else []
        params.append(pytest.param(chain, id=first.where, marks=marks))
    return params


def bash_commands(body: str) -> Iterator[list[str]]:
    """The commands of a bash block: continuation lines joined, comments dropped, ``&&`` chains split."""
    for line in body.replace("\\\n", " ").splitlines():
        command: list[str] = []
        for token in shlex.split(line, comments=True):
            if token in ("&&", "||", ";"):
                if command:
                    yield command
                command = []
            else:
                command.append(token)
        if command:
            yield command


def without_env_assignments(argv: list[str]) -> list[str]:
    """``PYTHONPATH=. absaction ...`` -> ``absaction ...``."""
    while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", argv[0]):
        argv = argv[1:]
    return argv


# ------------------------------------------------------------------------------------ command checks
def defined_extras() -> set[str]:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^([\w-]+)\s*=", section, re.M))


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser`` and of its sub-commands."""
    options = set(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= option_strings(sub)
    return options


def check_spelt_out(parser: argparse.ArgumentParser, args: list[str], where: str) -> None:
    """argparse accepts ``--step`` for ``--steps``; a page spells every flag out."""
    options = option_strings(parser)
    for token in args:
        flag = token.split("=", 1)[0]
        if flag.startswith("--") and flag != "--" and flag not in options:
            pytest.fail(f"{where}: {flag} is not a flag of its command (an abbreviation or a typo)")


def check_absaction(args: list[str], where: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    try:
        namespace = parser.parse_args(args)
    except SystemExit as stop:
        if stop.code == 0:  # --help, --version
            return
        error = capsys.readouterr().err.strip()
        pytest.fail(f"{where}: `absaction {shlex.join(args)}` does not parse: {error}")
    check_spelt_out(parser, args, where)
    if namespace.command == "bench":
        from absaction.cli.bench import agent_config

        for text in namespace.agents:
            agent_config(text)  # the agent's `absaction rl` flags, by rl's own parser


def check_study(study: str, args: list[str], where: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m benchmarks.STUDY ARGS``: parsed by the study's own parser (run from the checkout); the
    RL study's sweep configuration is built and checked too (agent and task names, sizes)."""
    module = importlib.import_module(f"benchmarks.{study}.cli")
    parser = module.build_parser()
    try:
        namespace = parser.parse_args(args)
    except SystemExit as stop:
        if stop.code == 0:
            return
        error = capsys.readouterr().err.strip()
        pytest.fail(f"{where}: `python -m benchmarks.{study} {shlex.join(args)}` does not parse: {error}")
    check_spelt_out(parser, args, where)
    if study == "rl":
        config = module.config_from_args(namespace)
        config.data = config.model = None  # folders of a finished sweep need not exist here
        config.validate()


class _Parsed(Exception):
    """Raised right after a benchmark script's parser accepted its arguments."""


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def check_script(
    path: Path,
    args: list[str],
    where: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Let ``path``'s ``main(args)`` parse its arguments with its own parser, then stop it."""
    assert path.is_file(), f"{where}: {path.relative_to(REPO)} does not exist"
    module = load_script(path)
    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self: argparse.ArgumentParser, argv: Any = None, *a: Any, **kw: Any) -> Any:
        parse(self, argv, *a, **kw)
        check_spelt_out(self, list(argv), where)
        raise _Parsed

    with monkeypatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
        try:
            module.main(args)
        except _Parsed:
            return
        except SystemExit as stop:
            if stop.code == 0:
                return
            pytest.fail(f"{where}: `{path.name} {shlex.join(args)}`: {capsys.readouterr().err.strip()}")
    pytest.fail(f"{where}: {path.name}'s main() returned without parsing its arguments")


def check_command(
    argv: list[str], where: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = without_env_assignments(argv)
    tool, args = argv[0], argv[1:]
    if tool == "absaction":
        check_absaction(args, where, capsys)
    elif tool in ("python", "python3") and args[:2] in (["-m", "venv"], ["-m", "pytest"]):
        pass
    elif tool in ("python", "python3") and args[:1] == ["-m"] and args[1].startswith("benchmarks."):
        check_study(args[1].split(".", 1)[1], args[2:], where, capsys)
    elif tool in ("python", "python3") and args and args[0].startswith("benchmarks/"):
        check_script(REPO / args[0], args[1:], where, monkeypatch, capsys)
    elif tool == "pip":
        assert args[0] == "install", f"{where}: pip {args[0]}"
        for spec in args[1:]:
            extras = re.fullmatch(r"\.\[(?P<extras>[\w,-]+)\]", spec)
            if extras:
                unknown = set(extras["extras"].split(",")) - defined_extras()
                assert not unknown, f"{where}: pip extras {sorted(unknown)} are not in pyproject.toml"
    elif tool in (".", "source"):
        assert args == [".venv/bin/activate"], f"{where}: {shlex.join(argv)}"
    else:
        assert tool in EXTERNAL_TOOLS, f"{where}: unknown command {shlex.join(argv)!r}"


# ----------------------------------------------------------------------------------- tiny-scale runs
def flag_value(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None


def tiny(argv: list[str]) -> list[str]:
    """An ``absaction`` command with its budgets cut down to :data:`TINY_VALUES`, every other flag kept."""
    out = [TINY_VALUES.get(argv[i - 1], token) if i else token for i, token in enumerate(argv)]
    command = out[1]
    if command == "train":
        out += [] if "--epochs" in out else ["--epochs", TINY_VALUES["--epochs"]]
    if command == "rl":
        for setting in TINY_RL_SETTINGS[flag_value(out, "--algo") or "ppo"]:
            out += ["--set", setting]
        out += ["--eval-episodes", "2", "--no-progress"]
    if command in ("train", "rl") and "--threads" not in out:
        out += ["--threads", "1"]
    return out


def run_bash(block: Block, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in bash_commands(block.body):
        assert argv[0] == "absaction", f"{block.where}: a run block runs absaction commands only: {argv}"
        command = tiny(argv)
        code = main(command[1:])
        captured = capsys.readouterr()
        assert code == 0, f"{block.where}: `{shlex.join(command)}` exited {code}: {captured.err.strip()}"


# ---------------------------------------------------------------------------------------------- tests
def test_every_block_is_found_and_has_a_known_language() -> None:
    assert {b.page.name for b in BLOCKS} >= {"README.md", "getting-started.md", "agents.md"}
    unknown = [f"{b.where} ```{b.lang}" for b in BLOCKS if b.lang not in LANGUAGES]
    assert unknown == [], "label every block python, bash, yaml or text"
    marks = {m.split("=", 1)[0] for b in BLOCKS for m in b.marks}
    assert marks <= {"continue", "slow", "run", "verbatim", "hyperparams"}, marks


def test_a_block_that_continues_follows_one_that_runs() -> None:
    for chain in chains(BLOCKS):
        for before, block in itertools.pairwise(chain):
            assert before.lang == "python" or "run" in before.marks, (
                f"{block.where} continues {before.where}, which does not run"
            )


def test_the_readme_tour_is_the_one_test_readme_runs() -> None:
    tours = [b for b in BLOCKS if b.lang == "python" and b.body == readme_tour()]
    assert tours and tours[0].page == README


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "bash"], ids=lambda b: b.where)
def test_every_command_parses(
    block: Block, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    commands = list(bash_commands(block.body))
    assert commands, f"{block.where}: an empty bash block"
    for argv in commands:
        check_command(argv, block.where, monkeypatch, capsys)


def test_a_wrong_flag_or_choice_fails_the_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = "absaction rl --env absaction/Reach2D-v0 --algo ppo --actions latent --model runs/x --out o"
    check_command(shlex.split(good), "here", monkeypatch, capsys)
    failed, refused = pytest.fail.Exception, AbsactionError
    for bad, error in (
        (good.replace("--algo ppo", "--algo a2c"), failed),  # a choice argparse does not offer
        (good + " --chunks 8", failed),  # a flag that does not exist
        ("absaction colect --env Pendulum-v1 --out o", failed),  # a command that does not exist
        (
            "python -m benchmarks.rl --agents ppo ppo-latnet --out o",
            refused,
        ),  # an agent the study does not know
        ('absaction bench --tasks Pendulum-v1 --agent "p=--algo a2c" --out o', refused),  # not rl's flags
        ("python -m benchmarks.vae --modles tcvlae", failed),  # a study's flag misspelt
        ("python benchmarks/bench_env_speed.py --step 30000", failed),  # a script's flag misspelt
        ('pip install -e ".[maze,robots]"', AssertionError),  # an extra pyproject.toml does not define
        ("rm -rf data", AssertionError),  # a command this file does not know
    ):
        with pytest.raises(error):
            check_command(shlex.split(bad), "here", monkeypatch, capsys)


def test_tiny_keeps_every_flag_and_cuts_the_budgets() -> None:
    argv = shlex.split("absaction rl --env Pendulum-v1 --algo sac --steps 100000 --out runs/x")
    assert tiny(argv) == [
        "absaction", "rl", "--env", "Pendulum-v1", "--algo", "sac", "--steps", "512", "--out", "runs/x",
        "--set", "n_envs=1", "--set", "learning_starts=20", "--set", "batch_size=16",
        "--set", "buffer_size=1000",
        "--eval-episodes", "2", "--no-progress", "--threads", "1",
    ]  # fmt: skip
    assert tiny(["absaction", "collect", "--episodes", "400", "--out", "d"])[3] == "12"


@pytest.mark.parametrize("chain", executed_chains())
def test_every_example_runs(
    chain: list[Block],
    doctest_assets: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if chain[0].lang == "python":  # the examples' paths: the tiny dataset and model of ./conftest.py
        for rel in ("data/reach2d", "runs/tcvlae"):
            shutil.copytree(doctest_assets / rel, tmp_path / rel)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    for block in chain:
        if block.lang == "python":
            exec(compile(block.body, block.where, "exec"), namespace)
        else:
            run_bash(block, capsys)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "yaml"], ids=lambda b: b.where)
def test_every_yaml_block_loads(block: Block, tmp_path: Path) -> None:
    from absaction.agents.hyperparams import SECTIONS, load_hyperparams

    table = yaml.safe_load(block.body)
    algo = block.mark("hyperparams")
    if algo is None:
        return
    path = tmp_path / f"{algo}.yml"
    path.write_text(block.body, encoding="utf-8")
    for env_id, entry in table.items():
        for kind in ("primitive", *(k for k in entry if k in SECTIONS)):
            load_hyperparams(env_id, algo, kind, path=path)  # unknown keys are refused


def test_every_python_example_imports_what_it_uses() -> None:
    """A reader copies one example at a time: each (with the blocks it continues) defines or imports every
    name it uses."""
    undefined = {}
    for chain in chains([b for b in BLOCKS if b.lang == "python"]):
        tree = ast.parse("\n".join(b.body for b in chain))
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
            undefined[chain[0].where] = sorted(used - defined)
    assert undefined == {}


# -------------------------------------------------------------------------------- the site's parts
def test_cli_reference_holds_every_command_with_its_full_help() -> None:
    hook = load_script(REPO / "docs" / "hooks" / "cli_reference.py")
    assert hook.MARKER in (REPO / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    text = hook.render()
    parsers = dict(hook.walk(build_parser()))
    assert {path[0] for path in parsers if path} == set(COMMANDS)
    assert ("bench",) in set(parsers)
    # the skill model's own section follows `absaction train` and belongs to it
    assert "### `absaction train --model skill`" in text and "--horizon H" in text
    sections = re.split(r"^#+ `absaction(?![^`]*--model skill)[^`]*`$", text, flags=re.M)[1:]
    assert len(sections) == len(parsers)
    for section, (path, parser) in zip(sections, parsers.items(), strict=True):
        assert f"usage: {' '.join(('absaction', *path))}" in section
        for action in parser._actions:
            for option in action.option_strings:
                assert option in section, (path, option)
        if parser.epilog:
            assert parser.epilog.strip().splitlines()[0].strip() in section, path
    assert "NAME=FLAGS" in text  # absaction bench's agents
    studies = hook.render_studies()
    for command in ("python -m benchmarks.rl", "python -m benchmarks.vae", "python -m benchmarks.skills"):
        assert f"### `{command}`" in studies and f"usage: {command}" in studies
    assert "ppo-skill-bc-noprior" in studies  # the RL study's agent table
    assert hook.STUDIES_MARKER in (REPO / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")


def test_every_figure_a_page_shows_is_a_committed_result() -> None:
    hook = load_script(REPO / "docs" / "hooks" / "results_figures.py")
    served = {
        f"{hook.SITE_FOLDER}/{png.relative_to(REPO / hook.RESULTS).as_posix()}" for png in hook.figures(REPO)
    }
    shown = []
    for page in PAGES:
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", page.read_text(encoding="utf-8")):
            if page == README:
                assert (REPO / target).is_file(), target
                continue
            site_path = (page.parent / target).resolve().relative_to(REPO / "docs").as_posix()
            assert site_path in served, f"{page.relative_to(REPO)}: {target}"
            shown.append(site_path)
    assert len(shown) >= 10


def test_no_page_describes_the_development_machine() -> None:
    for page in PAGES:
        text = " ".join(page.read_text(encoding="utf-8").split()).lower()
        for phrase in ("development machine", "machines like ours", "paper notes that come with"):
            assert phrase not in text, f"{page.relative_to(REPO)}: {phrase!r}"
