"""mkdocs hook: the CLI reference, generated from the ``absaction`` argparse parsers at build time.

A page that holds :data:`MARKER` gets, in its place, one section per command and sub-command with the
command's full ``--help`` (usage, options, defaults, epilog). The text comes from the parser the
``absaction`` script runs, so the reference cannot drift from the code.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

from absaction.cli import build_parser

MARKER = "<!-- absaction-cli-reference -->"
"""Where the generated reference goes (an HTML comment: invisible if the hook did not run)."""

HELP_WIDTH = 100
"""Columns the help text is wrapped to (argparse reads ``COLUMNS``), whatever the building terminal."""


def walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every parser below ``parser``, depth first in registration order, with its sub-command path
    (``()`` for ``absaction`` itself, ``("bench", "rl")`` for ``absaction bench rl``)."""
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
    """The reference as Markdown: a heading per command (``absaction bench rl`` one level below
    ``absaction bench``) and its help in a ``text`` block."""
    parts = []
    for path, parser in walk(build_parser()):
        name = " ".join(("absaction", *path))
        level = "#" * (2 + max(len(path) - 1, 0))
        parts.append(f"{level} `{name}`\n\n```text\n{command_help(parser)}```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, **_: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, render())
    return markdown
