"""The one exception type for user mistakes.

Anything a user can fix (a wrong path, an unknown env id, a shape mismatch) raises
:class:`AbsactionError` with a message that names the problem *and* the fix. The CLI prints it as a
single line and exits with status 2; a Python caller gets an ordinary exception.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator


class AbsactionError(Exception):
    """A user-facing error: ``str(err)`` is one line naming the problem and the fix."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem if fix is None else f"{problem}; {fix}")


# How a fix names an option: the CLI sets "cli" for the duration of a command, so the same check says
# "pass --force" at the command line and "pass force=True" to a Python caller.
_SPELLING: contextvars.ContextVar[str] = contextvars.ContextVar("absaction_option_spelling", default="python")


def option(name: str, value: str | None = None) -> str:
    """Spell option ``name`` (``"force"``, ``"bc_data"``) as the caller writes it: ``--force`` /
    ``--bc-data VALUE`` at the command line, ``force=True`` / ``bc_data=VALUE`` in Python."""
    if _SPELLING.get() == "cli":
        flag = "--" + name.replace("_", "-")
        return flag if value is None else f"{flag} {value}"
    return f"{name.replace('-', '_')}={'True' if value is None else value}"


@contextlib.contextmanager
def cli_spelling() -> Iterator[None]:
    """Within this block, :func:`option` spells command-line flags."""
    token = _SPELLING.set("cli")
    try:
        yield
    finally:
        _SPELLING.reset(token)
