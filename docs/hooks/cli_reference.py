"""mkdocs hook: the CLI reference, generated from the argparse parsers at build time.

A page that holds :data:`MARKER` gets, in its place, one section per ``absaction`` command and
sub-command with the command's full ``--help`` (usage, options, defaults, epilog); one that holds
:data:`STUDIES_MARKER` gets the same for the entry points of the project's studies
(``python -m benchmarks.NAME``, run from a checkout). The text comes from the parsers the commands run,
so the reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from absaction.cli import build_parser
from absaction.cli.train import TrainParser

MARKER = "<!-- absaction-cli-reference -->"
"""Where the generated reference goes (an HTML comment: invisible if the hook did not run)."""
STUDIES_MARKER = "<!-- studies-cli-reference -->"
"""Where the studies' entry points go."""
STUDIES: tuple[str, ...] = ("rl", "vae", "skills")
"""The studies of ``benchmarks/``, each with a ``cli.build_parser()``."""
REPO = Path(__file__).resolve().parents[2]

HELP_WIDTH = 100
"""Columns the help text is wrapped to (argparse reads ``COLUMNS``), whatever the building terminal."""


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every parser below ``parser``, depth first in registration order, with its sub-command path
    (``()`` for ``absaction`` itself, ``("bench",)`` for ``absaction bench``)."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*path, name))


def command_help(parser: argparse.ArgumentParser) -> str:
    """``parser``'s ``--help`` text at :data:`HELP_WIDTH` columns, without colour."""
    saved = {key: os.environ.get(key) for key in ("COLUMNS", "NO_COLOR")}
    os.environ["COLUMNS"] = str(HELP_WIDTH + 2)  # argparse wraps to COLUMNS - 2
    os.environ["NO_COLOR"] = "1"
    try:
        return parser.format_help().rstrip() + "\n"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def render() -> str:
    """The reference as Markdown: a heading per command (a sub-command one level below its command) and its
    help in a ``text`` block."""
    parts = []
    for path, parser in walk(build_parser()):
        name = " ".join(("absaction", *path))
        level = "#" * (2 + max(len(path) - 1, 0))
        parts.append(f"{level} `{name}`\n\n```text\n{command_help(parser)}```\n")
        if path == ("train",):  # the skill model's own parser: its options and defaults
            skill = TrainParser("skill", prog=parser.prog)
            parts.append(f"### `{name} --model skill`\n\n```text\n{command_help(skill)}```\n")
    return "\n".join(parts)


def study_parsers() -> dict[str, argparse.ArgumentParser]:
    """``python -m benchmarks.NAME`` -> its parser, for every study (imported from the checkout)."""
    if str(REPO) not in sys.path:  # the studies are not installed: they import from the repository
        sys.path.insert(0, str(REPO))
    return {
        f"python -m benchmarks.{name}": importlib.import_module(f"benchmarks.{name}.cli").build_parser()
        for name in STUDIES
    }


def render_studies() -> str:
    """The studies' entry points as Markdown: a heading and the full help of each."""
    return "\n".join(
        f"### `{command}`\n\n```text\n{command_help(parser)}```\n"
        for command, parser in study_parsers().items()
    )


def on_page_markdown(markdown: str, **_: Any) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, render())
    if STUDIES_MARKER in markdown:
        markdown = markdown.replace(STUDIES_MARKER, render_studies())
    return markdown
