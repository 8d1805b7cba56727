"""Datasets of expert actions: read Minari datasets and OGBench npz files, cut action windows, normalise,
split.

Example:
    >>> from absaction.data import load_dataset, Normalizer, train_val_split
    >>> ds = load_dataset("data/reach2d")
    >>> windows = ds.action_windows()                           # whole episodes: (N, T, A)
    >>> windows.actions.shape, windows.factor_names
    ((16, 32, 2), ('target', 'bulge_out', 'bulge_right', 'curvature'))
    >>> train, val = windows.split_by_episode(0.1, seed=0)
    >>> len(train.actions) + len(val.actions)
    16
    >>> norm = Normalizer.fit(train.actions)                    # per action dimension
    >>> norm.mean.shape
    (2,)

Importing this package imports nothing heavy: each name loads its sub-module on first use (so the
models can use :class:`Normalizer`, NumPy only, without gymnasium); Minari is imported when a dataset is
read.
OGBench's files (:mod:`absaction.data.ogbench`) are read with numpy alone; regenerating them
(:mod:`absaction.data.ogbench_collect`) needs the ``ogbench`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from absaction.lazy import lazy_exports

# Names are resolved on first access (PEP 562): ``absaction.models`` reads the Normalizer from here and
# must not import gymnasium (which the dataset readers do) with it.
_LAZY: dict[str, str] = {
    "ActionDataset": "absaction.data.dataset",
    "Episode": "absaction.data.dataset",
    "load_dataset": "absaction.data.dataset",
    "minari_root": "absaction.data.dataset",
    "resolve_dataset_path": "absaction.data.dataset",
    "GoalMix": "absaction.data.goals",
    "GoalSampler": "absaction.data.goals",
    "Transitions": "absaction.data.goals",
    "Normalizer": "absaction.data.normalizer",
    "hindsight_pairs": "absaction.data.relabel",
    "OGBenchFile": "absaction.data.ogbench",
    "find_ogbench_file": "absaction.data.ogbench",
    "read_ogbench": "absaction.data.ogbench",
    "write_ogbench": "absaction.data.ogbench",
    "train_val_split": "absaction.data.split",
    "ActionWindows": "absaction.data.windows",
    "longest_window": "absaction.data.windows",
    "make_windows": "absaction.data.windows",
    "pad_episodes": "absaction.data.windows",
}

__all__ = [
    "ActionDataset",
    "ActionWindows",
    "Episode",
    "GoalMix",
    "GoalSampler",
    "Normalizer",
    "OGBenchFile",
    "Transitions",
    "find_ogbench_file",
    "hindsight_pairs",
    "load_dataset",
    "longest_window",
    "make_windows",
    "minari_root",
    "pad_episodes",
    "read_ogbench",
    "resolve_dataset_path",
    "train_val_split",
    "write_ogbench",
]

if TYPE_CHECKING:  # pragma: no cover - static names for type checkers and IDEs
    from absaction.data.dataset import ActionDataset, Episode, load_dataset, minari_root, resolve_dataset_path
    from absaction.data.goals import GoalMix, GoalSampler, Transitions
    from absaction.data.normalizer import Normalizer
    from absaction.data.ogbench import OGBenchFile, find_ogbench_file, read_ogbench, write_ogbench
    from absaction.data.relabel import hindsight_pairs
    from absaction.data.split import train_val_split
    from absaction.data.windows import ActionWindows, longest_window, make_windows, pad_episodes

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
