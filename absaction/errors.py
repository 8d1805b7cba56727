"""The one exception type for user mistakes.

Anything a user can fix (a wrong path, an unknown env id, a shape mismatch) raises
:class:`AbsactionError` with a message that names the problem *and* the fix. The CLI prints it as a
single line and exits with status 2; a Python caller gets an ordinary exception.
"""

from __future__ import annotations


class AbsactionError(Exception):
    """A user-facing error: ``str(err)`` is one line naming the problem and the fix."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem if fix is None else f"{problem}; {fix}")
