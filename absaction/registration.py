"""absaction's gymnasium ids, registered the moment gymnasium is imported, without importing it here.

``import absaction`` makes ``gymnasium.make("absaction/Reach2D-v0")`` work, yet a program that uses only
the action models (``import absaction.models``: torch and NumPy) should not import gymnasium with them
(about 0.2 s, and a dependency the models do not have). So importing the package registers the ids at
once when gymnasium is already loaded, and otherwise leaves a one-shot import hook that registers them
right after gymnasium's own module has run, whoever imports it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

ENVS_MODULE = "absaction.envs"
"""The sub-package whose import registers every id (:func:`absaction.envs.register_envs`)."""


def register_when_gymnasium_loads() -> None:
    """Register absaction's ids now if gymnasium is loaded, else as soon as it is."""
    if "gymnasium" in sys.modules:
        _register()
    elif not any(isinstance(finder, _AfterGymnasium) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterGymnasium())


def _register() -> None:
    # absaction.envs registers its ids when its import completes; if it is being imported right now (it
    # imports gymnasium first), that import registers them: importing it again here would see it half-built
    if ENVS_MODULE not in sys.modules:
        importlib.import_module(ENVS_MODULE)


class _AfterGymnasium(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when ``gymnasium`` is about to be imported, it takes the spec the other
    finders give and runs :func:`_register` after the module has executed, then leaves ``sys.meta_path``."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "gymnasium":
            return None
        sys.meta_path.remove(self)  # one shot; the other finders answer below
        spec = importlib.util.find_spec(fullname)
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        execute = loader.exec_module

        def exec_then_register(module: ModuleType) -> None:
            execute(module)
            _register()

        loader.exec_module = exec_then_register  # type: ignore[method-assign]
        return spec
