"""absaction: learn abstract actions from demonstrations and let RL agents act in them.

Importing the package registers the Reach2D environments with gymnasium
(``gymnasium.make("absaction/Reach2D-v0")``). Heavy dependencies (torch, SB3, Minari) are only
imported by the sub-modules that need them, so ``import absaction`` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"  # first: the modules imported below read it

from absaction import envs as envs  # registers the environments
from absaction.errors import AbsactionError

__all__ = ["AbsactionError", "__version__", "envs"]
