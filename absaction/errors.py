"""The one exception type for user mistakes.

Anything a user can fix (a wrong path, an unknown env id, a shape mismatch) raises
:class:`AbsactionError` with a message that names the problem *and* the fix. The CLI prints it as a
single line and exits with status 2; a Python caller gets an ordinary exception.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator


class AbsactionError(Exception):
    """A user-facing error: ``str(err)`` is one line naming the problem and the fix."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem if fix is None else f"{problem}; {fix}")


def one_line(error: BaseException) -> str:
    """The first non-blank line of ``str(error)`` with its whitespace collapsed, or the exception's type
    name when the message is empty: how a library's own error is quoted inside an :class:`AbsactionError`
    (a YAML or SB3 message can run over many lines of context that a one-line error must not carry)."""
    for line in str(error).splitlines():
        if line.strip():
            return " ".join(line.split())
    return type(error).__name__


def refuse_unknown_keys(
    given: Iterable[str], known: Iterable[str], what: str, *, context: str = "", fix: str | None = None
) -> None:
    """Raise :class:`AbsactionError` if ``given`` holds a key that is not in ``known``.

    Args:
        given: the keys a user or a file supplied.
        known: the keys that are accepted.
        what: what the keys are, plural-ready, e.g. ``"model option(s)"``; the problem reads
            ``unknown {what} a, b{context}``.
        context: text appended to the problem, e.g. ``" for TCVLAEConfig"`` or ``" in ppo.yml"``.
        fix: the fix; None = ``use a, b, c`` (the sorted known keys).
    """
    known = sorted(set(known))
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise AbsactionError(
            f"unknown {what} {', '.join(unknown)}{context}",
            fix if fix is not None else f"use {', '.join(known)}",
        )


# How a fix names an option: the CLI sets "cli" for the duration of a command, so the same check says
# "pass --force" at the command line and "pass force=True" to a Python caller.
_SPELLING: contextvars.ContextVar[str] = contextvars.ContextVar("absaction_option_spelling", default="python")


def option(name: str, value: str | None = None, *, python: str | None = None) -> str:
    """Spell option ``name`` (``"force"``, ``"bc_data"``) as the caller writes it: ``--force`` /
    ``--bc-data VALUE`` at the command line, ``force=True`` / ``bc_data=VALUE`` in Python.

    Args:
        name: the option's name (the Python argument or field; ``_`` becomes ``-`` in the flag).
        value: its value as typed at the command line; None for an on/off flag (``True`` in Python).
        python: the value as written in Python where it differs (``"'cpu'"``, ``"[8, 4, 2]"``).
    """
    if _SPELLING.get() == "cli":
        flag = "--" + name.replace("_", "-")
        return flag if value is None else f"{flag} {value}"
    shown = python if python is not None else ("True" if value is None else value)
    return f"{name.replace('-', '_')}={shown}"


def flag(name: str, python: str | None = None) -> str:
    """Name option ``name`` without a value, as the caller writes it: ``--lr`` at the command line, ``lr``
    (or ``python``, where the Python name differs: ``--env-kwarg`` is ``env_kwargs``) in Python."""
    if _SPELLING.get() == "cli":
        return "--" + name.replace("_", "-")
    return python if python is not None else name.replace("-", "_")


@contextlib.contextmanager
def cli_spelling() -> Iterator[None]:
    """Within this block, :func:`option` spells command-line flags."""
    token = _SPELLING.set("cli")
    try:
        yield
    finally:
        _SPELLING.reset(token)


def check_choice(value: object, options: Iterable[object], what: str) -> None:
    """Raise :class:`AbsactionError` ``unknown {what} 'value'; choose one of a, b`` unless ``value`` is one
    of ``options`` (a tuple of names, or a mapping's keys)."""
    names = list(options)
    if value not in names:
        raise AbsactionError(f"unknown {what} {value!r}", f"choose one of {', '.join(map(str, names))}")
