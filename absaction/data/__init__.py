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

Importing this package needs numpy and gymnasium only; Minari is imported when a dataset is read.
OGBench's files (:mod:`absaction.data.ogbench`) are read with numpy alone; regenerating them
(:mod:`absaction.data.ogbench_collect`) needs the ``ogbench`` extra.
"""

from __future__ import annotations

from absaction.data.dataset import ActionDataset, Episode, load_dataset, minari_root, resolve_dataset_path
from absaction.data.normalizer import Normalizer
from absaction.data.ogbench import OGBenchFile, find_ogbench_file, read_ogbench, write_ogbench
from absaction.data.split import train_val_split
from absaction.data.windows import ActionWindows, longest_window, make_windows, pad_episodes

__all__ = [
    "ActionDataset",
    "ActionWindows",
    "Episode",
    "Normalizer",
    "OGBenchFile",
    "find_ogbench_file",
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
