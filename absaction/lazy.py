"""Names of a package resolved on first use (PEP 562), so that importing a light part of a package
(a configuration read by the CLI's parser) does not import torch, SB3 or Minari with it.

A package lists where each public name lives and hands the two module hooks this builds to Python::

    _LAZY = {"fit": "absaction.train.runs", "TrainConfig": "absaction.train.config"}
    __getattr__, __dir__ = lazy_exports(__name__, _LAZY)

The first access imports the sub-module and caches the name in the package, so later accesses are plain
attribute look-ups.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the module ``package`` whose public ``names`` map to the
    sub-modules that define them."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # cache: the next access skips __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
