"""absaction: learn abstract actions from demonstrations and let RL agents act in them.

Importing the package registers the Reach2D environments with gymnasium
(``gymnasium.make("absaction/Reach2D-v0")``) as soon as gymnasium is imported, without importing it
itself (:mod:`absaction.registration`). Heavy dependencies (torch, SB3, Minari, gymnasium) are only
imported by the sub-modules that need them, so ``import absaction`` stays fast and
``import absaction.models`` needs no gymnasium.
"""

from __future__ import annotations

__version__ = "0.1.0"  # first: the modules imported below read it

import importlib
from typing import TYPE_CHECKING, Any

from absaction.errors import AbsactionError
from absaction.registration import register_when_gymnasium_loads

register_when_gymnasium_loads()

__all__ = ["AbsactionError", "__version__", "envs"]

if TYPE_CHECKING:  # pragma: no cover - the sub-package, for type checkers and IDEs
    from absaction import envs as envs


def __getattr__(name: str) -> Any:
    """``absaction.envs`` on first use (PEP 562): importing it imports gymnasium."""
    if name == "envs":
        return importlib.import_module("absaction.envs")
    raise AttributeError(f"module 'absaction' has no attribute {name!r}")
