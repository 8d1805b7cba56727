"""Datasets of expert actions: read Minari datasets, cut action windows, normalise, split.

Example:
    >>> from absaction.data import load_dataset, Normalizer, train_val_split
    >>> ds = load_dataset("data/reach2d")                      # doctest: +SKIP
    >>> windows = ds.action_windows()                           # whole episodes: (N, T, A)
    >>> train, val = windows.split_by_episode(0.1, seed=0)
    >>> norm = Normalizer.fit(train.actions)                    # per action dimension

Importing this package needs numpy and gymnasium only; Minari is imported when a dataset is read.
"""

from __future__ import annotations

from absaction.data.dataset import ActionDataset, Episode, load_dataset, minari_root, resolve_dataset_path
from absaction.data.normalizer import Normalizer
from absaction.data.split import train_val_split
from absaction.data.windows import ActionWindows, make_windows, pad_episodes

__all__ = [
    "ActionDataset",
    "ActionWindows",
    "Episode",
    "Normalizer",
    "load_dataset",
    "make_windows",
    "minari_root",
    "pad_episodes",
    "resolve_dataset_path",
    "train_val_split",
]
