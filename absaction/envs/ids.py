"""Environment ids as a user writes them: every ``--env`` (and every ``env_id`` in Python) goes through
:func:`resolve_env_id`.

Besides a registered id (``Pendulum-v1``, ``absaction/Reach2D-v0``) gymnasium accepts
``module:EnvId``: ``gymnasium.make`` imports ``module`` first, which registers ``EnvId``. This is how a
user's own environment reaches every command without a change to absaction:

    >>> resolve_env_id("Pendulum-v1")
    'Pendulum-v1'
    >>> resolve_env_id("absaction.envs:absaction/Reach2D-v0")   # the module is imported first
    'absaction/Reach2D-v0'

Records (``collect.json``, ``config.json``) keep the id as the user wrote it, so that a later command in a
fresh process imports the same module again.
"""

from __future__ import annotations

import difflib
import importlib

import gymnasium as gym

from absaction.envs.pointmaze import register_robotics_for
from absaction.errors import AbsactionError, one_line

_LIST_IDS = "list the ids with `python -c 'import gymnasium; gymnasium.pprint_registry()'`"


def registered_id(env_id: str) -> str:
    """The registry part of ``env_id`` (``"pkg.mod:MyEnv-v0"`` -> ``"MyEnv-v0"``), without importing
    anything: for names derived from an id (a dataset id, a layout check)."""
    return env_id.partition(":")[2] if ":" in env_id else env_id


def resolve_env_id(env_id: str) -> str:
    """Make ``env_id`` ready for ``gymnasium.make`` / ``gymnasium.spec`` and return its registered id.

    ``module:EnvId`` imports ``module`` (as ``gymnasium.make`` does), gymnasium-robotics' maze ids load
    gymnasium-robotics; then the id must be registered.

    Args:
        env_id: ``EnvId`` or ``module:EnvId`` (``module`` a dotted module name on ``sys.path``).

    Returns:
        ``EnvId``, registered with gymnasium.

    Raises:
        AbsactionError: the module cannot be imported, or the id is not registered (with close matches).
    """
    module, _, name = env_id.rpartition(":")
    if ":" in env_id and (not module or not name or ":" in module):
        raise AbsactionError(
            f"malformed environment id {env_id!r}", "write it as EnvId or module:EnvId, e.g. my_envs:Reach-v0"
        )
    register_robotics_for(env_id)  # PointMaze_* ids exist once gymnasium-robotics (absaction[maze]) is loaded
    if module:
        try:
            importlib.import_module(module)
        except Exception as err:  # ModuleNotFoundError, or the module's own error while registering
            raise AbsactionError(
                f"cannot import module {module!r} of environment {env_id!r} ({type(err).__name__}: "
                f"{one_line(err)})",
                # a console script does not put the working folder on sys.path, so say how to
                f"put the folder that holds {module.replace('.', '/')}.py on PYTHONPATH (PYTHONPATH=. "
                "when it is the working folder) or install its package",
            ) from None
    if name in gym.registry:
        return name
    by_lower = {key.lower(): key for key in gym.registry}
    close = [by_lower[name.lower()]] if name.lower() in by_lower else []
    close = close or difflib.get_close_matches(name, list(gym.registry), n=3, cutoff=0.6)
    if close:
        fix = f"did you mean {', '.join(f'{module}:{c}' if module else c for c in close)}?"
    elif module:
        fix = f"register it in {module} with gymnasium.register(id={name!r}, entry_point=...)"
    else:
        fix = f"{_LIST_IDS}, or pass module:EnvId for an env that a module of yours registers"
    where = f" (module {module} registers no such id)" if module else ""
    raise AbsactionError(f"unknown environment id {name!r}{where}", fix)
